"""Signing many artifacts in one call: batch writes, the overlapped self-check, the fast paths.

Real SoftHSM2 for everything that signs (nothing mocked); the AtomicBatch and template tests
need no token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from verifier._internal import atomic
from verifier._internal.bundle import build
from verifier._internal.limits import DEFAULT_LIMITS
from verifier._internal.signing import sign
from verifier.errors import HsmError, InputError, Reason

BATCH = 200


def _ok(result: Any) -> Any:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert "Traceback" not in result.stderr
    return result


def _files(directory: Path, count: int) -> list[Path]:
    directory.mkdir(exist_ok=True)
    paths = []
    for i in range(count):
        path = directory / f"f{i:04d}.txt"
        path.write_bytes(f"artifact {i}\n".encode() * (i % 7 + 1))
        paths.append(path)
    return paths


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp"))


def _self_check_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "airseal-self-check"]


# ----------------------------------------------------------------- CLI, end to end


@pytest.mark.softhsm
@pytest.mark.subprocess  # the last three verifications run as a user's `airseal verify`
@pytest.mark.slow
def test_batch_of_200_all_verify_with_airseal_verify(softhsm: Any) -> None:
    from click.testing import CliRunner

    from verifier.cli.app import main

    softhsm.keygen("k", "ec-p256")
    paths = _files(softhsm.root / "art", BATCH)
    result = _ok(softhsm.run("sign", "--key", softhsm.uri(object="k"), *map(str, paths)))
    assert result.stdout.count("signed ") == BATCH
    assert _leftovers(paths[0].parent) == []
    pem = softhsm.root / "k.pem"
    _ok(softhsm.run("hsm", "pubkey", softhsm.uri(object="k"), "--out", str(pem)))
    # Every bundle through the real `airseal verify` (in process: 200 subprocesses are slow).
    runner = CliRunner()
    for path in paths:
        bundle = Path(f"{path}.sigstore.json")
        assert stat.S_IMODE(bundle.stat().st_mode) == 0o644
        verified = runner.invoke(main, ["verify", "--key", str(pem), "--min-tlog-entries", "0", str(path)])
        assert verified.exit_code == 0, (path, verified.output)
    # ... and a few in a fresh process, exactly as a user runs it.
    for path in (paths[0], paths[BATCH // 2], paths[-1]):
        _ok(softhsm.spawn("verify", "--key", str(pem), "--min-tlog-entries", "0", str(path)))


@pytest.mark.softhsm
def test_batch_bundles_equal_the_single_file_bundles(softhsm: Any) -> None:
    """The template path writes byte-for-byte what dump_bundle_json(message_signature_bundle) does."""
    softhsm.keygen("k", "ec-p384")
    paths = _files(softhsm.root / "art", 20)
    _ok(softhsm.run("sign", "--key", softhsm.uri(object="k"), *map(str, paths)))
    for path in paths:
        raw = Path(f"{path}.sigstore.json").read_bytes()
        bundle = json.loads(raw)
        digest = base64.b64decode(bundle["messageSignature"]["messageDigest"]["digest"])
        assert digest == hashlib.sha384(path.read_bytes()).digest()
        rebuilt = build.dump_bundle_json(build.message_signature_bundle(
            build.ArtifactDigest("sha384", digest),
            base64.b64decode(bundle["messageSignature"]["signature"]),
            bundle["verificationMaterial"],
        ))
        assert raw == rebuilt


@pytest.mark.softhsm
def test_unreadable_artifact_mid_batch_writes_nothing(softhsm: Any) -> None:
    softhsm.keygen("k", "ec-p256")
    paths = _files(softhsm.root / "art", BATCH)
    old = Path(f"{paths[0]}.sigstore.json")
    old.write_text("previous bundle")
    missing = paths[0].parent / "missing.bin"
    args = [str(p) for p in paths[:150]] + [str(missing)] + [str(p) for p in paths[150:]]
    result = softhsm.run("sign", "--key", softhsm.uri(object="k"), *args)
    assert result.returncode == 3, result.stderr
    assert "[artifact.unreadable]" in result.stderr and "Traceback" not in result.stderr
    assert "signed " not in result.stdout
    assert old.read_text() == "previous bundle"  # the target is untouched
    assert sorted(p.name for p in paths[0].parent.glob("*.sigstore.json")) == [old.name]
    assert _leftovers(paths[0].parent) == []


@pytest.mark.softhsm
def test_unwritable_target_mid_batch_leaves_no_temp_files(softhsm: Any) -> None:
    """A target that is a directory fails at its rename: earlier targets are complete bundles,
    no later one is written, and no temp file is left anywhere."""
    softhsm.keygen("k", "ec-p256")
    paths = _files(softhsm.root / "art", 40)
    Path(f"{paths[30]}.sigstore.json").mkdir()
    result = softhsm.run("sign", "--key", softhsm.uri(object="k"), *map(str, paths))
    assert result.returncode == 3, result.stderr
    assert "[artifact.unreadable]" in result.stderr and "Traceback" not in result.stderr
    written = sorted(p.name for p in paths[0].parent.glob("*.sigstore.json") if p.is_file())
    assert written == [f"{p.name}.sigstore.json" for p in paths[:30]]
    for path in paths[:30]:
        assert json.loads(Path(f"{path}.sigstore.json").read_text())["messageSignature"]["signature"]
    assert _leftovers(paths[0].parent) == []


@pytest.mark.softhsm
def test_unwritable_directory_fails_before_any_write(softhsm: Any) -> None:
    softhsm.keygen("k", "ec-p256")
    paths = _files(softhsm.root / "art", 30)
    out = softhsm.root / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        if os.access(out, os.W_OK):
            pytest.skip("running as root: a read-only directory is still writable")
        result = softhsm.run("sign", "--key", softhsm.uri(object="k"), "--bundle", str(out / "b.json"), str(paths[0]))
        assert result.returncode == 3 and "[artifact.unreadable]" in result.stderr
    finally:
        out.chmod(0o755)


# ----------------------------------------------------------------- HsmSigner.sign_digests


def _signer(softhsm: Any, label: str) -> Any:
    from hsm.signer import open_signer
    from hsm.uri import parse_uri

    return open_signer(parse_uri(softhsm.uri(object=label)))


def _mismatched_key(softhsm: Any, label: str) -> None:
    """Replace the public-key object of `label` with a stranger's key (same id and label)."""
    from pkcs11.constants import Attribute, ObjectClass
    from pkcs11.util.ec import decode_ec_public_key

    from hsm.keygen import generate_key
    from hsm.keys import spki_der
    from hsm.token import PKCS11_LOCK, open_token
    from hsm.uri import parse_uri

    uri = parse_uri(softhsm.uri(object=label) + ";id=%42")
    generate_key(open_token(uri, rw=True), uri, "ec-p256")
    stranger = ec.generate_private_key(ec.SECP256R1()).public_key()
    opened = open_token(parse_uri(softhsm.uri()), rw=True)
    with PKCS11_LOCK:
        opened.session.get_key(object_class=ObjectClass.PUBLIC_KEY, label=label).destroy()
        attrs = decode_ec_public_key(spki_der(stranger))
        attrs.update({Attribute.TOKEN: True, Attribute.LABEL: label, Attribute.ID: b"\x42", Attribute.VERIFY: True})
        opened.session.create_object(attrs)


