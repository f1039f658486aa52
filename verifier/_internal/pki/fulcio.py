"""Reduce a Fulcio certificate to what identity policy needs: SANs and the OIDC issuer."""

from __future__ import annotations

from typing import Optional

from cryptography import x509
from cryptography.x509.oid import ObjectIdentifier

from verifier._internal.record import Record
from verifier.errors import Reason, VerificationError

OID_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OID_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
OID_OTHERNAME_SAN = ObjectIdentifier("1.3.6.1.4.1.57264.1.7")


class CertificateSummary(Record):
    sans: tuple[str, ...]
    issuer: Optional[str]
    serial: str
    not_before: str
    not_after: str


def _der_utf8(value: bytes) -> str:
    """One DER UTF8String, nothing after it."""
    if len(value) < 2 or value[0] != 0x0C:
        raise ValueError("not a UTF8String")
    length = value[1]
    offset = 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or len(value) < 2 + n:
            raise ValueError("bad length")
        length = int.from_bytes(value[2 : 2 + n], "big")
        offset = 2 + n
    if offset + length != len(value):
        raise ValueError("trailing bytes")
    return value[offset:].decode("utf-8")


def summarize_certificate(cert: x509.Certificate) -> CertificateSummary:
    """Raises VerificationError(identity.issuer_conflict) for a broken or contradictory issuer."""
    sans: list[str] = []
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        sans.extend(san.get_values_for_type(x509.UniformResourceIdentifier))
        sans.extend(san.get_values_for_type(x509.RFC822Name))
        for other in san.get_values_for_type(x509.OtherName):
            if other.type_id == OID_OTHERNAME_SAN:
                try:
                    sans.append(_der_utf8(other.value))
                except (ValueError, UnicodeDecodeError):
                    pass
    except x509.ExtensionNotFound:
        pass

    issuer_v1 = issuer_v2 = None
    for ext in cert.extensions:
        if ext.oid == OID_ISSUER_V1:
            issuer_v1 = ext.value.value.decode("utf-8", "replace")
        elif ext.oid == OID_ISSUER_V2:
            try:
                issuer_v2 = _der_utf8(ext.value.value)
            except (ValueError, UnicodeDecodeError) as exc:
                raise VerificationError(
                    Reason.IDENTITY_ISSUER_CONFLICT,
                    "the certificate's OIDC issuer extension (1.3.6.1.4.1.57264.1.8) is not a UTF8String",
                    check="identity",
                ) from exc
    if issuer_v1 is not None and issuer_v2 is not None and issuer_v1 != issuer_v2:
        raise VerificationError(
            Reason.IDENTITY_ISSUER_CONFLICT,
            "the certificate names two different OIDC issuers",
            context={"issuer_v1": issuer_v1, "issuer_v2": issuer_v2},
            check="identity",
        )
    return CertificateSummary(
        sans=tuple(sans),
        issuer=issuer_v2 if issuer_v2 is not None else issuer_v1,
        serial=format(cert.serial_number, "x"),
        not_before=cert.not_valid_before_utc.isoformat(),
        not_after=cert.not_valid_after_utc.isoformat(),
    )
