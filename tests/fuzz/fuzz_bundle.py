"""Fuzz the evidence reader (Sigstore bundles and the wrapper formats of evidence.py), then
verify whatever parses against the shipped public-good trusted root and a fixed digest."""

from __future__ import annotations

try:
    from tests.fuzz._harness import instrumented, run
except ImportError:  # run as a script: python tests/fuzz/fuzz_x.py
    from _harness import instrumented, run  # type: ignore[import-not-found,no-redef]

with instrumented("verifier"):
    from verifier._internal.artifact import ArtifactInput
    from verifier._internal.evidence import load_evidence
    from verifier._internal.identity import Identity
    from verifier._internal.policy import VerificationPolicy
    from verifier._internal.trustroot.embedded import embedded_trusted_root_bytes
    from verifier._internal.trustroot.load import load_trusted_root
    from verifier._internal.verify import verify_bundle
    from verifier.errors import AirsealError

ROOT = load_trusted_root(embedded_trusted_root_bytes("public-good"))
ARTIFACT = ArtifactInput(given_digest=("sha256", bytes.fromhex("a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf")))
POLICY = VerificationPolicy(identity=Identity(san_regexp=".*", issuer_regexp=".*"), min_tlog_entries=0, min_timestamps=0)


def test_one_input(data: bytes) -> None:
    try:
        found = load_evidence(data)
    except AirsealError:
        return
    for evidence in found:
        try:
            result = verify_bundle(evidence.bundle, ROOT, ARTIFACT, POLICY)
            result.to_json()
        except AirsealError:
            pass


if __name__ == "__main__":
    run(test_one_input)
