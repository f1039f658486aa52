"""Signed notes (C2SP signed-note) and the checkpoints they carry (docs/verification.md §4.6). Pure."""

from __future__ import annotations

import base64
import binascii
import re

from verifier._internal.crypto import verify_log_signature
from verifier._internal.encoding import MAX_INT64_DIGITS, shorten
from verifier._internal.limits import DEFAULT_LIMITS, Limits
from verifier._internal.record import Record
from verifier._internal.trustroot.model import TransparencyLog
from verifier.errors import Reason, VerificationError

_CHECK = "tlog.checkpoint"
_SIZE_RE = re.compile(r"\A(?:0|[1-9][0-9]*)\Z")


class NoteSignature(Record):
    name: str
    key_hint: bytes
    signature: bytes


class SignedNote(Record):
    text: bytes
    """The signed text, including its final newline."""
    signatures: tuple[NoteSignature, ...]


class CheckpointBody(Record):
    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...]


_CONTROL_CHARACTERS = dict.fromkeys([*range(0x0A), *range(0x0B, 0x20), 0x7F])
"""C0 controls but the newline, and DEL: a `str.translate` table that deletes them, so that a
note is scanned in C rather than a character at a time."""


def _note_error(why: str) -> VerificationError:
    return VerificationError(Reason.TLOG_NOTE_MALFORMED, f"checkpoint note is malformed: {why}", check=_CHECK)


def parse_signed_note(envelope: str, limits: Limits = DEFAULT_LIMITS) -> SignedNote:
    if len(envelope.translate(_CONTROL_CHARACTERS)) != len(envelope):
        raise _note_error("control characters")
    if not envelope.isascii():
        try:
            envelope.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _note_error("a lone surrogate (not UTF-8 text)") from exc
    split = envelope.rfind("\n\n")
    if split < 0:
        raise _note_error("no blank line between text and signatures")
    text = envelope[: split + 1]
    sig_block = envelope[split + 2 :]
    if not sig_block or not sig_block.endswith("\n"):
        raise _note_error("signature block is empty or does not end with a newline")
    lines = sig_block[:-1].split("\n")
    if len(lines) > limits.max_checkpoint_signatures:
        raise _note_error(f"more than {limits.max_checkpoint_signatures} signature lines")
    sigs = []
    for line in lines:
        if not line.startswith("\u2014 "):
            raise _note_error("signature line does not start with an em dash")
        parts = line[2:].split(" ")
        if len(parts) != 2 or not parts[0] or "+" in parts[0]:
            raise _note_error("signature line is not '— name base64'")
        name, sig_b64 = parts
        try:
            raw = base64.b64decode(sig_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _note_error("signature is not base64") from exc
        if len(raw) < 5:
            raise _note_error("signature is shorter than 5 bytes")
        sigs.append(NoteSignature(name=name, key_hint=raw[:4], signature=raw[4:]))
    return SignedNote(text=text.encode("utf-8"), signatures=tuple(sigs))


def parse_checkpoint_body(text: bytes) -> CheckpointBody:
    def bad(why: str) -> VerificationError:
        return VerificationError(Reason.TLOG_CHECKPOINT_MALFORMED, f"checkpoint is malformed: {why}", check=_CHECK)

    try:
        lines = text.decode("utf-8").split("\n")
    except UnicodeDecodeError as exc:
        raise bad("not UTF-8 text") from exc
    if lines and lines[-1] == "":
        lines = lines[:-1]
    if len(lines) < 3:
        raise bad("fewer than three lines (origin, tree size, root hash)")
    origin, size_text, root_b64 = lines[0], lines[1], lines[2]
    if not origin:
        raise bad("empty origin line")
    if len(size_text) > MAX_INT64_DIGITS or not _SIZE_RE.match(size_text):
        raise bad(f"tree size {shorten(size_text, 40)!r} is not a decimal number below 2**63")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad("root hash is not base64") from exc
    if len(root) != 32:
        raise bad("root hash is not 32 bytes")
    if any(not extra for extra in lines[3:]):
        raise bad("empty extension line")
    return CheckpointBody(origin=origin, tree_size=int(size_text), root_hash=root, extensions=tuple(lines[3:]))


def verify_checkpoint(
    envelope: str, log: TransparencyLog, *, expected_origins: tuple[str, ...] | None, key_id: bytes
) -> CheckpointBody:
    """Verify the log's signature on a checkpoint and return its body (docs/verification.md §4.6).

    `expected_origins` are the names a Rekor v2 log may sign under (its trusted-root origins);
    None means Rekor v1: its origin line reads "<host> - <tree id>" and its
    signature line is named after that host, which for a private deployment need not be the
    trusted root's baseUrl host. So for Rekor v1 the log's line is the one named after the
    origin line's host (or the trusted root's host) whose key hint is the trusted log's (the
    first 4 bytes of its id), and it must verify with the trusted log's key, as Rekor's own
    verifier requires. For Rekor v2 the line must carry one of the log's origins as its name.
    Witness and other signature lines are ignored; every line chosen must verify.

    Raises:
        VerificationError: tlog.note_malformed, tlog.checkpoint_malformed,
            tlog.checkpoint_no_matching_signature, tlog.checkpoint_signature_invalid.
    """
    note = parse_signed_note(envelope)
    body = parse_checkpoint_body(note.text)
    origin = body.origin
    if expected_origins is not None:
        names = set(expected_origins)
    else:
        names = {body.origin.split(" - ", 1)[0], body.origin, *log.origins}
    hint = key_id[:4]
    matching = [s for s in note.signatures if s.key_hint == hint and s.name in names]
    if not matching:
        raise VerificationError(
            Reason.TLOG_CHECKPOINT_NO_MATCHING_KEY,
            "checkpoint has no signature line from the trusted log",
            context={
                "expected_names": sorted(name[:200] for name in names),
                "expected_key_hint": hint.hex(),
                "lines": [f"{s.name} {s.key_hint.hex()}" for s in note.signatures],
            },
            check=_CHECK,
        )
    if expected_origins is not None and body.origin not in expected_origins:
        raise VerificationError(
            Reason.TLOG_CHECKPOINT_MALFORMED,
            "checkpoint origin is not the log's origin",
            context={"origin": body.origin[:200], "expected": list(expected_origins)},
            check=_CHECK,
        )
    for sig in matching:
        try:
            verify_log_signature(log, sig.signature, note.text)
        except VerificationError as err:
            raise VerificationError(
                Reason.TLOG_CHECKPOINT_SIGNATURE_INVALID,
                "checkpoint signature does not verify with the log's key",
                context={"origin": origin, "log": log.base_url},
                check=_CHECK,
            ) from err
    return body
