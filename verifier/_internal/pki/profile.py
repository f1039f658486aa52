"""X.509 profile rules shared by the Fulcio path and the TSA path: what makes a certificate an
acceptable issuer, and which critical extensions the verifier understands.

Owns: the known-critical extension sets, the CA checks (basicConstraints CA and pathLen,
keyUsage keyCertSign, no unknown critical extensions) and the subject text used in messages.
Must not: build paths, check signatures or validity windows, or raise: callers turn the
returned problem text into their own reason code (`cert.chain_invalid`, `tsa.untrusted`).
"""

from __future__ import annotations

from collections.abc import Set
from typing import Optional

from cryptography import x509
from cryptography.x509.oid import ExtensionOID, ObjectIdentifier

__all__ = [
    "KNOWN_CRITICAL_EXTENSIONS",
    "MALFORMED_EXTENSION_ERRORS",
    "TSA_KNOWN_CRITICAL_EXTENSIONS",
    "basic_constraints",
    "ca_problem",
    "is_ca",
    "subject",
    "unknown_critical_extensions",
]

KNOWN_CRITICAL_EXTENSIONS: frozenset[ObjectIdentifier] = frozenset(
    {
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.KEY_USAGE,
        ExtensionOID.EXTENDED_KEY_USAGE,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    }
)
"""Extensions the verifier processes, so they may be critical in a Fulcio certificate."""

# The TSA code accepted critical key identifiers before this module existed and still reads
# the subjectKeyIdentifier (a SignerInfo may name its signer by it), so the TSA keeps the wider
# set. Fulcio certificates keep the stricter one: nothing on that path reads either identifier,
# and RFC 5280 §4.2.1.1/§4.2.1.2 require both to be non-critical, so a union would only loosen it.
TSA_KNOWN_CRITICAL_EXTENSIONS: frozenset[ObjectIdentifier] = KNOWN_CRITICAL_EXTENSIONS | {
    ExtensionOID.SUBJECT_KEY_IDENTIFIER,
    ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
}
"""Extensions that may be critical in a TSA certificate (the Fulcio set plus the key identifiers)."""

MALFORMED_EXTENSION_ERRORS: tuple[type[Exception], ...] = (
    ValueError,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
)
"""What cryptography raises when it decodes a certificate's extensions lazily and fails."""


def subject(cert: x509.Certificate) -> str:
    """RFC 4514 subject of `cert`, or a placeholder when it cannot be rendered."""
    try:
        return cert.subject.rfc4514_string()
    except Exception:  # a hostile name must not turn a rejection into a crash
        return "<unprintable subject>"


def issuer(cert: x509.Certificate) -> str:
    """RFC 4514 issuer of `cert`, or a placeholder when it cannot be rendered."""
    try:
        return cert.issuer.rfc4514_string()
    except Exception:  # a hostile name must not turn a rejection into a crash
        return "<unprintable issuer>"


def basic_constraints(cert: x509.Certificate) -> Optional[x509.BasicConstraints]:
    """The basicConstraints value of `cert`, None when absent.

    Raises:
        ValueError: the extensions cannot be decoded (also DuplicateExtension).
    """
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return None


def is_ca(cert: x509.Certificate) -> bool:
    """True when basicConstraints is present with CA=true.

    Raises:
        ValueError: the extensions cannot be decoded (also DuplicateExtension).
    """
    bc = basic_constraints(cert)
    return bc is not None and bool(bc.ca)


def unknown_critical_extensions(
    cert: x509.Certificate, known: Set[ObjectIdentifier] = KNOWN_CRITICAL_EXTENSIONS
) -> list[str]:
    """Dotted OIDs of the critical extensions of `cert` that are not in `known`.

    Raises:
        ValueError: the extensions cannot be decoded (also DuplicateExtension).
    """
    return [e.oid.dotted_string for e in cert.extensions if e.critical and e.oid not in known]


def ca_problem(
    cert: x509.Certificate,
    depth: int,
    *,
    key_usage_required: bool = True,
    known_critical: Set[ObjectIdentifier] = KNOWN_CRITICAL_EXTENSIONS,
) -> Optional[str]:
    """Why `cert` may not issue with `depth` CA certificates below it in the path, else None.

    Malformed extensions are reported as a problem, never raised.
    """
    try:
        return _ca_problem(cert, depth, key_usage_required, known_critical)
    except MALFORMED_EXTENSION_ERRORS as exc:
        return f"{subject(cert)} has malformed extensions: {exc}"


def _ca_problem(
    cert: x509.Certificate, depth: int, key_usage_required: bool, known_critical: Set[ObjectIdentifier]
) -> Optional[str]:
    """`ca_problem` without the mapping of decoding errors."""
    bc = basic_constraints(cert)
    if bc is None:
        return f"{subject(cert)} is not a CA (no basicConstraints)"
    if not bc.ca:
        return f"{subject(cert)} is not a CA (basicConstraints CA=false)"
    if bc.path_length is not None and depth > bc.path_length:
        return f"{subject(cert)} pathLenConstraint {bc.path_length} exceeded by {depth} CA certificates below it"
    problem = _key_cert_sign_problem(cert, key_usage_required)
    if problem is not None:
        return problem
    unknown = unknown_critical_extensions(cert, known_critical)
    if unknown:
        return f"{subject(cert)} has unknown critical extensions: " + ", ".join(unknown)
    return None


def _key_cert_sign_problem(cert: x509.Certificate, key_usage_required: bool) -> Optional[str]:
    """Why keyUsage does not allow certificate signing, else None."""
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return f"{subject(cert)} has no keyUsage" if key_usage_required else None
    if not ku.key_cert_sign:
        return f"{subject(cert)} keyUsage lacks keyCertSign"
    return None
