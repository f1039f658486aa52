"""Artifacts (docs/verification.md A3): digest arguments and the one streaming hasher."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from verifier import InputError, Reason, parse_artifact_argument
from verifier._internal.artifact import artifact_digests, hash_file, read_whole
from verifier._internal.limits import DEFAULT_LIMITS


def test_a_digest_argument_is_a_digest(tmp_path: Path) -> None:
    digest = "ab" * 32
    parsed = parse_artifact_argument(f"sha256:{digest}")
    assert parsed.path is None and parsed.given_digest == ("sha256", bytes.fromhex(digest))
    assert artifact_digests(parsed, ["sha256", "sha384"]) == {"sha256": bytes.fromhex(digest)}


@pytest.mark.parametrize("arg", ["sha256:abcd", "sha384:" + "00" * 32, "sha512:" + "0" * 127])
def test_a_digest_of_the_wrong_length_is_refused(arg: str) -> None:
    with pytest.raises(InputError) as info:
        parse_artifact_argument(arg)
    assert info.value.reason is Reason.ARTIFACT_BAD_DIGEST


def test_an_existing_file_named_like_a_digest_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "sha256:" + "cd" * 32
    monkeypatch.chdir(tmp_path)
    Path(name).write_bytes(b"x")
    assert parse_artifact_argument(name).path == name


@pytest.mark.parametrize("make", [lambda p: p, lambda p: p / "missing"], ids=["directory", "missing"])
def test_not_a_readable_file(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as info:
        parse_artifact_argument(str(make(tmp_path)))
    assert info.value.reason is Reason.ARTIFACT_UNREADABLE


def test_hash_file_hashes_once_with_every_name(tmp_path: Path) -> None:
    data = b"a" * (2 * DEFAULT_LIMITS.hash_chunk_bytes + 3)
    path = tmp_path / "f"
    path.write_bytes(data)
    digests = hash_file(path, ["sha256", "sha512", "sha256"])
    assert digests == {"sha256": hashlib.sha256(data).digest(), "sha512": hashlib.sha512(data).digest()}


def test_read_whole_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"12345")
    with pytest.raises(InputError) as info:
        read_whole(path, "sha256", DEFAULT_LIMITS._replace(max_ed25519_message_bytes=4))
    assert info.value.reason is Reason.INPUT_TOO_LARGE
