"""GitHub attestations as `gh attestation download` writes them: one Sigstore bundle per line.

Blank lines and a trailing newline are allowed. A file is taken for JSON Lines when its first
non-blank line is a whole JSON object on its own and the file has a second one, or ends with
a newline after the first (a pretty-printed bundle's first line is just "{").
"""

from __future__ import annotations

import json
from typing import Optional

from verifier._internal.bundle.parse import load_bundle
from verifier._internal.evidence import Evidence
from verifier._internal.limits import Limits
from verifier.errors import InputError

FORMAT = "github-attestations-jsonl"


def read(data: bytes, limits: Limits) -> Optional[list[Evidence]]:
    lines = [(n, line.strip()) for n, line in enumerate(data.split(b"\n"), start=1)]
    lines = [(n, line) for n, line in lines if line]
    if not lines or not lines[0][1].startswith(b"{"):
        return None
    if len(lines) == 1:
        # One bundle on one line is a plain bundle file, whatever ends it (cosign writes them
        # so); GitHub's one-attestation download reads the same either way.
        return None
    try:
        first = json.loads(lines[0][1])
    except (ValueError, RecursionError):
        return None
    if not isinstance(first, dict):
        return None
    out = []
    for n, line in lines:
        try:
            bundle = load_bundle(line, limits)  # strict, as for a bundle file
        except InputError as err:
            raise InputError(err.reason, f"{FORMAT} evidence, line {n}: {err.detail}", context=err.context) from err
        out.append(Evidence(FORMAT, f"line {n}", bundle))
    return out
