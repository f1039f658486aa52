#!/usr/bin/env python3
"""`airseal gate` throughput and memory, against the alternatives, on one minted tree.

Run from the repository root with the project's venv:

    .venv/bin/python benchmarks/bench_gate.py [-n 10000] [--memory 100000] [--sample 100]
                                              [--sigstore-files 2000] [--skip-memory]

The tree (cached under /tmp/airseal-bench-gate-<N>/, rebuilt only when missing) is minted by
the virtual Sigstore (tests/support/virtual_sigstore.py): real certificates, SCTs, logs and
RFC 3161 timestamps, N artifacts of 1 KiB in directories of 500:

  40 %  v1/   message signatures, Rekor v1 hashedrekord (SET + inclusion proof + checkpoint)
  30 %  v2/   message signatures, Rekor v2 hashedrekord 0.0.2 + one RFC 3161 timestamp
  30 %  att/  groups of 10 files covered by one DSSE attestation (Rekor v1 dsse entry)

Measured:
  a. `airseal gate --jobs 1` and `--jobs 2` over the whole tree (wall, artifacts/s, peak RSS);
  b. a shell loop of `airseal verify` over a sample of v1/v2 files, extrapolated to N;
  c. sigstore-python (`sigstore verify identity --offline FILE...`, one call) over up to
     --sigstore-files of the v1/v2 files, extrapolated;
  d. the crypto floor: per v1 bundle, the same checks (artifact signature, leaf <- intermediate,
     SCT, SET, checkpoint signature, inclusion proof) called directly on cryptography/hashlib,
     no parsing beyond json/base64, no policy, no I/O but the artifact read;
  e. peak RSS of `airseal gate` over --memory small key-signed artifacts (--jobs 1 and 2).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
BIN = Path(sys.executable).parent
TREE_VERSION = "1"

from benchmarks.bench_verify import run_measured

# --------------------------------------------------------------------------- minting


def _reset_logs(vs: Any) -> None:
    """Keep the virtual logs' trees small: proofs stay realistic and minting stays O(1)."""
    from tests.support._merkle import MerkleTree

    for log in (vs.rekor_v1, vs.rekor_v2, vs.rekor_v2_ecdsa):
        log.tree = MerkleTree()
        log.seed(700)


def _mint_chunk(args: tuple[str, list[tuple[str, str, int]]]) -> int:
    """Runs in a forked child: mint the bundles of one chunk of the plan."""
    from tests.support.virtual_sigstore import STATEMENT_V1, Faults

    root, plan = Path(args[0]), args[1]
    vs = _VS
    no_cert = Faults(tsa_kwargs={"embed_cert": False})  # sigstore-python needs DER-sorted certs (see tests)
    for n, (kind, rel, count) in enumerate(plan):
        if n % 200 == 0:
            _reset_logs(vs)
        if kind == "att":
            d = root / rel
            d.mkdir(parents=True, exist_ok=True)
            subjects = []
            for j in range(count):
                data = os.urandom(1024)
                (d / f"f{j:02d}.bin").write_bytes(data)
                subjects.append({"name": f"f{j:02d}.bin", "digest": {"sha256": hashlib.sha256(data).hexdigest()}})
            st = {"_type": STATEMENT_V1, "subject": subjects, "predicateType": "https://slsa.dev/provenance/v1",
                  "predicate": {"buildDefinition": {"buildType": "https://example.test/b"}, "runDetails": {}}}
            (d / "release.intoto.jsonl").write_text(json.dumps(vs.attest(b"", statement=st)))
            continue
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        data = os.urandom(1024)
        path.write_bytes(data)
        if kind == "v1":
            bundle = vs.sign_artifact(data)
        else:
            bundle = vs.sign_artifact(data, log="v2", tsa=True, faults=no_cert)
        path.with_name(path.name + ".sigstore.json").write_text(json.dumps(bundle))
    return len(plan)


_VS: Any = None


