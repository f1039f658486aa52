"""Fuzz the RFC 7512 PKCS#11 URI parser (hsm/uri.py), and its display round trip."""

from __future__ import annotations

try:
    from tests.fuzz._harness import instrumented, run
except ImportError:  # run as a script: python tests/fuzz/fuzz_x.py
    from _harness import instrumented, run  # type: ignore[import-not-found,no-redef]

with instrumented("hsm"):
    from hsm.uri import parse_uri
    from verifier.errors import AirsealError


def test_one_input(data: bytes) -> None:
    text = data.decode("utf-8", "surrogatepass") if data.isascii() else data.decode("utf-8", "replace")
    try:
        uri = parse_uri(text)
    except AirsealError:
        return
    shown = uri.display()
    again = parse_uri(shown)
    assert again.display() == shown, (text, shown)


if __name__ == "__main__":
    run(test_one_input)
