"""Fuzz the RFC 3161 TimeStampResp parser (verifier/_internal/tsa/parse.py) on arbitrary DER."""

from __future__ import annotations

try:
    from tests.fuzz._harness import instrumented, run
except ImportError:  # run as a script: python tests/fuzz/fuzz_x.py
    from _harness import instrumented, run  # type: ignore[import-not-found,no-redef]

with instrumented("verifier", "asn1crypto"):
    from verifier._internal.tsa.parse import matches_signer_id, parse_response
    from verifier.errors import AirsealError


def test_one_input(data: bytes) -> None:
    try:
        token = parse_response(data)
    except AirsealError:
        return
    for cert in token.embedded:
        matches_signer_id(cert, token)


if __name__ == "__main__":
    run(test_one_input)