@pytest.mark.softhsm
@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("key_type", ["ec-p256", "ec-p384", "rsa-2048"])
def test_sign_digests_verify_in_order(shared_softhsm: Any, key_type: str, parallel: bool) -> None:
    shared_softhsm.key(key_type)  # signing only: one key per type for the module
    signer = _signer(shared_softhsm, f"key-{key_type}")
    messages = [f"message {i}".encode() for i in range(40)]
    digests = [hashlib.new(signer.hash_name, m).digest() for m in messages]
    signatures = list(signer.sign_digests(iter(digests), signer.hash_name, parallel=parallel))
    assert len(signatures) == len(digests)
    public = signer.public_key()
    algorithm = hashes.SHA384() if key_type == "ec-p384" else hashes.SHA256()
    for message, signature in zip(messages, signatures):
        if key_type.startswith("ec-"):
            public.verify(signature, message, ec.ECDSA(algorithm))
        else:
            from cryptography.hazmat.primitives.asymmetric import padding

            public.verify(signature, message, padding.PKCS1v15(), algorithm)
    assert _self_check_threads() == []


@pytest.mark.softhsm
@pytest.mark.parametrize("parallel", [False, True])
def test_sign_digests_self_check_failure_yields_nothing(softhsm: Any, parallel: bool) -> None:
    _mismatched_key(softhsm, "victim")
    signer = _signer(softhsm, "victim")
    got: list[bytes] = []
    with pytest.raises(HsmError) as info:
        for signature in signer.sign_digests((hashlib.sha256(bytes([i])).digest() for i in range(50)), "sha256",
                                             parallel=parallel):
            got.append(signature)
    assert info.value.reason is Reason.HSM_SELF_CHECK_FAILED
    assert got == []  # the very first signature already fails: none may escape
    assert _self_check_threads() == []


@pytest.mark.softhsm
def test_sign_digests_input_error_propagates_and_joins_thread(softhsm: Any) -> None:
    softhsm.keygen("k", "ec-p256")
    signer = _signer(softhsm, "k")

    def digests() -> Iterator[bytes]:
        for i in range(30):
            if i == 20:
                raise InputError(Reason.ARTIFACT_UNREADABLE, "boom")
            yield hashlib.sha256(bytes([i])).digest()

    got = []
    with pytest.raises(InputError):
        for signature in signer.sign_digests(digests(), "sha256", parallel=True):
            got.append(signature)
    assert len(got) <= 20
    assert _self_check_threads() == []


