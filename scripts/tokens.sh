#!/usr/bin/env bash
# Install the extra PKCS#11 backends used by tests/hsm/tokens_support.py; idempotent and quiet.
#   tpm2-pkcs11 over a software TPM (swtpm) behind a per-session tpm2-abrmd on a private D-Bus,
#   openCryptoki's soft token (pkcsslotd), SoftHSM2, and the client tools p11tool / pkcs11-tool.
# The tests skip (with the reason) when any of these is missing, so this script is optional
# for a developer but is run by scripts/setup.sh so CI exercises the backends.
set -euo pipefail

pkgs=(
  swtpm swtpm-tools                    # software TPM 2.0 (swtpm socket --tpm2)
  libtpm2-pkcs11-1 libtpm2-pkcs11-tools  # libtpm2_pkcs11.so and tpm2_ptool
  tpm2-tools tpm2-abrmd libtss2-tcti-tabrmd0  # resource manager + the client TCTI for it
  dbus                                 # dbus-daemon: a private session bus per test session
  opencryptoki                         # pkcsslotd + libopencryptoki.so + soft token stdll
  softhsm2                             # the default backend (also installed by setup.sh)
  gnutls-bin p11-kit opensc            # p11tool, p11-kit-proxy.so, pkcs11-tool
)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
# pkcsslotd's package postinst may try to start the service; tests start their own daemon.
# policy-rc.d (exit 101) keeps invoke-rc.d from starting it during the install.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  own_policy=1
fi
cleanup() { [ "$own_policy" = 1 ] && $SUDO rm -f "$policy"; return 0; }
trap cleanup EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
