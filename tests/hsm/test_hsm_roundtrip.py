"""keygen -> sign/attest -> pubkey -> `airseal verify`, with a PEM key and with a pkcs11: URI.

Exercises the contract between the signer and the verifier (verifier/cli/verify.py): exit 0
when the bundle proves the artifact, 1 when the artifact changed. Commands run in process
(`run`, see softhsm_support); one round trip runs every command as its own process (`spawn`)
the way a user does. Signing-only tests share one store per module (`shared_softhsm`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.hsm.softhsm_support import assert_no_pin

pytestmark = [
    pytest.mark.softhsm,
]


def _run_ok(softhsm: Any, *args: str, runner: Any = None, **kw: Any) -> Any:
    result = (runner or softhsm.run)(*args, **kw)
    assert result.returncode == 0, f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def _verify(softhsm: Any, bundle: Path, key: str, artifact: Path, runner: Any = None, **kw: Any) -> Any:
    result = (runner or softhsm.run)("verify", "--bundle", str(bundle), "--key", key, "--min-tlog-entries", "0", str(artifact), **kw)
    assert "Traceback" not in result.stderr
    assert_no_pin(result)
    return result


SLOW_RSA = [pytest.param(k, marks=pytest.mark.slow) for k in ("rsa-3072", "rsa-4096")]


@pytest.mark.parametrize("key_type", ["ec-p256", "ec-p384", "rsa-2048", *SLOW_RSA, "ed25519"])
def test_sign_then_verify(shared_softhsm: Any, key_type: str) -> None:
    _sign_then_verify(shared_softhsm, shared_softhsm.key(key_type), shared_softhsm.run)


@pytest.mark.subprocess  # every command a process of its own, exactly as a user runs them
def test_sign_then_verify_in_fresh_processes(softhsm: Any) -> None:
    uri = softhsm.uri(object="rt")
    _run_ok(softhsm, "hsm", "keygen", uri, "--type", "ec-p256", runner=softhsm.spawn)
    _sign_then_verify(softhsm, uri, softhsm.spawn)


def _sign_then_verify(softhsm: Any, uri: str, runner: Any) -> None:
    artifact = softhsm.root / "release.tar.gz"
    artifact.write_bytes(b"release bytes " * 1000)
    _run_ok(softhsm, "sign", "--key", uri, str(artifact), runner=runner)
    pem = softhsm.root / "rt.pub.pem"
    _run_ok(softhsm, "hsm", "pubkey", uri, "--out", str(pem), runner=runner)
    bundle = Path(f"{artifact}.sigstore.json")

    ok_pem = _verify(softhsm, bundle, str(pem), artifact, runner)
    assert ok_pem.returncode == 0, ok_pem.stderr
    ok_uri = _verify(softhsm, bundle, uri, artifact, runner, env={"AIRSEAL_PKCS11_PIN": None})
    assert ok_uri.returncode == 0, ok_uri.stderr

    artifact.write_bytes(b"tampered " + artifact.read_bytes())
    assert _verify(softhsm, bundle, str(pem), artifact, runner).returncode == 1
    assert _verify(softhsm, bundle, uri, artifact, runner).returncode == 1


def test_verify_rejects_other_token_key(softhsm: Any) -> None:
    softhsm.keygen("signer", "ec-p256")
    softhsm.keygen("someone-else", "ec-p256")
    artifact = softhsm.root / "a.txt"
    artifact.write_text("hello\n")
    _run_ok(softhsm, "sign", "--key", softhsm.uri(object="signer"), str(artifact))
    result = _verify(softhsm, Path(f"{artifact}.sigstore.json"), softhsm.uri(object="someone-else"), artifact)
    assert result.returncode == 1


def test_verify_with_missing_token_key_exits_5(softhsm: Any) -> None:
    softhsm.keygen("signer", "ec-p256")
    artifact = softhsm.root / "a.txt"
    artifact.write_text("hello\n")
    _run_ok(softhsm, "sign", "--key", softhsm.uri(object="signer"), str(artifact))
    result = _verify(softhsm, Path(f"{artifact}.sigstore.json"), softhsm.uri(object="ghost"), artifact)
    assert result.returncode == 5 and "hsm.key_not_found" in result.stderr


@pytest.mark.parametrize("key_type", ["ec-p256", "ec-p384", "rsa-2048", "ed25519"])
def test_attest_then_verify(shared_softhsm: Any, key_type: str) -> None:
    softhsm = shared_softhsm
    uri = softhsm.key(key_type)
    artifact = softhsm.root / "app.whl"
    artifact.write_bytes(b"wheel")
    predicate = softhsm.root / "p.json"
    predicate.write_text(json.dumps({"builder": {"id": "https://ci.example/airseal"}}))
    _run_ok(softhsm, "attest", "--key", uri, "--predicate", str(predicate),
            "--predicate-type", "https://slsa.dev/provenance/v1", str(artifact))
    bundle = Path(f"{artifact}.sigstore.json")
    assert _verify(softhsm, bundle, uri, artifact).returncode == 0
    artifact.write_bytes(b"other wheel")
    assert _verify(softhsm, bundle, uri, artifact).returncode == 1


@pytest.mark.slow  # RSA-3072 keygen (once per module, shared with test_sign_then_verify[rsa-3072])
def test_rsa_pss_then_verify(shared_softhsm: Any) -> None:
    softhsm = shared_softhsm
    uri = softhsm.key("rsa-3072")
    artifact = softhsm.root / "a.bin"
    artifact.write_bytes(b"pss" * 100)
    _run_ok(softhsm, "sign", "--rsa-pss", "--key", uri, str(artifact))
    bundle = Path(f"{artifact}.sigstore.json")
    assert _verify(softhsm, bundle, uri, artifact).returncode == 0
    artifact.write_bytes(b"changed")
    assert _verify(softhsm, bundle, uri, artifact).returncode == 1
