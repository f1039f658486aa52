"""Fuzz the signed-note and checkpoint parsers (verifier/_internal/tlog/checkpoint.py).

The envelope reaches the parser as a str from JSON, so any code point may occur, lone
surrogates included: the harness decodes the bytes with surrogatepass to produce them.
"""

from __future__ import annotations

try:
    from tests.fuzz._harness import instrumented, run
except ImportError:  # run as a script: python tests/fuzz/fuzz_x.py
    from _harness import instrumented, run  # type: ignore[import-not-found,no-redef]

with instrumented("verifier"):
    from verifier._internal.tlog.checkpoint import parse_checkpoint_body, parse_signed_note
    from verifier.errors import AirsealError


def test_one_input(data: bytes) -> None:
    try:
        text = data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    try:
        note = parse_signed_note(text)
        parse_checkpoint_body(note.text)
    except AirsealError:
        pass
    try:
        parse_checkpoint_body(data)
    except AirsealError:
        pass


if __name__ == "__main__":
    run(test_one_input)
