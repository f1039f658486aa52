"""Identity policy for certificate-based bundles: SAN and OIDC issuer, exact or full-match regexp."""

from __future__ import annotations

import re
from typing import Optional

from verifier._internal.pki.fulcio import CertificateSummary
from verifier._internal.record import Record
from verifier.errors import Reason, VerificationError


class Identity(Record):
    """Every SAN of the certificate is tried; regexps must match the whole value (re.fullmatch)."""

    san: Optional[str] = None
    san_regexp: Optional[str] = None
    issuer: Optional[str] = None
    issuer_regexp: Optional[str] = None

    def describe(self) -> str:
        san = self.san if self.san is not None else f"/{self.san_regexp}/"
        issuer = self.issuer if self.issuer is not None else (f"/{self.issuer_regexp}/" if self.issuer_regexp else "any")
        return f"{san} (issuer {issuer})"

    def verify(self, summary: CertificateSummary) -> str:
        """Returns the matching SAN; raises VerificationError(identity.mismatch)."""
        matched = None
        for value in summary.sans:
            if self.san is not None and value == self.san:
                matched = value
                break
            if self.san_regexp is not None and re.fullmatch(self.san_regexp, value):
                matched = value
                break
        if matched is None:
            raise VerificationError(
                Reason.IDENTITY_MISMATCH,
                "the certificate's identity is not the expected one",
                context={"expected": self.describe(), "certificate_sans": list(summary.sans)},
                check="identity",
            )
        issuer_ok = True
        if self.issuer is not None:
            issuer_ok = summary.issuer == self.issuer
        elif self.issuer_regexp is not None:
            issuer_ok = summary.issuer is not None and re.fullmatch(self.issuer_regexp, summary.issuer) is not None
        if not issuer_ok:
            raise VerificationError(
                Reason.IDENTITY_MISMATCH,
                "the certificate's OIDC issuer is not the expected one",
                context={"expected": self.describe(), "certificate_issuer": summary.issuer},
                check="identity",
            )
        return matched
