"""docs/reason-codes.md and the Reason enum stay in step; every spec §5 class has one code."""

from __future__ import annotations

import re

from tests.conftest import REPO, shared_or_skip
from verifier.errors import Reason

DOC = (REPO / "docs" / "reason-codes.md").read_text()
ROWS = re.findall(r"^\| `([a-z0-9_.]+)` \| (\d+) \| ([^|]*) \|", DOC, re.M)


def test_every_code_is_documented_once_and_nothing_else() -> None:
    documented = [code for code, _, _ in ROWS]
    assert len(documented) == len(set(documented))
    assert set(documented) == {r.value for r in Reason}


def test_every_failure_class_of_the_spec_maps_to_exactly_one_code() -> None:
    spec = shared_or_skip("design", "verification-spec.md").read_text()
    table = spec[spec.index("## 5. Negative tests") :]
    classes = set(re.findall(r"\bE-[A-Z0-9-]+[A-Z0-9]", table))
    classes = {c.rstrip("-") for c in classes if not c.endswith("-*")}
    mapped: dict[str, list[str]] = {}
    for code, _, spec_col in ROWS:
        for cls in re.findall(r"E-[A-Z0-9-]+[A-Z0-9]", spec_col):
            mapped.setdefault(cls, []).append(code)
    for cls in sorted(classes):
        if cls == "E-TR":
            continue  # "E-TR-*": the four trusted-root classes, each mapped on its own
        assert cls in mapped, f"{cls} has no reason code in docs/reason-codes.md"
        assert len(mapped[cls]) == 1, f"{cls} maps to {mapped[cls]}"
