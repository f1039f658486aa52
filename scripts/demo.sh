#!/usr/bin/env bash
# The whole story on a fresh machine: first verify a real public-good Sigstore bundle offline
# with the shipped trust root (examples/public-good, no token needed), then make a SoftHSM
# token, generate a key on it, sign a file, verify it offline (PEM key and pkcs11: URI), and
# show a tampered file rejected. Needs nothing outside this repository.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== a real public-good bundle, verified offline with the shipped trust root"
AIRSEAL_HOME="$work/home" airseal verify --bundle examples/public-good/a.txt.sigstore.json \
  --certificate-identity https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main \
  --certificate-oidc-issuer https://token.actions.githubusercontent.com examples/public-good/a.txt

module=$(ls /usr/lib/softhsm/libsofthsm2.so /usr/lib/*/softhsm/libsofthsm2.so 2>/dev/null | head -n1)
mkdir -p "$work/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$work/tokens" > "$work/softhsm2.conf"
export SOFTHSM2_CONF="$work/softhsm2.conf" AIRSEAL_PKCS11_MODULE="$module" AIRSEAL_HOME="$work/home"
printf '1234' > "$work/pin"; chmod 600 "$work/pin"
softhsm2-util --init-token --free --label demo --so-pin 5678 --pin "$(cat "$work/pin")" >/dev/null
key="pkcs11:token=demo;object=release-key?pin-source=$work/pin"

echo "== generate an EC P-256 key on the token (it never leaves it)"
airseal hsm keygen "$key" --type ec-p256
airseal hsm pubkey "$key" --out "$work/release.pub"

echo "== sign a file"
echo "hello, air gap" > "$work/app.txt"
airseal sign --key "$key" "$work/app.txt"

echo "== verify offline with the PEM key, then with the token URI"
airseal verify --key "$work/release.pub" --min-tlog-entries 0 "$work/app.txt"
airseal verify --key "pkcs11:token=demo;object=release-key" --min-tlog-entries 0 "$work/app.txt"

echo "== a tampered file is rejected (exit 1)"
echo "tampered" >> "$work/app.txt"
if airseal verify --key "$work/release.pub" --min-tlog-entries 0 "$work/app.txt"; then
  echo "BUG: tampered file accepted" >&2; exit 1
fi

echo "== demo finished"
