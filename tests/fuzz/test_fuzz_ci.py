"""Coverage-guided fuzzing in CI, and the replay of every crash the fuzzers found.

- `test_regressions_replay` (fast, no atheris needed): every input under
  tests/fuzz/regressions/<harness>/ goes through its harness's `test_one_input` once; each was a
  crash (an exception other than AirsealError) before its fix.
- `test_harness_runs_clean` (slow): each harness runs for FUZZ_SECONDS (default 30; 7 harnesses,
  about 4 minutes) from the committed seed corpus under -rss_limit_mb=256 -timeout=5; any crash,
  leak, timeout or out-of-memory fails the test with libFuzzer's report. Longer runs:
  docs/fuzzing.md.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
HARNESSES = sorted(p.stem.removeprefix("fuzz_") for p in HERE.glob("fuzz_*.py"))
REGRESSIONS = sorted((d.name, f) for d in (HERE / "regressions").glob("*") if d.is_dir() for f in sorted(d.iterdir()))
SECONDS = int(os.environ.get("FUZZ_SECONDS", "30"))


@pytest.mark.parametrize(("harness", "path"), REGRESSIONS, ids=[f"{h}/{p.name[:18]}" for h, p in REGRESSIONS])
def test_regressions_replay(harness: str, path: Path) -> None:
    module = importlib.import_module(f"tests.fuzz.fuzz_{harness}")
    module.test_one_input(path.read_bytes())


def test_every_parser_has_a_harness() -> None:
    assert {"bundle", "trusted_root", "tsa", "checkpoint", "certificate", "pkcs11_uri", "tuf_pack"} <= set(HARNESSES)
    assert sum(f.stat().st_size for f in (HERE / "corpus").rglob("*") if f.is_file()) < 2 * 1024 * 1024


@pytest.mark.slow
@pytest.mark.subprocess
@pytest.mark.parametrize("harness", HARNESSES)
def test_harness_runs_clean(harness: str, tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    work = tmp_path / "corpus"
    work.mkdir()
    seeds = HERE / "corpus" / harness
    regressions = HERE / "regressions" / harness
    dirs = [str(work), str(seeds)] + ([str(regressions)] if regressions.is_dir() else [])
    env = dict(os.environ, AIRSEAL_HOME=str(tmp_path / "home"))
    run = subprocess.run(
        [sys.executable, str(HERE / f"fuzz_{harness}.py"), f"-max_total_time={SECONDS}", "-timeout=5", "-rss_limit_mb=256",
         f"-artifact_prefix={tmp_path}/", *dirs],
        capture_output=True, text=True, env=env, timeout=SECONDS + 120,
    )
    crashes = [p.name for p in tmp_path.iterdir() if p.name.startswith(("crash-", "timeout-", "oom-", "leak-"))]
    assert run.returncode == 0 and not crashes, f"{crashes}\n{run.stderr[-4000:]}"
    shutil.rmtree(work, ignore_errors=True)
