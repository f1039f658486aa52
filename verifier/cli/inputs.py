"""Reading what `verify` and `gate` take on the command line: capped files, keys (PEM files or
`pkcs11:` URIs), regexps, and trust (a trusted_root.json, JSON Lines of them, or a named trust).

Shared by `verifier.cli.verify` and `verifier.cli.gate`; imports stay lazy, because `verify`
starts without click and without pkcs11 unless a `pkcs11:` key is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

from verifier._internal.limits import DEFAULT_LIMITS
from verifier.cli.common import UsageProblem
from verifier.errors import InputError, Reason


def read_capped(path: str, what: str, reason: Reason, max_bytes: int) -> bytes:
    """A regular file of at most `max_bytes`: a FIFO, device or oversized file is refused unread.

    Raises: InputError(reason) when the file cannot be read, or input.too_large.
    """
    from verifier._internal.inputfile import read_input_file

    return read_input_file(path, what=what, reason=reason, max_bytes=max_bytes)


def pkcs11_public_pem(uri: str, warn: Optional[Callable[[str], None]] = None) -> bytes:
    """PEM SubjectPublicKeyInfo of the key a `pkcs11:` URI names (HsmError, exit 5)."""
    from hsm.keys import public_key_for_uri
    from verifier._internal.keyio import Encoding, PublicFormat

    key = public_key_for_uri(uri, warn=warn)
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def load_key_ref(ref: str, warn: Optional[Callable[[str], None]] = None) -> Any:
    """A `TrustedKey` from a PEM file or a `pkcs11:` URI."""
    from verifier._internal.policy import load_pem_public_key

    if ref.startswith("pkcs11:"):
        return load_pem_public_key(pkcs11_public_pem(ref, warn), "the token key")
    return load_pem_public_key(read_capped(ref, "key", Reason.KEY_MALFORMED, DEFAULT_LIMITS.max_key_bytes), ref)


def trusted_root_documents(path: str) -> list[bytes]:
    """The trusted roots in one `--trusted-root` file: one JSON document, or JSON Lines of them.

    Each is parsed (and so validated) here. Raises InputError (trustroot.*), exit 3.
    """
    from verifier._internal.trustroot.load import load_trusted_root

    data = read_capped(path, "trusted root", Reason.TRUSTROOT_MALFORMED, DEFAULT_LIMITS.max_trusted_root_bytes)
    try:
        load_trusted_root(data)
        return [data]
    except InputError as first:
        lines = [line.strip() for line in data.splitlines() if line.strip()]
        if len(lines) < 2:
            raise
        try:
            for line in lines:
                load_trusted_root(line)
        except InputError:
            raise first from None
        return lines


def resolve_trust(
    trusted_roots: tuple[str, ...], trust_name: Optional[str], *, max_age_days: Optional[int] = None
) -> tuple[list[tuple[str, bytes]], list[str]]:
    """(source, bytes) of each trusted root to use, and warnings for a person.

    `--trusted-root` files win (each may hold several roots); otherwise the named trust
    (default public-good) from the store, or its shipped snapshot.
    """
    if trusted_roots:
        if trust_name:
            raise UsageProblem("give --trusted-root or --trust, not both")
        out: list[tuple[str, bytes]] = []
        for path in trusted_roots:
            docs = trusted_root_documents(path)
            out.extend((path if len(docs) == 1 else f"{path}#{i + 1}", doc) for i, doc in enumerate(docs))
        return out, []
    from verifier._internal.trustroot.store import resolve_trusted_root

    name = trust_name or "public-good"
    resolved = resolve_trusted_root(name, max_age_days=max_age_days)
    return [(f"trust:{name}", resolved.data)], list(resolved.warnings)


__all__ = ["UsageProblem", "load_key_ref", "pkcs11_public_pem", "read_capped", "resolve_trust", "trusted_root_documents"]
