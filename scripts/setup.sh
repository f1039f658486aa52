#!/usr/bin/env bash
# Install what airseal and its tests need on a fresh Debian machine; idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v softhsm2-util >/dev/null 2>&1 || need_apt+=(softhsm2)
command -v faketime >/dev/null 2>&1 || need_apt+=(faketime)
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs npm)   # sigstore-js interop test only
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)   # gate report.html browser test only
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

# Extra PKCS#11 backends for tests/hsm/test_token_backends.py (tpm2-pkcs11 on swtpm, openCryptoki
# soft token, p11tool/pkcs11-tool); those tests skip with the reason when this could not install.
bash scripts/tokens.sh || echo "note: scripts/tokens.sh failed; the tpm2/opencryptoki token tests will skip" >&2

[ -x .venv/bin/python ] || python3 -m venv .venv
# pip runs again only when pyproject.toml changed since the last successful install (the stamp
# holds its hash): an unchanged checkout skips 2-3 s of resolver work on every test run.
stamp=.venv/.airseal-pyproject.sha256
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  if ! .venv/bin/pip install -q --disable-pip-version-check -e '.[test]' >.venv/pip-install.log 2>&1; then
    cat .venv/pip-install.log >&2
    echo "setup: pip install failed (log above)" >&2
    exit 1
  fi
  echo "$want" >"$stamp"
fi

# sigstore-js interop checker (test-only); skipped by the tests when node is absent.
if command -v npm >/dev/null 2>&1 && [ -f tests/hsm/interop/package.json ]; then
  if [ ! -d tests/hsm/interop/node_modules/@sigstore/verify ]; then
    (cd tests/hsm/interop && npm ci --silent --no-audit --no-fund >/dev/null 2>&1) \
      || echo "note: npm ci for the sigstore-js interop test failed; that test will skip" >&2
  fi
fi
# sigstore-js's signer as a producer (test-only, tests/services/test_sigstore_js_signer.py);
# installed again when its lock file is newer than the last install (a changed pin).
js_signer=tests/services/sigstore_js
if command -v npm >/dev/null 2>&1 && [ -f "$js_signer/package-lock.json" ]; then
  if [ ! -f "$js_signer/node_modules/.package-lock.json" ] \
    || [ "$js_signer/package-lock.json" -nt "$js_signer/node_modules/.package-lock.json" ]; then
    (cd "$js_signer" && npm ci --silent --no-audit --no-fund >/dev/null 2>&1) \
      || echo "note: npm ci in $js_signer failed; the sigstore-js signer tests will skip (fail when CI=true)" >&2
  fi
fi

# Loopback Sigstore services for tests/services (Rekor v2, TSA, cosign, Rekor v1 + its mock); built
# once into ${AIRSEAL_TOOLS:-~/.cache/airseal-tools}/bin. A failed build only makes those tests skip.
bash scripts/services.sh || echo "note: scripts/services.sh failed; the tests/services tests will skip" >&2
