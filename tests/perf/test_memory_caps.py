"""Peak RSS of `airseal verify` on the worst inputs at the caps stays under 128 MiB (finding 12).

Runs benchmarks/bench_memory.py's cases, each in a fresh process (see that file)."""

from __future__ import annotations

import importlib.util

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.subprocess]
LIMIT_MIB = 128


def _bench() -> object:
    spec = importlib.util.spec_from_file_location("bench_memory", REPO / "benchmarks" / "bench_memory.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCH = _bench()


@pytest.mark.parametrize("case", list(BENCH.cases()))  # type: ignore[attr-defined]
def test_peak_rss_under_128_mib(case: str) -> None:
    bundle, root = BENCH.cases()[case]  # type: ignore[attr-defined]
    code, rss_kib, _secs, message = BENCH.measure(REPO, bundle, root)  # type: ignore[attr-defined]
    assert code in (1, 3), message  # refused or rejected, never an internal error
    assert rss_kib / 1024 < LIMIT_MIB, f"{case}: peak {rss_kib / 1024:.0f} MiB ({message})"
