"""npm's attestations response (`GET /-/npm/v1/attestations/<name>@<version>`).

    {"attestations": [{"predicateType": URI, "bundle": BUNDLE}, ...]}

Usually two: SLSA provenance (a Fulcio certificate) and npm's publish attestation (signed with
the registry's key). The subject is `pkg:npm/<name>@<version>` with the tarball's sha512, so
the tarball is the artifact. Each wrapper's predicateType is its claim about the statement,
which verification then requires (docs/verification.md §8.3).
"""

from __future__ import annotations

from typing import Optional

from verifier._internal.evidence import Evidence
from verifier._internal.formats._common import bundle_from, field, malformed, parse_object
from verifier._internal.limits import Limits

FORMAT = "npm-attestations"


def read(data: bytes, limits: Limits) -> Optional[list[Evidence]]:
    if b'"attestations"' not in data or b'"predicateType"' not in data:
        return None
    doc = parse_object(data, FORMAT)
    if set(doc) != {"attestations"}:
        return None
    items = field(doc, "attestations", list, FORMAT, "file")
    if not items:
        malformed(FORMAT, "attestations", "empty")
    out = []
    for i, item in enumerate(items):
        where = f"attestations[{i}]"
        if not isinstance(item, dict) or set(item) != {"predicateType", "bundle"}:
            malformed(FORMAT, where, "not {predicateType, bundle}")
        predicate_type = field(item, "predicateType", str, FORMAT, where)
        bundle = bundle_from(field(item, "bundle", dict, FORMAT, where), limits, FORMAT, where)
        out.append(Evidence(FORMAT, f"{where} ({predicate_type})", bundle, predicate_type))
    return out
