"""Evidence formats: bytes of an evidence file -> the Sigstore bundles it carries.

The seam other formats plug into (GitHub attestation JSON Lines, PEP 740, npm attestation
responses): an adapter is a function `(data, limits) -> list[Bundle] | None` that returns None
when the bytes are not its format, raises `InputError` when they are its format but broken,
and otherwise returns the bundles. `load_evidence` tries the adapters in order; the first
that recognises the bytes decides. Today there is one adapter, the plain Sigstore bundle.

Also here: the file-name conventions that pair evidence with an artifact (cli.md, "gate").
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Optional

from verifier._internal.bundle.model import Bundle
from verifier._internal.bundle.parse import load_bundle
from verifier._internal.limits import DEFAULT_LIMITS, Limits
from verifier.errors import InputError, Reason

Adapter = Callable[[bytes, Limits], Optional[list[Bundle]]]

EVIDENCE_SUFFIXES: tuple[str, ...] = (
    ".attestations.json",
    ".intoto.jsonl",
    ".sigstore.json",
    ".provenance",
    ".sigstore",
    ".bundle",
    ".jsonl",
)
"""`F<suffix>` beside `F` is evidence for `F` (longest first); so is `F.<anything>.attestation`."""
ATTESTATION_SUFFIX = ".attestation"


def _sigstore_bundle(data: bytes, limits: Limits) -> Optional[list[Bundle]]:
    """A single protobuf-JSON Sigstore bundle (any of the media types the parser reads)."""
    head = data[:4096].lstrip()
    if not head.startswith(b"{") or b"mediaType" not in data[:65536]:
        return None
    return [load_bundle(data, limits)]


_ADAPTERS: list[tuple[str, Adapter]] = [("sigstore-bundle", _sigstore_bundle)]


def register_format(name: str, adapter: Adapter, *, before: Optional[str] = None) -> None:
    """Add an evidence format; `before` puts it ahead of a named one (default: last)."""
    if any(existing == name for existing, _ in _ADAPTERS):
        raise ValueError(f"evidence format {name!r} is already registered")
    if before is None:
        _ADAPTERS.append((name, adapter))
        return
    index = next(i for i, (existing, _) in enumerate(_ADAPTERS) if existing == before)
    _ADAPTERS.insert(index, (name, adapter))


def formats() -> Sequence[str]:
    return tuple(name for name, _ in _ADAPTERS)


def load_evidence(data: bytes, limits: Limits = DEFAULT_LIMITS) -> list[tuple[str, Bundle]]:
    """Every bundle an evidence file carries, each with the name of its format.

    Raises:
        InputError: input.too_large over `max_bundle_bytes` or `gate_max_bundles_per_evidence`;
            the recognising adapter's reason (bundle.*) when the content is broken;
            bundle.malformed_json when no adapter recognises it.
    """
    if len(data) > limits.max_bundle_bytes:
        raise InputError(Reason.INPUT_TOO_LARGE, f"evidence file is larger than {limits.max_bundle_bytes} bytes")
    for name, adapter in _ADAPTERS:
        bundles = adapter(data, limits)
        if bundles is None:
            continue
        if len(bundles) > limits.gate_max_bundles_per_evidence:
            raise InputError(
                Reason.INPUT_TOO_LARGE, f"evidence file carries more than {limits.gate_max_bundles_per_evidence} bundles"
            )
        return [(name, bundle) for bundle in bundles]
    raise InputError(
        Reason.BUNDLE_MALFORMED_JSON,
        "not evidence in a format airseal reads (" + ", ".join(formats()) + ")",
    )


def evidence_base(name: str, files: set[str] | frozenset[str]) -> Optional[str]:
    """The artifact `F` in `files` that evidence file `name` belongs to by name, else None."""
    for suffix in EVIDENCE_SUFFIXES:
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if base and base != name and base in files:
                return base
    if name.endswith(ATTESTATION_SUFFIX):
        stem = name[: -len(ATTESTATION_SUFFIX)]
        best = None
        index = stem.find(".")
        while index > 0:
            if stem[:index] in files:
                best = stem[:index]  # keep the longest base
            index = stem.find(".", index + 1)
        return best
    return None


def looks_like_evidence(name: str) -> bool:
    """A name in one of the evidence conventions (whether or not its artifact is there)."""
    return name.endswith(EVIDENCE_SUFFIXES) or (name.endswith(ATTESTATION_SUFFIX) and "." in name[: -len(ATTESTATION_SUFFIX)])


__all__ = [
    "ATTESTATION_SUFFIX",
    "Adapter",
    "EVIDENCE_SUFFIXES",
    "evidence_base",
    "formats",
    "load_evidence",
    "looks_like_evidence",
    "register_format",
]
