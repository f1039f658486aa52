"""report.html in a real browser (headless Debian chromium): it renders, failures come before
passes in the DOM, nothing external is referenced, and hostile file names stay text."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.gate.conftest import read_summary, run_gate
from tests.gate.tree import Tree

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
HOSTILE = '<script>alert(1)<script><img src=x onerror="alert(2)">\x01.txt'
"""A file name is data from the other side of the air gap: markup and control bytes."""


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    profile = tmp_path / "chromium-profile"
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)},
    )


@pytest.fixture
def report(tree: Tree, tmp_path: Path) -> Path:
    (tree.root / "misc" / HOSTILE).write_bytes(b"hostile name")
    out = tmp_path / "report"
    result = run_gate(tmp_path, "--policy", str(tree.policy), "--report", str(out), str(tree.root))
    assert result.returncode == 1, result.stderr
    return out / "report.html"


def test_the_html_is_self_contained_and_escaped(report: Path) -> None:
    text = report.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I), "external reference"
    assert "<script" not in text.lower() and "@import" not in text and "url(" not in text
    assert "&lt;script&gt;alert(1)&lt;script&gt;&lt;img src=x onerror=&quot;alert(2)&quot;&gt;\\x01.txt" in text
    assert text.index('id="failures"') < text.index('id="passes"')


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium; scripts/setup.sh does)")
def test_chromium_renders_failures_first(report: Path, tmp_path: Path) -> None:
    png = tmp_path / "report.png"
    shot = _chromium(tmp_path, f"--screenshot={png}", "--window-size=1200,900", report.as_uri())
    assert png.exists(), shot.stderr[-2000:]
    assert png.stat().st_size > 10_000, "a blank page"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    dom = _chromium(tmp_path, "--dump-dom", report.as_uri()).stdout
    assert "<tr" in dom
    rows = re.findall(r'<tr class="(fail|pass)"', dom)
    summary = read_summary(report.parent)
    assert rows.count("fail") == summary["failed"] and rows.count("pass") == summary["passed"]
    assert rows == sorted(rows, key=lambda r: r != "fail"), "every failure before every pass"
    assert "alert(1)" in dom and "<script>alert" not in dom  # shown as text, not parsed as markup
    assert not re.search(r"""<(img|script|link|iframe)[^>]*(src|href)=["']https?://""", dom, re.I)