@pytest.mark.softhsm
def test_cli_self_check_failure_in_a_batch_writes_nothing(softhsm: Any) -> None:
    from hsm.token import close_all

    _mismatched_key(softhsm, "victim")
    close_all()
    paths = _files(softhsm.root / "art", 40)
    result = softhsm.run("sign", "--key", softhsm.uri(object="victim"), *map(str, paths))
    assert result.returncode == 5, result.stderr
    assert "[hsm.self_check_failed]" in result.stderr and "Traceback" not in result.stderr
    assert list(paths[0].parent.glob("*.sigstore.json")) == []
    assert _leftovers(paths[0].parent) == []


# ----------------------------------------------------------------- no token needed


@pytest.mark.parametrize("bulk", [False, True])
def test_atomic_batch_commit(tmp_path: Path, bulk: bool) -> None:
    batch = atomic.AtomicBatch(bulk=bulk)
    (tmp_path / "b0.json").write_text("old")
    for i in range(12):
        batch.stage(tmp_path / f"b{i}.json", f"new {i}".encode())
    assert len(batch) == 12
    assert (tmp_path / "b0.json").read_text() == "old"  # nothing replaced before commit
    batch.commit()
    for i in range(12):
        assert (tmp_path / f"b{i}.json").read_text() == f"new {i}"
        assert stat.S_IMODE((tmp_path / f"b{i}.json").stat().st_mode) == 0o644
    assert _leftovers(tmp_path) == []


def test_atomic_batch_abort_removes_temp_files(tmp_path: Path) -> None:
    batch = atomic.AtomicBatch(bulk=True)
    for i in range(10):
        batch.stage(tmp_path / f"b{i}.json", b"x")
    assert len(_leftovers(tmp_path)) == 10
    batch.abort()
    batch.abort()  # idempotent
    assert list(tmp_path.iterdir()) == []


def test_atomic_batch_stage_into_missing_directory(tmp_path: Path) -> None:
    batch = atomic.AtomicBatch(bulk=True)
    batch.stage(tmp_path / "a.json", b"a")
    with pytest.raises(InputError) as info:
        batch.stage(tmp_path / "no" / "b.json", b"b")
    assert info.value.reason is Reason.ARTIFACT_UNREADABLE
    batch.abort()
    assert list(tmp_path.iterdir()) == []


def test_atomic_batch_rename_failure(tmp_path: Path) -> None:
    batch = atomic.AtomicBatch(bulk=True)
    (tmp_path / "b5.json").mkdir()
    for i in range(10):
        batch.stage(tmp_path / f"b{i}.json", f"{i}".encode())
    with pytest.raises(InputError) as info:
        batch.commit()
    assert info.value.reason is Reason.ARTIFACT_UNREADABLE and "b5.json" in info.value.detail
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == [f"b{i}.json" for i in range(5)]
    assert _leftovers(tmp_path) == []
    assert len(batch) == 0


@pytest.mark.parametrize("hash_name", ["sha256", "sha384"])
def test_template_renders_what_dump_bundle_json_does(hash_name: str) -> None:
    materials = [
        build.verification_material(key_hint="aGludA=="),
        build.verification_material(certificate_der=b"\x30\x03\x02\x01\x01"),
    ]
    for material in materials:
        template = build.MessageBundleTemplate(material, hash_name)
        for n in range(3):
            digest = hashlib.new(hash_name, bytes([n])).digest()
            signature = os.urandom(70 + n)
            expected = build.dump_bundle_json(
                build.message_signature_bundle(build.ArtifactDigest(hash_name, digest), signature, material)
            )
            assert template.render(digest, signature) == expected


def test_digest_artifact_matches_hashlib(tmp_path: Path) -> None:
    small, big = tmp_path / "small", tmp_path / "big"
    small.write_bytes(b"abc")
    big.write_bytes(os.urandom(2 * DEFAULT_LIMITS.hash_chunk_bytes + 5))
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    for path in (small, big, empty):
        for hash_name in ("sha256", "sha384"):
            assert sign.digest_artifact(path, hash_name).digest == hashlib.new(hash_name, path.read_bytes()).digest()
    with pytest.raises(InputError) as info:
        sign.digest_artifact(tmp_path / "missing", "sha256")
    assert info.value.reason is Reason.ARTIFACT_UNREADABLE
    with pytest.raises(InputError):
        sign.digest_artifact(tmp_path, "sha256")  # a directory


def test_der_encoding_matches_asn1crypto() -> None:
    """encode_dss_signature gives the same DER as python-pkcs11's asn1crypto encoder."""
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
    from pkcs11.util.ec import encode_ecdsa_signature

    for size in (32, 48):
        for raw in (os.urandom(2 * size), b"\x00" * (size - 1) + b"\x01" + b"\x80" * size, b"\xff" * (2 * size)):
            half = len(raw) // 2
            ours = encode_dss_signature(int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big"))
            assert ours == encode_ecdsa_signature(raw)

