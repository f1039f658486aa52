#!/usr/bin/env bash
# Build (once) the loopback Sigstore services used by tests/services: Rekor v2 (rekor-tiles,
# POSIX backend), the timestamp authority, cosign as a verification peer, a real Rekor v1
# (rekor-server + Trillian, on Debian's MariaDB), Fulcio (keyless certificates for
# sigstore-python's signing API, with its ephemeral CA and a loopback OIDC issuer); and install
# the Node-based Rekor v1 stand-in (@sigstore/mock). Idempotent: a binary already present is kept.
#
# Binaries go OUTSIDE git, to ${AIRSEAL_TOOLS:-$HOME/.cache/airseal-tools}/bin; the tests find
# them there (tests/support/services.py reads the same variable).
#
# A failed build prints a note and the script goes on; it exits non-zero only when asked to be
# strict (AIRSEAL_SERVICES_STRICT=1), so scripts/setup.sh keeps working without the services.
set -uo pipefail
cd "$(dirname "$0")/.."

# Pinned versions. A binary whose NAME.version names another pin is rebuilt.
REKOR_TILES_VERSION=v2.3.0
TSA_VERSION=v2.1.3
COSIGN_VERSION=v3.1.2
REKOR_V1_VERSION=v1.5.4
TRILLIAN_VERSION=v1.7.3
FULCIO_VERSION=v1.8.8

TOOLS="${AIRSEAL_TOOLS:-$HOME/.cache/airseal-tools}"
BIN="$TOOLS/bin"
mkdir -p "$BIN"
failed=0

note() { echo "services.sh: $*" >&2; }

# build NAME MODULE_PATH@VERSION [extra go install flags...]
# Installs into a scratch GOBIN, then moves the binary to $BIN/NAME (go install names the
# binary after the last path element, which for rekor-tiles is the ambiguous "posix").
build() {
  local name="$1" pkg="$2"; shift 2
  # Present and built from this pin (first line of NAME.version): nothing to do.
  if [ -x "$BIN/$name" ] && [ "$(head -n 1 "$BIN/$name.version" 2>/dev/null)" = "$pkg" ]; then
    return 0
  fi
  if ! command -v go >/dev/null 2>&1; then
    note "go is not installed; cannot build $name (the tests that need it will skip)"
    failed=1
    return 0
  fi
  local scratch start
  scratch="$(mktemp -d)"
  start=$(date +%s)
  note "building $name from $pkg (takes minutes on 2 cores)"
  if GOBIN="$scratch" go install "$@" "$pkg" >"$scratch/build.log" 2>&1; then
    mv "$scratch/$(basename "${pkg%@*}")" "$BIN/$name"
    echo "${pkg}" >"$BIN/$name.version"
    note "built $name in $(( $(date +%s) - start ))s"
  else
    tail -n 20 "$scratch/build.log" >&2
    note "building $name failed; the tests that need it will skip"
    failed=1
  fi
  rm -rf "$scratch"
}

build rekor-tiles-posix "github.com/sigstore/rekor-tiles/v2/cmd/rekor-server/posix@${REKOR_TILES_VERSION}"
build timestamp-server "github.com/sigstore/timestamp-authority/v2/cmd/timestamp-server@${TSA_VERSION}"
# cosign with PKCS#11 key support (cgo; `--key "pkcs11:...?module-path=...&pin-value=..."`),
# so it can sign with a SoftHSM key like airseal does; without a C compiler, or if that
# build fails, the plain (pure Go) cosign still serves as a verification peer.
COSIGN_PKG="github.com/sigstore/cosign/v3/cmd/cosign@${COSIGN_VERSION}"
if [ "$(head -n 1 "$BIN/cosign.version" 2>/dev/null)" != "$COSIGN_PKG" ] && command -v cc >/dev/null 2>&1; then
  rm -f "$BIN/cosign"
  failed_before=$failed
  CGO_ENABLED=1 build cosign "$COSIGN_PKG" -tags pkcs11key
  if [ -x "$BIN/cosign" ]; then
    echo "tags: pkcs11key" >>"$BIN/cosign.version"
  else
    failed=$failed_before
    note "falling back to cosign without pkcs11key"
  fi
fi
build cosign "$COSIGN_PKG"

# A real Rekor v1: rekor-server + Trillian (log server, log signer, createtree) + MariaDB.
# rekor v1.6.x needs Go >= 1.27 (go.mod), so v1.5.4 is pinned while the machine has Go 1.26.
build rekor-server "github.com/sigstore/rekor/cmd/rekor-server@${REKOR_V1_VERSION}"
for cmd in trillian_log_server trillian_log_signer createtree; do
  build "$cmd" "github.com/google/trillian/cmd/${cmd}@${TRILLIAN_VERSION}"
done
# Fulcio (certificate authority) for keyless signing tests: `fulcio serve --ca=ephemeralca`
# with a config trusting the tests' own OIDC issuer on 127.0.0.1 (tests/support/oidc_issuer.py)
# and a CT log stand-in for its SCTs (tests/support/ct_log.py). v1.8.8 wants Go >= 1.26.
build fulcio "github.com/sigstore/fulcio@${FULCIO_VERSION}"
# Trillian's MySQL schema, kept beside the binaries (the Go module cache may be cleaned).
SCHEMA="$TOOLS/share/trillian-${TRILLIAN_VERSION}-storage.sql"
if [ ! -f "$SCHEMA" ] && command -v go >/dev/null 2>&1; then
  mkdir -p "$TOOLS/share"
  src="$(go env GOMODCACHE)/github.com/google/trillian@${TRILLIAN_VERSION}/storage/mysql/schema/storage.sql"
  if [ ! -f "$src" ]; then
    (cd "$(mktemp -d)" && go mod download "github.com/google/trillian@${TRILLIAN_VERSION}" >/dev/null 2>&1)
  fi
  if [ -f "$src" ]; then cp "$src" "$SCHEMA" && chmod 644 "$SCHEMA"; else note "no Trillian schema at $src"; failed=1; fi
fi
# MariaDB from Debian (server binaries only; the tests start their own mariadbd per use).
if ! command -v mariadbd >/dev/null 2>&1 && [ ! -x /usr/sbin/mariadbd ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  if ! { DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mariadb-server >/dev/null 2>&1 \
         || { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mariadb-server >/dev/null 2>&1; }; }; then
    note "apt-get install mariadb-server failed; the real Rekor v1 tests will skip"
    failed=1
  fi
fi

# Rekor v1 stand-in: @sigstore/mock behind a small HTTP wrapper (see server.mjs there).
MOCK_DIR=tests/support/services/rekor_v1_mock
if [ -f "$MOCK_DIR/package-lock.json" ] && [ ! -d "$MOCK_DIR/node_modules/@sigstore/mock" ]; then
  if command -v npm >/dev/null 2>&1; then
    (cd "$MOCK_DIR" && npm ci --silent --no-audit --no-fund >/dev/null 2>&1) \
      || { note "npm ci in $MOCK_DIR failed; the Rekor v1 mock tests will skip"; failed=1; }
  else
    note "npm is absent; the Rekor v1 mock tests will skip"
    failed=1
  fi
fi

if [ "$failed" != 0 ] && [ "${AIRSEAL_SERVICES_STRICT:-0}" = 1 ]; then
  exit 1
fi
exit 0
