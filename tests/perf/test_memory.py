"""`airseal verify` hashes big artifacts in constant memory (benchmarks/bench_verify.py, part c).

A 256 MiB artifact is written 1 MiB at a time, signed here with a fresh ECDSA P-256 key (SHA-256
prehashed) and wrapped in a key-based v0.3 bundle with no tlog entry; `airseal verify --key
--min-tlog-entries 0` must accept it with a peak RSS below 64 MiB, and reject it once a single
byte is flipped. This is a memory test, not a timing test.

Peak RSS is read with wait4() by a tiny middleman process, never from pytest itself: Linux carries
the parent's RSS high-water mark into a child's ru_maxrss across fork/vfork + exec, so a child
spawned straight from pytest (itself well over 64 MiB) would always look too big.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.slow,
    pytest.mark.subprocess,  # peak RSS is only measurable in a child process
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss semantics checked on Linux only"),
]

SIZE = 256 * 1024 * 1024
CHUNK = 1024 * 1024
RSS_LIMIT_MIB = 64

_RUSAGE_WRAPPER = """
import json, os, sys
out, cmd = sys.argv[1], sys.argv[2:]
pid = os.posix_spawn(cmd[0], cmd, os.environ)
_, status, usage = os.wait4(pid, 0)
with open(out, "w") as fh:
    json.dump([os.waitstatus_to_exitcode(status), usage.ru_maxrss], fh)
"""


def _airseal_command() -> list[str]:
    exe = Path(sys.executable).with_name("airseal")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "verifier"]


def _run_measured(cmd: list[str], env: dict[str, str], tmp: Path) -> tuple[int, float, str]:
    """(exit code, peak RSS in MiB, stderr) of `cmd`, measured on that process alone."""
    report = tmp / "rusage.json"
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", _RUSAGE_WRAPPER, str(report), *cmd],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    assert report.exists(), f"middleman failed (exit {proc.returncode}): {proc.stderr[-2000:]}"
    rc, maxrss_kib = json.loads(report.read_text())
    return rc, maxrss_kib / 1024, proc.stderr


@pytest.fixture(scope="module")
def signed_big_file(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    d = tmp_path_factory.mktemp("bigfile")
    big = d / "big.bin"
    block = bytearray(os.urandom(CHUNK))
    hasher = hashlib.sha256()
    with open(big, "wb") as fh:
        for n in range(SIZE // CHUNK):
            block[:8] = n.to_bytes(8, "big")
            fh.write(block)
            hasher.update(block)
    digest = hasher.digest()
    key = ec.generate_private_key(ec.SECP256R1())
    signature = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    pub = d / "pub.pem"
    pub.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    bundle = d / "big.sigstore.json"
    bundle.write_text(
        json.dumps(
            {
                "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "verificationMaterial": {"publicKey": {"hint": ""}, "tlogEntries": []},
                "messageSignature": {
                    "messageDigest": {"algorithm": "SHA2_256", "digest": base64.b64encode(digest).decode()},
                    "signature": base64.b64encode(signature).decode(),
                },
            }
        ),
        encoding="utf-8",
    )
    home = d / "airseal-home"
    home.mkdir()
    return {"dir": d, "big": big, "bundle": bundle, "pub": pub, "home": home}


def _verify(files: dict[str, Path]) -> tuple[int, float, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRSEAL_")}
    env["AIRSEAL_HOME"] = str(files["home"])
    cmd = [
        *_airseal_command(), "verify", "--bundle", str(files["bundle"]), "--key", str(files["pub"]),
        "--min-tlog-entries", "0", str(files["big"]),
    ]
    return _run_measured(cmd, env, files["dir"])


def test_big_artifact_verifies_in_bounded_memory(signed_big_file: dict[str, Path]) -> None:
    rc, peak_mib, stderr = _verify(signed_big_file)
    assert rc == 0, f"verification failed (exit {rc}): {stderr[-2000:]}"
    assert peak_mib < RSS_LIMIT_MIB, (
        f"airseal verify peaked at {peak_mib:.1f} MiB RSS on a {SIZE >> 20} MiB artifact "
        f"(limit {RSS_LIMIT_MIB} MiB): is the artifact read or mapped whole?"
    )


def test_tampered_big_artifact_is_rejected(signed_big_file: dict[str, Path]) -> None:
    big = signed_big_file["big"]
    offset = SIZE // 2 + 12345
    with open(big, "r+b") as fh:  # flip one byte in the middle; runs after the happy path
        fh.seek(offset)
        original = fh.read(1)
        fh.seek(offset)
        fh.write(bytes([original[0] ^ 0x01]))
    try:
        rc, peak_mib, stderr = _verify(signed_big_file)
    finally:
        with open(big, "r+b") as fh:
            fh.seek(offset)
            fh.write(original)
    assert rc == 1, f"a tampered artifact must be rejected with exit 1, got {rc}: {stderr[-2000:]}"
    assert peak_mib < RSS_LIMIT_MIB, f"rejection path peaked at {peak_mib:.1f} MiB RSS"
