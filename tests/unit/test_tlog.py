"""Merkle inclusion (RFC 9162 vectors) and signed-note checkpoints."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier._internal.algorithms import signed_note_key_id
from verifier._internal.timefmt import parse_rfc3339
from verifier._internal.tlog.checkpoint import parse_signed_note, verify_checkpoint
from verifier._internal.tlog.merkle import leaf_hash, node_hash, verify_inclusion
from verifier._internal.trustroot.model import TransparencyLog, ValidityPeriod
from verifier.errors import Reason, VerificationError

A, B = leaf_hash(b"a"), leaf_hash(b"b")
ROOT_AB = node_hash(A, B)


def test_spec_vectors() -> None:
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert A.hex() == "022a6979e6dab7aa5ae4c3e5e45f7e977112a7e63593820dbec1ec738a24f93c"
    assert ROOT_AB.hex() == "b137985ff484fb600db93107c77b0365c80d78f5b429ded0fd97361d077999eb"
    verify_inclusion(0, 2, A, [B], ROOT_AB)
    verify_inclusion(1, 2, B, [A], ROOT_AB)


def _tree(leaves: list[bytes]) -> bytes:
    hashes = [leaf_hash(x) for x in leaves]
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return node_hash(_tree(leaves[:k]), _tree(leaves[k:]))


def _proof(leaves: list[bytes], index: int) -> list[bytes]:
    if len(leaves) == 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if index < k:
        return _proof(leaves[:k], index) + [_tree(leaves[k:])]
    return _proof(leaves[k:], index - k) + [_tree(leaves[:k])]


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.data())
def test_every_leaf_of_every_tree_size_proves_and_any_bit_flip_fails(size: int, data: st.DataObject) -> None:
    leaves = [bytes([i % 256, i // 256]) for i in range(size)]
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    root, proof = _tree(leaves), _proof(leaves, index)
    verify_inclusion(index, size, leaf_hash(leaves[index]), proof, root)
    if proof:
        which = data.draw(st.integers(min_value=0, max_value=len(proof) - 1))
        bit = data.draw(st.integers(min_value=0, max_value=255))
        bad = bytearray(proof[which])
        bad[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(VerificationError) as info:
            verify_inclusion(index, size, leaf_hash(leaves[index]), proof[:which] + [bytes(bad)] + proof[which + 1 :], root)
        assert info.value.reason is Reason.TLOG_INCLUSION_PROOF_INVALID


@pytest.mark.parametrize(
    "index, size, proof",
    [(2, 2, [B]), (0, 2, []), (0, 2, [B, B]), (0, 2, [b"\x00" * 31]), (-1, 2, [B])],
    ids=["index beyond tree", "short proof", "long proof", "short hash", "negative index"],
)
def test_malformed_proofs_are_refused(index: int, size: int, proof: list[bytes]) -> None:
    with pytest.raises(VerificationError) as info:
        verify_inclusion(index, size, A, proof, ROOT_AB)
    assert info.value.reason is Reason.TLOG_INCLUSION_PROOF_INVALID


def _log(key: object, origin: str) -> TransparencyLog:
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)  # type: ignore[attr-defined]
    return TransparencyLog(
        base_url=f"https://{origin}",
        key_details="PKIX_ED25519" if isinstance(key, ed25519.Ed25519PublicKey) else "PKIX_ECDSA_P256_SHA_256",
        public_key=key,  # type: ignore[arg-type]
        spki_der=spki,
        valid_for=ValidityPeriod(parse_rfc3339("2020-01-01T00:00:00Z", "t"), None),
        log_id=signed_note_key_id(origin, key, spki),
        checkpoint_key_id=None,
        operator=None,
    )


def _note(text: str, lines: list[tuple[str, bytes]]) -> str:
    return text + "\n" + "".join(f"\u2014 {name} {base64.b64encode(sig).decode()}\n" for name, sig in lines)


ORIGIN = "log.example"
TEXT = f"{ORIGIN}\n5\n{base64.b64encode(ROOT_AB).decode()}\n"


@pytest.fixture(params=["ed25519", "ecdsa"])
def signer(request: pytest.FixtureRequest) -> tuple[object, TransparencyLog]:
    if request.param == "ed25519":
        priv: object = ed25519.Ed25519PrivateKey.generate()
    else:
        priv = ec.generate_private_key(ec.SECP256R1())
    return priv, _log(priv.public_key(), ORIGIN)  # type: ignore[attr-defined]


def _sign(priv: object, data: bytes) -> bytes:
    if isinstance(priv, ed25519.Ed25519PrivateKey):
        return priv.sign(data)
    from cryptography.hazmat.primitives import hashes

    return priv.sign(data, ec.ECDSA(hashes.SHA256()))  # type: ignore[attr-defined]


def test_checkpoint_verifies_and_ignores_witness_lines(signer: tuple[object, TransparencyLog]) -> None:
    priv, log = signer
    sig = log.log_id[:4] + _sign(priv, TEXT.encode())
    note = _note(TEXT, [("witness.example", b"\x01\x02\x03\x04" + b"\x00" * 72), (ORIGIN, sig)])
    body = verify_checkpoint(note, log, expected_origins=(ORIGIN,), key_id=log.log_id)
    assert body.tree_size == 5 and body.root_hash == ROOT_AB


CHECKPOINT_FAILURES = [
    ("bad signature", lambda log, sig: _note(TEXT, [(ORIGIN, log.log_id[:4] + b"\x00" * 64)]), Reason.TLOG_CHECKPOINT_SIGNATURE_INVALID),
    ("wrong key hint", lambda log, sig: _note(TEXT, [(ORIGIN, b"\xff\xff\xff\xff" + sig)]), Reason.TLOG_CHECKPOINT_NO_MATCHING_KEY),
    ("wrong name", lambda log, sig: _note(TEXT, [("other.example", log.log_id[:4] + sig)]), Reason.TLOG_CHECKPOINT_NO_MATCHING_KEY),
    ("missing origin", lambda log, sig: _note(TEXT.split("\n", 1)[1], [(ORIGIN, log.log_id[:4] + sig)]), Reason.TLOG_CHECKPOINT_MALFORMED),
    ("bad size", lambda log, sig: _note(TEXT.replace("\n5\n", "\n05\n"), [(ORIGIN, log.log_id[:4] + sig)]), Reason.TLOG_CHECKPOINT_MALFORMED),
    ("control character", lambda log, sig: _note(TEXT.replace("log", "l\x01g"), [(ORIGIN, log.log_id[:4] + sig)]), Reason.TLOG_NOTE_MALFORMED),
    ("short signature", lambda log, sig: _note(TEXT, [(ORIGIN, b"\x01\x02")]), Reason.TLOG_NOTE_MALFORMED),
    ("no signature block", lambda log, sig: TEXT, Reason.TLOG_NOTE_MALFORMED),
    ("line without em dash", lambda log, sig: TEXT + "\n- x AAAAAAA=\n", Reason.TLOG_NOTE_MALFORMED),
]


@pytest.mark.parametrize("make, reason", [(m, r) for _, m, r in CHECKPOINT_FAILURES], ids=[n for n, _, _ in CHECKPOINT_FAILURES])
def test_checkpoint_failures(signer: tuple[object, TransparencyLog], make: object, reason: Reason) -> None:
    priv, log = signer
    sig = _sign(priv, TEXT.encode())
    note = make(log, sig)  # type: ignore[operator]
    with pytest.raises(VerificationError) as info:
        verify_checkpoint(note, log, expected_origins=(ORIGIN,), key_id=log.log_id)
    assert info.value.reason is reason


def test_validly_signed_checkpoint_for_another_origin_is_refused(signer: tuple[object, TransparencyLog]) -> None:
    priv, log = signer
    other = TEXT.replace(ORIGIN, "other.example", 1)
    note = _note(other, [(ORIGIN, log.log_id[:4] + _sign(priv, other.encode()))])
    with pytest.raises(VerificationError) as info:
        verify_checkpoint(note, log, expected_origins=(ORIGIN,), key_id=log.log_id)
    assert info.value.reason is Reason.TLOG_CHECKPOINT_MALFORMED


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_note_parser_gives_a_note_or_a_reason_coded_error(text: str) -> None:
    try:
        parse_signed_note(text)
    except VerificationError as err:
        assert err.reason is Reason.TLOG_NOTE_MALFORMED


@pytest.mark.parametrize("code", [0x00, 0x09, 0x0B, 0x0D, 0x1F, 0x7F])
def test_every_control_character_but_newline_is_refused(code: int) -> None:
    with pytest.raises(VerificationError) as info:
        parse_signed_note(_note(TEXT.replace("log", f"l{chr(code)}g"), [(ORIGIN, b"\x01\x02\x03\x04" + b"\x00" * 64)]))
    assert info.value.reason is Reason.TLOG_NOTE_MALFORMED and "control characters" in info.value.detail


@pytest.mark.parametrize("text", ["a\u0080b", "caf\u00e9", "\u2014 x", " ~"])
def test_printable_and_non_ascii_text_is_not_a_control_character(text: str) -> None:
    note = parse_signed_note(_note(TEXT.replace("log", text), [(ORIGIN, b"\x01\x02\x03\x04" + b"\x00" * 64)]))
    assert text.encode() in note.text
