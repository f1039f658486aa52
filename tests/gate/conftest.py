"""Fixtures for the gate tests: a fresh outcome tree per test, and a runner for the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.gate.tree import Tree, build_tree


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return build_tree(tmp_path)


def gate_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["AIRSEAL_HOME"] = str(tmp_path / "airseal-home")
    env.pop("AIRSEAL_DEBUG", None)
    env.update(extra)
    return env


def gate_command(args: Sequence[str]) -> list[str]:
    return [sys.executable, "-m", "verifier", "gate", *args]


def run_gate(tmp_path: Path, *args: str, timeout: float = 180, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        gate_command(args), capture_output=True, text=True, timeout=timeout,
        env=env or gate_env(tmp_path), cwd=tmp_path, stdin=subprocess.DEVNULL,
    )


def read_results(report: Path) -> dict[str, dict[str, Any]]:
    rows = [json.loads(line) for line in (report / "results.jsonl").read_text().splitlines() if line.strip()]
    by_path = {row["path"]: row for row in rows}
    assert len(by_path) == len(rows), "one row per artifact"
    return by_path


def read_summary(report: Path) -> dict[str, Any]:
    return json.loads((report / "summary.json").read_text())
