"""Peak memory (ru_maxrss) of `airseal verify` on worst-case inputs at the size caps.

    .venv/bin/python benchmarks/bench_memory.py [--repo DIR] [--json]

Each case writes one hostile input just under its cap and runs `python -m verifier verify`
in a fresh subprocess (cwd = --repo, so another checkout can be measured the same way), then
reads the child's peak RSS from os.wait4. The target: every case verifies or is refused with
a peak below 128 MiB (tests/perf/test_memory_caps.py checks it, marked slow).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
BUNDLE_CAP = 16 * MIB
ROOT_CAP = 4 * MIB
MEDIA = "application/vnd.dev.sigstore.bundle.v0.3+json"


def _key_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _pad(prefix: bytes, filler: bytes, suffix: bytes, size: int) -> bytes:
    count = (size - len(prefix) - len(suffix)) // len(filler)
    return prefix + filler * count + suffix


def cases() -> dict[str, tuple[bytes, bytes | None]]:
    """name -> (bundle bytes, trusted root bytes or None)."""
    vm = b'"verificationMaterial":{"publicKey":{"hint":"aGludA=="}}'
    big_b64 = base64.b64encode(b"\0" * ((BUNDLE_CAP - 300) * 3 // 4 // 3 * 3))
    small = b'{"mediaType":"%s",%s,"messageSignature":{"signature":"AAAA"}}' % (MEDIA.encode(), vm)
    return {
        "bundle: one 16 MiB base64 field": (
            b'{"mediaType":"%s",%s,"messageSignature":{"signature":"%s"}}' % (MEDIA.encode(), vm, big_b64), None),
        "bundle: 15 MiB DSSE payload": (
            b'{"mediaType":"%s",%s,"dsseEnvelope":{"payloadType":"application/vnd.in-toto+json","payload":"%s",'
            b'"signatures":[{"sig":"AAAA"}]}}' % (MEDIA.encode(), vm, base64.b64encode(b" " * ((15 * MIB) * 3 // 4 - 300) + b"{}")), None),
        "bundle: 16 MiB of [{},...]": (
            _pad(b'{"mediaType":"%s",%s,"messageSignature":{"signature":"AAAA"},"x":[' % (MEDIA.encode(), vm), b"{},", b"{}]}",
                 BUNDLE_CAP), None),
        "bundle: 16 MiB of [1000,...]": (
            _pad(b'{"mediaType":"%s",%s,"messageSignature":{"signature":"AAAA"},"x":[' % (MEDIA.encode(), vm), b"1000,", b"1]}",
                 BUNDLE_CAP), None),
        "trusted root: 4 MiB of [{},...]": (
            small, _pad(b'{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[', b"{},", b"{}]}",
                        ROOT_CAP)),
    }


_LAUNCHER = (
    "import os, subprocess, sys\n"
    "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
    "err = p.stderr.read().decode('utf-8', 'replace').strip().splitlines() or ['']\n"
    "_, status, usage = os.wait4(p.pid, 0)\n"
    "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss, err[0][:150])\n"
)
"""A small process starts the measured one: a child's ru_maxrss counts the pages it shares
with its parent right after fork, so the parent must not be this script holding the inputs."""


def measure(repo: Path, bundle: bytes, root: bytes | None) -> tuple[int, int, float, str]:
    """(exit code, peak RSS in KiB, seconds, first stderr line) of one verify run in a fresh process."""
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        (t / "b.json").write_bytes(bundle)
        (t / "k.pem").write_bytes(_key_pem())
        (t / "a.txt").write_bytes(b"a")
        args = [sys.executable, "-m", "verifier", "verify", "--bundle", str(t / "b.json"), "--key", str(t / "k.pem"),
                "--min-tlog-entries", "0", "--json"]
        if root is not None:
            (t / "root.json").write_bytes(root)
            args += ["--trusted-root", str(t / "root.json"), "--min-tlog-entries", "1"]
        args.append(str(t / "a.txt"))
        env = dict(os.environ, AIRSEAL_HOME=str(t / "home"))
        del bundle, root
        start = time.monotonic()
        out = subprocess.run([sys.executable, "-c", _LAUNCHER, *args], cwd=repo, env=env, capture_output=True,
                             text=True, check=True)
        code, rss, message = (out.stdout.strip().split(" ", 2) + [""])[:3]
        return int(code), int(rss), time.monotonic() - start, message


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", type=Path, default=REPO)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    for name in list(cases()):
        bundle, root = cases()[name]  # built afresh: the parent holds one case at a time
        code, rss_kib, secs, message = measure(args.repo, bundle, root)
        del bundle, root
        rows.append({"case": name, "exit": code, "peak_rss_mib": round(rss_kib / 1024, 1), "seconds": round(secs, 2),
                     "stderr": message})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        print(f"{row['case']:<34} exit {row['exit']:>3}  peak {row['peak_rss_mib']:>7.1f} MiB  {row['seconds']:>6.2f} s"
              f"  {row['stderr'][:90]}")


if __name__ == "__main__":
    main()
