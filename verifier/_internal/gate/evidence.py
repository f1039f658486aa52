"""Which files of a tree are evidence, and for which artifact: the naming conventions (cli.md).

What an evidence file holds (a bundle, GitHub attestation JSON Lines, PEP 740 objects, npm
attestation responses, cosign's older bundles) is read by the one evidence seam,
`verifier._internal.evidence.load_evidence`, exactly as `airseal verify --bundle` reads it.
Pure: no I/O.
"""

from __future__ import annotations

from typing import Optional

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
    "EVIDENCE_SUFFIXES",
    "evidence_base",
    "looks_like_evidence",
]
