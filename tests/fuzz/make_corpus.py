"""Seed the fuzzing corpora (tests/fuzz/corpus/<harness>/) from the test data.

    .venv/bin/python tests/fuzz/make_corpus.py [--conformance DIR]

Sources: the Sigstore conformance cases (../shared/conformance/cases, when present), the shipped
trusted roots, and a VirtualSigstore run (tests/support/virtual_sigstore.py: message, DSSE and
Rekor v2 bundles, RFC 3161 tokens when openssl is there). From each bundle the script also
extracts what the smaller harnesses read: checkpoints, certificates, timestamp tokens. Files
are named by their sha1, so a rerun adds only what is new. The committed corpus is kept small
(the script refuses to grow a harness's folder past 256 KiB; the whole stays under 2 MB).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
CORPUS = HERE / "corpus"
MAX_DIR_BYTES = 256 * 1024
MAX_SEED_BYTES = 48 * 1024

URIS = [
    "pkcs11:token=release;object=signing-key",
    "pkcs11:token=release;object=k1;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so",
    "pkcs11:manufacturer=SoftHSM%20project;serial=1234;id=%01%02?pin-source=file:/run/pin",
    "pkcs11:slot-id=3;object=a%2Fb?pin-value=1234&module-name=softhsm2",
    "pkcs11:library-manufacturer=OpenSC;library-version=0.23;model=PKCS%2315",
    "pkcs11:",
]


def _add(harness: str, data: bytes) -> None:
    if not data or len(data) > MAX_SEED_BYTES:
        return
    folder = CORPUS / harness
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / hashlib.sha1(data).hexdigest()
    if target.exists():
        return
    used = sum(p.stat().st_size for p in folder.iterdir())
    if used + len(data) > MAX_DIR_BYTES:
        return
    target.write_bytes(data)


def _from_bundle(data: bytes) -> None:
    _add("bundle", data)
    try:
        doc = json.loads(data)
    except ValueError:
        return
    if not isinstance(doc, dict):
        return
    vm = doc.get("verificationMaterial") or {}
    for cert in [vm.get("certificate") or {}, *((vm.get("x509CertificateChain") or {}).get("certificates") or [])]:
        raw = cert.get("rawBytes") if isinstance(cert, dict) else None
        if isinstance(raw, str):
            _add("certificate", base64.b64decode(raw))
    for entry in vm.get("tlogEntries") or []:
        envelope = ((entry.get("inclusionProof") or {}).get("checkpoint") or {}).get("envelope")
        if isinstance(envelope, str):
            _add("checkpoint", envelope.encode("utf-8"))
    for ts in (vm.get("timestampVerificationData") or {}).get("rfc3161Timestamps") or []:
        raw = ts.get("signedTimestamp")
        if isinstance(raw, str):
            _add("tsa", base64.b64decode(raw))


def _from_trusted_root(data: bytes) -> None:
    _add("trusted_root", data)
    try:
        doc = json.loads(data)
    except ValueError:
        return
    for ca in (doc.get("certificateAuthorities") or []) + (doc.get("timestampAuthorities") or []):
        for cert in (ca.get("certChain") or {}).get("certificates") or []:
            _add("certificate", base64.b64decode(cert["rawBytes"]))


def _pack(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _virtual() -> None:
    from tests.support.virtual_sigstore import VirtualSigstore

    vs = VirtualSigstore("fuzz")
    artifact = b"hello fuzz\n"
    bundles: list[Any] = [vs.sign_artifact(artifact), vs.sign_artifact(artifact, key_based=True)]
    for name in ("sign_dsse", "sign_intoto"):
        fn = getattr(vs, name, None)
        if fn is not None:
            try:
                bundles.append(fn(artifact))
            except Exception as exc:
                print(f"note: {name}: {exc}", file=sys.stderr)
    for bundle in bundles:
        data = bundle if isinstance(bundle, bytes) else json.dumps(bundle).encode()
        _from_bundle(data)
    _from_trusted_root(json.dumps(vs.trusted_root()).encode())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--conformance", type=Path, default=REPO.parent / "shared" / "conformance" / "cases")
    ap.add_argument("--no-virtual", action="store_true")
    args = ap.parse_args()
    for uri in URIS:
        _add("pkcs11_uri", uri.encode())
    for name in ("public-good", "staging"):
        _from_trusted_root((REPO / "trust-root" / name / "trusted_root.json").read_bytes())
    tuf = REPO.parent / "shared" / "tuf" / "sigstore-staging" / "metadata"
    if tuf.is_dir():
        small = {f"metadata/{p.name}": p.read_bytes() for p in sorted(tuf.glob("*.json")) if p.stat().st_size < 12_000}
        _add("tuf_pack", _pack(dict(list(small.items())[:3])))
    _add("tuf_pack", _pack({"metadata/1.root.json": (REPO / "trust-root" / "staging" / "root.json").read_bytes()}))
    if args.conformance.is_dir():
        for case in sorted(args.conformance.iterdir()):
            if (case / "bundle.sigstore.json").is_file():
                _from_bundle((case / "bundle.sigstore.json").read_bytes())
            if (case / "trusted_root.json").is_file():
                _from_trusted_root((case / "trusted_root.json").read_bytes())
    if not args.no_virtual:
        _virtual()
    total = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    for folder in sorted(CORPUS.iterdir()):
        print(f"{folder.name:<14} {len(list(folder.iterdir())):>4} seeds")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
