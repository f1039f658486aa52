"""PyPI PEP 740 attestations: a provenance object, or a single attestation object.

    provenance:   {"version": 1, "attestation_bundles": [{"publisher": {...}, "attestations": [ATT, ...]}]}
    attestation:  {"version": 1,
                   "verification_material": {"certificate": B64(DER), "transparency_entries": [ENTRY, ...]},
                   "envelope": {"statement": B64(in-toto JSON), "signature": B64}}

An attestation becomes a v0.3 bundle: the certificate, every transparency entry (protobuf JSON,
as in a bundle), and a DSSE envelope of the in-toto payload type with the one signature. (The
pypi-attestations converter keeps only the first entry; airseal keeps all, so each must be
well formed.) The subject must be the distribution file: same name, parsed as PEP 740 does
(`normalise_dist_filename`), and same digest (docs/verification.md §8.3).
"""

from __future__ import annotations

import re
from typing import Any, Optional

from verifier._internal.evidence import Evidence
from verifier._internal.formats._common import (
    BUNDLE_V03,
    INTOTO_PAYLOAD_TYPE,
    bundle_from,
    field,
    malformed,
    parse_object,
)
from verifier._internal.limits import Limits

FORMAT_PROVENANCE = "pep740-provenance"
FORMAT_ATTESTATION = "pep740-attestation"


def read(data: bytes, limits: Limits) -> Optional[list[Evidence]]:
    if b'"attestation_bundles"' not in data and b'"verification_material"' not in data:
        return None
    doc = parse_object(data, "PEP 740")
    if "attestation_bundles" in doc:
        return _provenance(doc, limits)
    if "verification_material" in doc and "envelope" in doc:
        return [Evidence(FORMAT_ATTESTATION, "", _attestation(doc, limits, FORMAT_ATTESTATION, "attestation"), None, "pep740")]
    return None


def _provenance(doc: dict[str, Any], limits: Limits) -> list[Evidence]:
    fmt = FORMAT_PROVENANCE
    if field(doc, "version", int, fmt, "file") != 1:
        malformed(fmt, "file", "version is not 1")
    groups = field(doc, "attestation_bundles", list, fmt, "file")
    out = []
    for i, group in enumerate(groups):
        where = f"attestation_bundles[{i}]"
        publisher = describe_publisher(field(group, "publisher", dict, fmt, where))
        for j, att in enumerate(field(group, "attestations", list, fmt, where)):
            loc = f"{where}.attestations[{j}] (publisher {publisher})"
            out.append(Evidence(fmt, loc, _attestation(att, limits, fmt, loc), None, "pep740"))
    if not out:
        malformed(fmt, "attestation_bundles", "no attestation")
    return out


def describe_publisher(publisher: dict[str, Any]) -> str:
    """A person's reading of a Trusted Publisher: kind and the fields naming the workflow."""
    kind = publisher.get("kind")
    parts = [str(kind)]
    for key in ("repository", "workflow", "workflow_filepath", "environment", "email", "project"):
        value = publisher.get(key)
        if isinstance(value, str) and value:
            parts.append(f"{key}={value}")
    return " ".join(parts)


def _attestation(att: Any, limits: Limits, fmt: str, where: str) -> Any:
    if not isinstance(att, dict) or set(att) != {"version", "verification_material", "envelope"}:
        malformed(fmt, where, "not {version, verification_material, envelope}")
    if field(att, "version", int, fmt, where) != 1:
        malformed(fmt, where, "version is not 1")
    vm = field(att, "verification_material", dict, fmt, where)
    env = field(att, "envelope", dict, fmt, where)
    if set(vm) != {"certificate", "transparency_entries"} or set(env) != {"statement", "signature"}:
        malformed(fmt, where, "unexpected fields in verification_material or envelope")
    entries = field(vm, "transparency_entries", list, fmt, where)
    if not entries:
        malformed(fmt, where, "no transparency entry")
    bundle = {
        "mediaType": BUNDLE_V03,
        "verificationMaterial": {
            "certificate": {"rawBytes": field(vm, "certificate", str, fmt, where)},
            "tlogEntries": entries,
        },
        "dsseEnvelope": {
            "payload": field(env, "statement", str, fmt, where),
            "payloadType": INTOTO_PAYLOAD_TYPE,
            "signatures": [{"sig": field(env, "signature", str, fmt, where)}],
        },
    }
    return bundle_from(bundle, limits, fmt, where)


# --- distribution file names -----------------------------------------------------------------

_NAME_RUN = re.compile(r"[-_.]+")
_VERSION = re.compile(r"\Av?([0-9]+(?:\.[0-9]+)*)(.*)\Z", re.I)


def _name(text: str) -> str:
    return _NAME_RUN.sub("-", text).lower()


def _version(text: str) -> Optional[str]:
    m = _VERSION.match(text.strip())
    if m is None:
        return None
    release = [int(p) for p in m.group(1).split(".")]
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    return ".".join(map(str, release)) + m.group(2).lower().replace("_", ".").replace("-", ".")


def normalise_dist_filename(filename: str) -> Optional[str]:
    """A wheel or sdist file name in a comparable form, or None if it is neither.

    As PEP 740 verifiers parse them (packaging's parse_wheel_filename / parse_sdist_filename):
    the project name canonicalised, the version's release without trailing zeros, a wheel's
    compressed tag sets expanded and sorted.
    """
    if "/" in filename or "\\" in filename:
        return None
    if filename.endswith(".whl"):
        parts = filename[: -len(".whl")].split("-")
        if len(parts) not in (5, 6):
            return None
        name, version, *build, py, abi, plat = parts
        ver = _version(version)
        if ver is None or not name:
            return None
        tags = sorted(f"{a}-{b}-{c}" for a in py.split(".") for b in abi.split(".") for c in plat.split("."))
        return "|".join(["wheel", _name(name), ver, *build, *tags])
    for ext in (".tar.gz", ".zip"):
        if filename.endswith(ext):
            stem = filename[: -len(ext)]
            if "-" not in stem:
                return None
            name, version = stem.rsplit("-", 1)
            ver = _version(version)
            if ver is None or not name:
                return None
            return "|".join(["sdist", _name(name), ver])
    return None
