"""Fuzz trusted_root.json loading, and the once-per-process check of each CA chain it names."""

from __future__ import annotations

try:
    from tests.fuzz._harness import instrumented, run
except ImportError:  # run as a script: python tests/fuzz/fuzz_x.py
    from _harness import instrumented, run  # type: ignore[import-not-found,no-redef]

with instrumented("verifier"):
    from verifier._internal.pki import chain
    from verifier._internal.trustroot.load import load_trusted_root
    from verifier.errors import AirsealError


def test_one_input(data: bytes) -> None:
    try:
        root = load_trusted_root(data)
    except AirsealError:
        return
    for ca in root.certificate_authorities:
        if ca.chain_der:
            chain._checked_ca_chain.__wrapped__(ca.chain_der)  # uncached: every input checked afresh


if __name__ == "__main__":
    run(test_one_input)
