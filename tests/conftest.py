"""Shared test configuration: where ../shared is, and a guard that unit tests stay offline."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CONFORMANCE = SHARED / "conformance"
CONFORMANCE_CASES = CONFORMANCE / "cases"


def shared_or_skip(*parts: str) -> Path:
    """A path inside ../shared, or skip: a user's checkout has no ../shared (CI does)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared ships only with the development workspace and CI)")
    return path
