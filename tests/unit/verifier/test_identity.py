"""Identity policy (docs/verification.md §9): exact or whole-value regexp over every SAN, and the issuer."""

from __future__ import annotations

import pytest

from verifier import Identity, Reason, VerificationError
from verifier._internal.pki.fulcio import CertificateSummary

SUMMARY = CertificateSummary(
    sans=("https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1", "builder@example.com"),
    issuer="https://token.actions.githubusercontent.com",
    serial="1",
    not_before="",
    not_after="",
)


@pytest.mark.parametrize(
    "identity",
    [
        Identity(san="builder@example.com"),
        Identity(san_regexp=r"https://github\.com/org/repo/.*"),
        Identity(san="builder@example.com", issuer="https://token.actions.githubusercontent.com"),
        Identity(san="builder@example.com", issuer_regexp=r"https://token\.actions\..*"),
    ],
)
def test_matching_identities(identity: Identity) -> None:
    assert identity.verify(SUMMARY) in SUMMARY.sans


@pytest.mark.parametrize(
    "identity",
    [
        Identity(san="builder@example.co"),  # exact means exact
        Identity(san_regexp=r"github\.com/org"),  # a regexp must match the whole value
        Identity(san="builder@example.com", issuer="https://accounts.google.com"),
        Identity(san="builder@example.com", issuer_regexp=r"token"),  # whole-value again
    ],
)
def test_mismatches_are_identity_mismatch(identity: Identity) -> None:
    with pytest.raises(VerificationError) as info:
        identity.verify(SUMMARY)
    assert info.value.reason is Reason.IDENTITY_MISMATCH and info.value.check == "identity"


def test_an_issuer_is_required_when_asked_for_even_if_the_certificate_has_none() -> None:
    with pytest.raises(VerificationError):
        Identity(san="builder@example.com", issuer_regexp=".*").verify(SUMMARY._replace(issuer=None))