def build_tree(n: int, base: Path) -> Path:
    """The cached benchmark tree: base/tree, base/trusted_root.json, base/policy.toml."""
    global _VS
    marker = base / f".complete-v{TREE_VERSION}"
    if marker.exists():
        return base
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    from tests.support.virtual_sigstore import DEFAULT_IDENTITY, DEFAULT_ISSUER, VirtualSigstore

    _VS = VirtualSigstore("bench")
    if not _VS.tsa_available():
        raise SystemExit("needs tests/support/tsa.py (openssl, faketime) for the v2 timestamps")
    (base / "trusted_root.json").write_text(json.dumps(_VS.trusted_root()))
    n_v1, n_v2 = int(n * 0.4), int(n * 0.3)
    n_att = n - n_v1 - n_v2
    plan: list[tuple[str, str, int]] = []
    plan += [("v1", f"v1/d{i // 500:03d}/f{i:06d}.bin", 1) for i in range(n_v1)]
    plan += [("v2", f"v2/d{i // 500:03d}/f{i:06d}.bin", 1) for i in range(n_v2)]
    for g in range(0, n_att, 10):
        plan.append(("att", f"att/d{g // 500:03d}/g{g:06d}", min(10, n_att - g)))
    import multiprocessing

    # The TSA (openssl ts) keeps one serial-number file: its tokens are minted here, one at a
    # time; everything else in forked children.
    parallel = [p for p in plan if p[0] != "v2"]
    chunks = [parallel[i : i + 250] for i in range(0, len(parallel), 250)]
    started = time.time()
    with multiprocessing.get_context("fork").Pool(os.cpu_count() or 2) as pool:
        done = 0
        for count in pool.imap_unordered(_mint_chunk, [(str(base / "tree"), c) for c in chunks]):
            done += count
            print(f"\rminting {done}/{len(plan)} ({time.time() - started:.0f}s)", end="", file=sys.stderr)
    serial = [p for p in plan if p[0] == "v2"]
    for i in range(0, len(serial), 250):
        done += _mint_chunk((str(base / "tree"), serial[i : i + 250]))
        print(f"\rminting {done}/{len(plan)} ({time.time() - started:.0f}s)", end="", file=sys.stderr)
    print(file=sys.stderr)
    (base / "policy.toml").write_text(
        f'[[rule]]\nname = "everything"\npaths = ["**"]\ncertificate-identity = "{DEFAULT_IDENTITY}"\n'
        f'certificate-oidc-issuer = "{DEFAULT_ISSUER}"\ntrusted-root = "trusted_root.json"\n'
    )
    marker.write_text("ok")
    return base


def build_memory_tree(n: int, base: Path) -> Path:
    """n small artifacts, each with a key-based bundle (no log): the gate's per-file path
    without expensive crypto, so memory, not CPU, is what is measured."""
    marker = base / f".complete-v{TREE_VERSION}"
    if marker.exists():
        return base
    shutil.rmtree(base, ignore_errors=True)
    (base / "tree").mkdir(parents=True)
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    (base / "key.pem").write_bytes(pem)
    hint = base64.b64encode(hashlib.sha256(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).digest()).decode()
    for i in range(n):
        d = base / "tree" / f"d{i // 1000:03d}"
        if i % 1000 == 0:
            d.mkdir()
        data = f"small artifact {i}\n".encode()
        digest = hashlib.sha256(data).digest()
        from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

        sig = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        bundle = {
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {"publicKey": {"hint": hint}, "tlogEntries": []},
            "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": base64.b64encode(digest).decode()},
                                 "signature": base64.b64encode(sig).decode()},
        }
        (d / f"a{i:06d}.txt").write_bytes(data)
        (d / f"a{i:06d}.txt.sigstore.json").write_text(json.dumps(bundle))
    marker.write_text("ok")
    return base


# --------------------------------------------------------------------------- measurements


