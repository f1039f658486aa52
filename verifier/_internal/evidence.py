"""Evidence files in the formats the ecosystems ship, normalised into bundles. Pure: no I/O.

A user crosses the air gap with a Sigstore bundle, or with what an ecosystem wraps bundles in
(GitHub attestation JSON Lines, PyPI PEP 740 objects, npm attestation responses, cosign's older
bundle files). `load_evidence` recognises the format by content and returns every bundle it
holds, each with where it came from, so `verify` and the gate treat them alike. Each format is
one reader registered in `_READERS`; a reader returns None when the bytes are not its format.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Optional

from verifier._internal.bundle.model import Bundle
from verifier._internal.bundle.parse import load_bundle
from verifier._internal.limits import DEFAULT_LIMITS, Limits
from verifier._internal.record import Record
from verifier.errors import InputError, Reason

SIGSTORE_BUNDLE = "sigstore-bundle"


class Evidence(Record):
    """One bundle found in an evidence file."""

    format: str
    """The file's format: "sigstore-bundle", or a wrapper format's name."""
    location: str
    """Where in the file the bundle sits ("" for a plain bundle, "line 3", ...)."""
    bundle: Bundle
    expected_predicate_type: Optional[str] = None
    """A wrapper's own claim about the statement's predicate type, which must then agree."""
    subject_name_form: Optional[str] = None
    """When the format says the subject must carry the artifact's file name, how names
    compare ("pep740"); None when the format says nothing about names."""


Reader = Callable[[bytes, Limits], Optional[list[Evidence]]]


def _plain_bundle(data: bytes, limits: Limits) -> Optional[list[Evidence]]:
    return [Evidence(SIGSTORE_BUNDLE, "", load_bundle(data, limits))]


def _lazy(module: str) -> Reader:
    """A reader that imports its format module only when called (start-up time of `verify`)."""

    def read(data: bytes, limits: Limits) -> Optional[list[Evidence]]:
        import importlib

        found: Optional[list[Evidence]] = importlib.import_module(module).read(data, limits)
        return found

    read.__name__ = module.rsplit(".", 1)[-1]
    return read


def _sniff(reader: Reader, *needles: bytes) -> Reader:
    """Call `reader` only when the bytes contain one of `needles` (a plain bundle never pays)."""

    def read(data: bytes, limits: Limits) -> Optional[list[Evidence]]:
        if not any(needle in data for needle in needles):
            return None
        return reader(data, limits)

    read.__name__ = reader.__name__
    return read


def _maybe_json_lines(data: bytes, limits: Limits) -> Optional[list[Evidence]]:
    """JSON Lines only if the first non-blank line ends before the file does."""
    head = data.lstrip()
    newline = head.find(b"\n")
    if not head.startswith(b"{") or newline < 0 or head[:newline].rstrip() == b"{":
        return None
    return _lazy("verifier._internal.formats.github_jsonl")(data, limits)


_READERS: list[Reader] = [
    _sniff(_lazy("verifier._internal.formats.pep740"), b'"attestation_bundles"', b'"verification_material"'),
    _sniff(_lazy("verifier._internal.formats.npm"), b'"predicateType"'),
    _sniff(_lazy("verifier._internal.formats.cosign_bundle"), b'"rekorBundle"'),
    _maybe_json_lines,
]
"""Wrapper formats, tried in order before the plain bundle (which accepts or refuses anything).

One reader per format (verifier/_internal/formats/). PEP 740 comes before npm because a
provenance object also has "attestations" lists; JSON Lines comes last as its test is a parse.
"""


def load_evidence(data: bytes, limits: Limits = DEFAULT_LIMITS) -> list[Evidence]:
    """Every bundle in an evidence file, in file order.

    Raises:
        InputError: the file is too large or holds too many bundles, or is no format airseal reads (the plain-bundle
            parser's error then explains what is wrong with it as a bundle).
    """
    if len(data) > limits.max_bundle_bytes:
        raise InputError(
            Reason.INPUT_TOO_LARGE, f"evidence file is larger than {limits.max_bundle_bytes} bytes"
        )
    for reader in _READERS:
        found = reader(data, limits)
        if found is not None:
            if len(found) > limits.max_evidence_bundles:
                raise InputError(
                    Reason.INPUT_TOO_LARGE,
                    f"evidence file holds {len(found)} bundles (at most {limits.max_evidence_bundles})",
                )
            return found
    found = _plain_bundle(data, limits)
    assert found is not None
    return found


__all__ = ["Evidence", "Reader", "SIGSTORE_BUNDLE", "load_evidence"]
