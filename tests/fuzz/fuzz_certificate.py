"""Fuzz the certificate profile (pki/profile.py), the leaf checks (pki/chain.py) and the Fulcio
summary (pki/fulcio.py) on arbitrary DER that cryptography accepts as a certificate, and the
bundle parser's certificate loader (which touches every lazily parsed part)."""

from __future__ import annotations

try:
    from tests.fuzz._harness import instrumented, run
except ImportError:  # run as a script: python tests/fuzz/fuzz_x.py
    from _harness import instrumented, run  # type: ignore[import-not-found,no-redef]

with instrumented("verifier"):
    from cryptography import x509

    from verifier._internal.bundle.parse import _load_certificate
    from verifier._internal.pki import chain, fulcio, profile
    from verifier.errors import AirsealError


def test_one_input(data: bytes) -> None:
    try:
        cert = x509.load_der_x509_certificate(data)
    except (ValueError, x509.InvalidVersion):
        return  # not a certificate: the bundle parser refuses it as cert.malformed
    profile.subject(cert)
    profile.issuer(cert)
    try:
        chain.check_leaf_profile(cert)  # before the bundle parser's checks: any DER cryptography accepts
    except AirsealError:
        pass
    try:
        cert = _load_certificate(data, "certificate")  # what every bundle certificate goes through
    except AirsealError:
        return
    try:
        profile.ca_problem(cert, 0, key_usage_required=True)
        profile.ca_problem(cert, 1, key_usage_required=False)
        chain._checked_ca_chain.__wrapped__((data,))
    except AirsealError:
        pass
    try:
        chain.check_leaf_profile(cert)
    except AirsealError:
        pass
    try:
        fulcio.summarize_certificate(cert)
    except AirsealError:
        pass


if __name__ == "__main__":
    run(test_one_input)