def env_for(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRSEAL_", "SIGSTORE_"))}
    env.update(HOME=str(tmp), AIRSEAL_HOME=str(tmp / "airseal"), XDG_CACHE_HOME=str(tmp / "cache"),
               HTTPS_PROXY="http://127.0.0.1:9", HTTP_PROXY="http://127.0.0.1:9")
    return env


def bench_gate(base: Path, jobs: int, tmp: Path, args: list[str]) -> dict[str, Any]:
    report = tmp / f"report-{jobs}"
    cmd = [str(BIN / "airseal"), "gate", *args, "--jobs", str(jobs), "--progress", "off", "--report", str(report)]
    res = run_measured(cmd, env_for(tmp), cwd=base)
    summary = json.loads((report / "summary.json").read_text())
    if res["rc"] != 0 or summary["failed"]:
        raise SystemExit(f"gate failed (exit {res['rc']}): {summary['by_reason']} {res['stderr'][-2000:]}")
    return {"jobs": jobs, "total": summary["total"], "wall": res["wall"], "rate": summary["total"] / res["wall"],
            "maxrss_mib": res["maxrss_kib"] / 1024}


def sample_files(base: Path, k: int) -> list[Path]:
    v1 = sorted((base / "tree" / "v1").rglob("*.bin"))
    v2 = sorted((base / "tree" / "v2").rglob("*.bin"))
    step1, step2 = max(1, len(v1) // max(1, k * 4 // 7)), max(1, len(v2) // max(1, k * 3 // 7))
    return (v1[::step1] + v2[::step2])[:k]


def bench_verify_loop(base: Path, files: list[Path], tmp: Path, identity: str, issuer: str) -> dict[str, Any]:
    script = tmp / "loop.sh"
    lines = ["set -e"]
    for f in files:
        lines.append(f"'{BIN / 'airseal'}' verify --certificate-identity '{identity}' --certificate-oidc-issuer '{issuer}'"
                     f" --trusted-root '{base / 'trusted_root.json'}' '{f}' >/dev/null")
    script.write_text("\n".join(lines) + "\n")
    res = run_measured(["/bin/bash", str(script)], env_for(tmp))
    if res["rc"] != 0:
        raise SystemExit(f"verify loop failed: {res['stderr'][-2000:]}")
    return {"files": len(files), "wall": res["wall"], "rate": len(files) / res["wall"]}


def bench_sigstore_python(base: Path, files: list[Path], tmp: Path, identity: str, issuer: str) -> Optional[dict[str, Any]]:
    import importlib.util

    spec = importlib.util.find_spec("sigstore")
    if spec is None or not (BIN / "sigstore").exists():
        return None
    pkg = Path(list(spec.submodule_search_locations)[0])
    signing = pkg / "_store" / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev" / "signing_config.v0.2.json"
    config = tmp / "client_trust_config.json"
    config.write_text(json.dumps({
        "mediaType": "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json",
        "trustedRoot": json.loads((base / "trusted_root.json").read_text()),
        "signingConfig": json.loads(signing.read_text()),
    }))
    cmd = [str(BIN / "sigstore"), "--trust-config", str(config), "verify", "identity", "--offline",
           "--cert-identity", identity, "--cert-oidc-issuer", issuer, *map(str, files)]
    res = run_measured(cmd, env_for(tmp))
    if res["rc"] != 0:
        return {"files": len(files), "wall": res["wall"], "rate": 0.0, "error": res["stderr"][-600:]}
    return {"files": len(files), "wall": res["wall"], "rate": len(files) / res["wall"], "maxrss_mib": res["maxrss_kib"] / 1024}


def bench_crypto_floor(base: Path, files: list[Path]) -> dict[str, Any]:
    """The checks of a v1 certificate bundle, straight on cryptography and hashlib."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    root = json.loads((base / "trusted_root.json").read_text())
    b64d = base64.b64decode
    chain = [x509.load_der_x509_certificate(b64d(c["rawBytes"])) for c in root["certificateAuthorities"][0]["certChain"]["certificates"]]
    intermediate = chain[0]
    issuer_key_hash = hashlib.sha256(intermediate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).digest()
    ct_key = serialization.load_der_public_key(b64d(root["ctlogs"][0]["publicKey"]["rawBytes"]))
    rekor_key = serialization.load_der_public_key(b64d(root["tlogs"][0]["publicKey"]["rawBytes"]))
    v1 = [f for f in files if "/v1/" in str(f)]
    work = [(f.read_bytes(), json.loads(f.with_name(f.name + ".sigstore.json").read_text())) for f in v1]

    def leaf_hash(data: bytes) -> bytes:
        return hashlib.sha256(b"\x00" + data).digest()

    def node(a: bytes, b: bytes) -> bytes:
        return hashlib.sha256(b"\x01" + a + b).digest()

    started = time.perf_counter()
    for f in v1:
        data = f.read_bytes()
        bundle = json.loads(f.with_name(f.name + ".sigstore.json").read_bytes())
        vm = bundle["verificationMaterial"]
        leaf = x509.load_der_x509_certificate(b64d(vm["certificate"]["rawBytes"]))
        # artifact signature
        digest = hashlib.sha256(data).digest()
        leaf.public_key().verify(b64d(bundle["messageSignature"]["signature"]), digest, ec.ECDSA(Prehashed(hashes.SHA256())))
        # leaf <- intermediate (the CA chain itself is checked once, as airseal does)
        intermediate.public_key().verify(leaf.signature, leaf.tbs_certificate_bytes, ec.ECDSA(leaf.signature_hash_algorithm))
        # SCT
        sct = leaf.extensions.get_extension_for_class(x509.PrecertificateSignedCertificateTimestamps).value[0]
        tbs = leaf.tbs_precertificate_bytes
        ts = int(sct.timestamp.replace(tzinfo=__import__("datetime").timezone.utc).timestamp() * 1000)
        signed = (b"\x00\x00" + ts.to_bytes(8, "big") + b"\x00\x01" + issuer_key_hash
                  + len(tbs).to_bytes(3, "big") + tbs + len(sct.extension_bytes).to_bytes(2, "big") + sct.extension_bytes)
        ct_key.verify(sct.signature, signed, ec.ECDSA(hashes.SHA256()))
        # SET
        entry = vm["tlogEntries"][0]
        payload = json.dumps({"body": entry["canonicalizedBody"], "integratedTime": int(entry["integratedTime"]),
                              "logID": b64d(entry["logId"]["keyId"]).hex(), "logIndex": int(entry["logIndex"])},
                             separators=(",", ":"), sort_keys=True).encode()
        rekor_key.verify(b64d(entry["inclusionPromise"]["signedEntryTimestamp"]), payload, ec.ECDSA(hashes.SHA256()))
        # checkpoint signature and inclusion proof
        proof = entry["inclusionProof"]
        note = proof["checkpoint"]["envelope"]
        text, _, sigs = note.partition("\n\n")
        sig = b64d(sigs.split(" ")[-1].strip())[4:]
        rekor_key.verify(sig, (text + "\n").encode(), ec.ECDSA(hashes.SHA256()))
        index, size = int(proof["logIndex"]), int(proof["treeSize"])
        h = leaf_hash(b64d(entry["canonicalizedBody"]))
        fn, sn = index, size - 1
        for p in (b64d(x) for x in proof["hashes"]):
            if fn % 2 == 1 or fn == sn:
                h = node(p, h)
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
            else:
                h = node(h, p)
            fn >>= 1
            sn >>= 1
        assert h == b64d(proof["rootHash"]), "inclusion proof"
    wall = time.perf_counter() - started
    del work
    return {"files": len(v1), "wall": wall, "rate": len(v1) / wall}


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=10_000, help="artifacts in the throughput tree")
    parser.add_argument("--memory", type=int, default=100_000, help="artifacts in the memory tree")
    parser.add_argument("--sample", type=int, default=100, help="files for the `airseal verify` loop")
    parser.add_argument("--sigstore-files", type=int, default=2000, help="files for sigstore-python")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-baselines", action="store_true")
    args = parser.parse_args()
    from tests.support.virtual_sigstore import DEFAULT_IDENTITY, DEFAULT_ISSUER

    base = build_tree(args.n, Path(f"/tmp/airseal-bench-gate-{args.n}"))
    tmp = Path(tempfile.mkdtemp(prefix="bench-gate-"))
    try:
        rows: list[tuple[str, str, str, str]] = []
        gate_args = ["--policy", str(base / "policy.toml"), str(base / "tree")]
        for jobs in (1, 2):
            r = bench_gate(base, jobs, tmp, gate_args)
            rows.append((f"airseal gate --jobs {jobs}", f"{r['total']:,}", f"{r['wall']:.1f} s",
                         f"{r['rate']:,.0f}/s (peak RSS {r['maxrss_mib']:.0f} MiB)"))
        if not args.skip_baselines:
            files = sample_files(base, args.sample)
            r = bench_verify_loop(base, files, tmp, DEFAULT_IDENTITY, DEFAULT_ISSUER)
            rows.append((f"shell loop of `airseal verify` ({r['files']} files)", f"{args.n:,} (extrapolated)",
                         f"{args.n / r['rate']:.0f} s", f"{r['rate']:,.1f}/s"))
            sfiles = sample_files(base, args.sigstore_files)
            r2 = bench_sigstore_python(base, sfiles, tmp, DEFAULT_IDENTITY, DEFAULT_ISSUER)
            if r2 is None:
                rows.append(("sigstore-python", "-", "-", "not installed"))
            elif r2.get("error"):
                rows.append(("sigstore-python verify identity --offline", str(r2["files"]), "-", "error: " + r2["error"].splitlines()[-1]))
            else:
                rows.append((f"sigstore-python, one call ({r2['files']} files)", f"{args.n:,} (extrapolated)",
                             f"{args.n / r2['rate']:.0f} s", f"{r2['rate']:,.0f}/s"))
            r3 = bench_crypto_floor(base, sample_files(base, 2000))
            rows.append((f"crypto floor, v1 checks on cryptography ({r3['files']} files, 1 core)", "-", f"{r3['wall']:.2f} s",
                         f"{r3['rate']:,.0f}/s"))
        print(f"\n## gate throughput: {args.n:,} artifacts (40 % Rekor v1, 30 % Rekor v2 + RFC 3161, 30 % DSSE x10)\n")
        with open("/proc/loadavg") as fh:
            load = fh.read().split()[:3]
        print(f"{os.cpu_count()} cores; load average at the end: {load}\n")
        print("| tool | artifacts | wall | rate |\n| --- | ---: | ---: | ---: |")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        if not args.skip_memory:
            mbase = build_memory_tree(args.memory, Path(f"/tmp/airseal-bench-gate-mem-{args.memory}"))
            print(f"\n## peak RSS: {args.memory:,} small key-signed artifacts\n")
            print("| jobs | artifacts | wall | rate | peak RSS (largest process) |\n| ---: | ---: | ---: | ---: | ---: |")
            for jobs in (1, 2):
                r = bench_gate(mbase, jobs, tmp, ["--key", str(mbase / "key.pem"), "--min-tlog-entries", "0", str(mbase / "tree")])
                print(f"| {jobs} | {r['total']:,} | {r['wall']:.1f} s | {r['rate']:,.0f}/s | {r['maxrss_mib']:.0f} MiB |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
