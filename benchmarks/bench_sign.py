"""Benchmark `airseal sign` on SoftHSM2 (ec-p256).

1. Throughput: 1,000 small files signed by ONE `airseal sign` call (a subprocess, so it
   includes start-up, login, hashing, self-checks and atomic bundle writes), against a bare
   python-pkcs11 loop on the same token and key (read, SHA-256, C_Sign; nothing else).
   Target: airseal >= 80% of the bare loop's signatures/s.
   Also printed: airseal's signing path in-process without file writes, to separate the
   per-signature CPU cost from the per-bundle fsync + rename.
2. Cold start: `airseal sign` of one file, a fresh process each time. Target: <= 0.3 s.

Run:  .venv/bin/python benchmarks/bench_sign.py [--files 1000] [--cold-runs 10]
Needs softhsm2-util and libsofthsm2.so; uses a throwaway token store in a temp directory.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PIN = "bench-pin-1234"
LABEL = "bench"
MODULES = ("/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")


def _module() -> str:
    for path in MODULES:
        if Path(path).is_file():
            return path
    sys.exit("libsofthsm2.so not found: apt-get install softhsm2")


def _setup(root: Path, module: str) -> dict[str, str]:
    tokens = root / "tokens"
    tokens.mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = dict(os.environ, SOFTHSM2_CONF=str(conf), AIRSEAL_PKCS11_MODULE=module, AIRSEAL_PKCS11_PIN=PIN)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", LABEL, "--so-pin", "so-" + PIN, "--pin", PIN],
        env=env, check=True, capture_output=True,
    )
    _airseal(env, "hsm", "keygen", f"pkcs11:token={LABEL};object=k", "--type", "ec-p256")
    return env


def _airseal(env: dict[str, str], *args: str, cwd: Path | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "verifier", *args], env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"airseal {' '.join(args)} failed: {result.stderr}")
    return elapsed


def _bare_loop(env: dict[str, str], module: str, files: list[Path]) -> float:
    """The floor: python-pkcs11 alone, in a fresh process so SoftHSM reads this store's conf."""
    code = f"""
import hashlib, sys, time
import pkcs11
from pkcs11 import Mechanism, ObjectClass
files = sys.argv[1:]
lib = pkcs11.lib({module!r})
token = lib.get_token(token_label={LABEL!r})
with token.open(user_pin={PIN!r}) as session:
    key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="k")
    start = time.perf_counter()
    for name in files:
        with open(name, "rb") as fh:
            digest = hashlib.sha256(fh.read()).digest()
        key.sign(digest, mechanism=Mechanism.ECDSA)
    print(time.perf_counter() - start)
"""
    out = subprocess.run([sys.executable, "-c", code, *map(str, files)], env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.strip())


def _airseal_in_process(env: dict[str, str], files: list[Path]) -> float:
    """airseal's signing path without process start or file output: hash, C_Sign, DER,
    host self-check, bundle dict and JSON, through the same functions `airseal sign` uses."""
    code = f"""
import sys, time
from hsm.signer import open_signer
from hsm.keys import key_hint
from hsm.uri import parse_uri
from verifier import signing
from pathlib import Path
files = [Path(p) for p in sys.argv[1:]]
signer = open_signer(parse_uri("pkcs11:token={LABEL};object=k"))
material = signing.verification_material(key_hint=key_hint(signer.public_key()))
start = time.perf_counter()
for path in files:
    digest, signature = signing.sign_artifact(signer, path)
    signing.dump_bundle_json(signing.message_signature_bundle(digest, signature, material))
print(time.perf_counter() - start)
"""
    out = subprocess.run([sys.executable, "-c", code, *map(str, files)], env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--cold-runs", type=int, default=10)
    args = parser.parse_args()
    if shutil.which("softhsm2-util") is None:
        sys.exit("softhsm2-util not found: apt-get install softhsm2")
    module = _module()
    with tempfile.TemporaryDirectory(prefix="airseal-bench-") as tmp:
        root = Path(tmp)
        env = _setup(root, module)
        work = root / "files"
        work.mkdir()
        files = []
        for i in range(args.files):
            path = work / f"f{i:05d}.txt"
            path.write_bytes(hashlib.sha256(str(i).encode()).hexdigest().encode() * 4)
            files.append(path)

        bare = _bare_loop(env, module, files)
        uri = f"pkcs11:token={LABEL};object=k"
        batch = _airseal(env, "sign", "--key", uri, *(p.name for p in files), cwd=work)
        bare_rate = args.files / bare
        airseal_rate = args.files / batch
        print(f"bare python-pkcs11 loop: {args.files} signatures in {bare:.3f} s = {bare_rate:,.0f} sig/s")
        print(f"airseal sign (1 call)  : {args.files} bundles    in {batch:.3f} s = {airseal_rate:,.0f} sig/s"
              " (incl. process start, login, self-check, atomic writes)")
        print(f"ratio airseal/bare     : {airseal_rate / bare_rate:.0%} (target >= 80%)")
        core = _airseal_in_process(env, files)
        print(f"airseal signing path, no process start or file writes: {args.files / core:,.0f} sig/s"
              f" = {bare / core:.0%} of bare (hash + C_Sign + DER + self-check + bundle JSON)")

        one = work / "f00000.txt"
        times = [_airseal(env, "sign", "--key", uri, "--bundle", str(root / "one.json"), str(one)) for _ in range(args.cold_runs)]
        print(f"cold airseal sign, 1 file: median {statistics.median(times):.3f} s, min {min(times):.3f} s,"
              f" max {max(times):.3f} s over {len(times)} runs (target <= 0.3 s)")


if __name__ == "__main__":
    main()
