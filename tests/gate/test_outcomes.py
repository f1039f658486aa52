"""The outcome tree end to end through `airseal gate`: results.jsonl, summary.json,
notices.jsonl and junit.xml hold exactly the expected verdicts, and the exit code agrees."""

from __future__ import annotations

import hashlib
import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.gate.conftest import gate_command, gate_env, read_results, read_summary, run_gate
from tests.gate.tree import EXPECTED, ORPHANS, Tree

RESULT_FIELDS = {
    "path", "root", "sha256", "size", "verdict", "reason_code", "message", "check", "context",
    "evidence", "format", "signer", "rule", "rule_name",
}
SUMMARY_FIELDS = {
    "schema", "total", "passed", "failed", "by_reason", "complete", "policy_sha256", "trusted_root_sha256",
    "started_at", "finished_at", "airseal_version", "shard", "notices", "orphan_evidence", "enforced", "mode",
    "jobs", "roots", "policy", "worker_restarts", "interrupted", "vsa", "vsa_error",
}


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_every_outcome(tree: Tree, tmp_path: Path, jobs: str) -> None:
    report = tmp_path / "report"
    result = run_gate(tmp_path, "--policy", str(tree.policy), "--report", str(report), "--jobs", jobs, str(tree.root))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    rows = read_results(report)
    assert {p: (r["verdict"], r["reason_code"]) for p, r in rows.items()} == EXPECTED
    for path, row in rows.items():
        assert set(row) == RESULT_FIELDS, path
        assert row["root"] == 0
        target = tree.root / path
        if EXPECTED[path][1] == "gate.unsafe_file":
            assert row["sha256"] is None
        else:
            assert row["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest(), path
        if row["verdict"] == "pass":
            assert row["evidence"] and row["format"] == "sigstore-bundle" and row["signer"]
    # evidence, signer and values that disagreed
    assert rows["pypi/good-2.0-py3-none-any.whl"]["evidence"] == "pypi/good-2.0-py3-none-any.whl.bundle"
    assert rows["release/a.tar.gz"]["evidence"] == "release/release.intoto.jsonl"
    assert rows["internal/tool.bin"]["signer"]["kind"] == "key"
    assert rows["pypi/good-1.0-py3-none-any.whl"]["signer"]["kind"] == "certificate"
    assert rows["pypi/tampered-1.0-py3-none-any.whl"]["context"]["artifact"].startswith("sha256:")
    assert "certificate_sans" in rows["pypi/wrong_identity-1.0-py3-none-any.whl"]["context"]
    assert rows["release/d.tar.gz"]["context"]["subject"]
    assert rows["misc/notes.txt"]["rule"] is None
    assert rows["denied/blob.exe"]["rule"] == 4

    summary = read_summary(report)
    assert set(summary) >= SUMMARY_FIELDS
    assert summary["schema"] == "airseal.gate.v1"
    assert (summary["total"], summary["passed"], summary["failed"]) == (15, 6, 9)
    expected_reasons: dict[str, int] = {}
    for _verdict, reason in EXPECTED.values():
        if reason:
            expected_reasons[reason] = expected_reasons.get(reason, 0) + 1
    assert summary["by_reason"] == expected_reasons
    assert summary["complete"] is True and summary["shard"] is None
    assert summary["policy_sha256"] == hashlib.sha256(tree.policy.read_bytes()).hexdigest()
    assert summary["trusted_root_sha256"] == [hashlib.sha256(tree.trusted_root.read_bytes()).hexdigest()]
    assert summary["orphan_evidence"] == 1 and summary["notices"] == {"gate.orphan_evidence": 1}
    notices = [json.loads(line) for line in (report / "notices.jsonl").read_text().splitlines()]
    assert [n["path"] for n in notices] == ORPHANS

    # the one-line summary on stdout
    assert "15 judged, 6 passed, 9 failed" in result.stdout
    _check_junit(report / "junit.xml", rows)
    assert not list(tmp_path.glob(".report.tmp-*")), "staging directory left behind"


def _check_junit(path: Path, rows: dict[str, dict]) -> None:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1
    suite = suites[0]
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases) == len(rows)
    assert int(suite.get("failures")) == sum(1 for r in rows.values() if r["verdict"] == "fail")
    seen = set()
    for case in cases:
        name = case.get("name")
        seen.add(name)
        assert case.get("classname", "").startswith("gate.root0")
        failures = case.findall("failure")
        if rows[name]["verdict"] == "pass":
            assert failures == []
        else:
            assert len(failures) == 1
            assert failures[0].get("type") == rows[name]["reason_code"]
            assert failures[0].get("message") == rows[name]["message"]
            json.loads(failures[0].text)  # the details are JSON
    assert seen == set(rows)


def test_all_pass_exits_0_and_a_second_run_replaces_the_report(tree: Tree, tmp_path: Path) -> None:
    for rel, (verdict, _) in EXPECTED.items():
        p = tree.root / rel
        if verdict == "fail":
            p.unlink()
            for ev in p.parent.glob(p.name + ".*"):
                ev.unlink()
    report = tmp_path / "report"
    first = run_gate(tmp_path, "--policy", str(tree.policy), "--report", str(report), str(tree.root))
    assert first.returncode == 0, first.stdout + first.stderr  # the orphan notice is not a failure
    summary = read_summary(report)
    assert (summary["passed"], summary["failed"], summary["orphan_evidence"]) == (6, 0, 1)
    (report / "marker").write_text("from the first run")
    (tree.root / "misc").mkdir(exist_ok=True)
    (tree.root / "misc" / "new.txt").write_text("arrived later")
    second = run_gate(tmp_path, "--policy", str(tree.policy), "--report", str(report), str(tree.root))
    assert second.returncode == 1
    assert not (report / "marker").exists(), "the report directory is replaced whole"
    assert read_results(report)["misc/new.txt"]["reason_code"] == "gate.no_rule"


def test_a_directory_that_is_not_a_report_is_never_replaced(tree: Tree, tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    result = run_gate(tmp_path, "--policy", str(tree.policy), "--report", str(precious), str(tree.root))
    assert result.returncode == 3
    assert "not an airseal gate report" in result.stderr
    assert (precious / "thesis.tex").read_text() == "years of work"


def test_without_policy_the_command_line_is_one_rule(tree: Tree, tmp_path: Path) -> None:
    report = tmp_path / "report"
    result = run_gate(
        tmp_path, "--key", str(tree.key_pem), "--trusted-root", str(tree.trusted_root),
        "--report", str(report), "--jobs", "1", str(tree.root / "internal"),
    )
    assert result.returncode == 1, result.stderr
    rows = read_results(report)
    assert {p: (r["verdict"], r["reason_code"]) for p, r in rows.items()} == {
        "tool.bin": ("pass", None),
        "wrong-key.bin": ("fail", "signature.invalid"),
    }
    assert rows["tool.bin"]["rule"] == 0 and rows["tool.bin"]["rule_name"] == "command line"


def test_warn_mode_exits_0_with_a_loud_warning(tree: Tree, tmp_path: Path) -> None:
    report = tmp_path / "report"
    result = run_gate(tmp_path, "--policy", str(tree.policy), "--mode", "warn", "--report", str(report), str(tree.root))
    assert result.returncode == 0
    assert "WARNING: --mode warn" in result.stderr
    assert read_summary(report)["enforced"] is False


def test_an_empty_tree_judges_nothing_and_fails(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_gate(tmp_path, "--key", "nope.pem", "--report", str(tmp_path / "r"), str(tmp_path / "empty"))
    assert result.returncode == 3  # the key is read before anything: key.malformed / unreadable
    key = tmp_path / "k.pem"
    from tests.gate.tree import virtual_sigstore

    key.write_bytes(virtual_sigstore().public_key_pem())
    result = run_gate(tmp_path, "--key", str(key), "--min-tlog-entries", "0", "--trusted-root",
                      str(_root(tmp_path)), "--report", str(tmp_path / "r"), str(tmp_path / "empty"))
    assert result.returncode == 1
    assert "nothing was judged" in result.stderr
    assert read_summary(tmp_path / "r")["total"] == 0


def _root(tmp_path: Path) -> Path:
    from tests.gate.tree import virtual_sigstore

    path = tmp_path / "tr.json"
    path.write_text(json.dumps(virtual_sigstore().trusted_root(tsas=False)))
    return path


def test_a_report_inside_the_tree_is_not_judged(tree: Tree, tmp_path: Path) -> None:
    """`airseal gate .` writes ./airseal-report inside PATH: neither it nor this run's staging
    directory is judged; a look-alike leftover of another run is (a name hides nothing)."""
    (tree.root / ".airseal-report.tmp-crashed").mkdir()
    (tree.root / ".airseal-report.tmp-crashed" / "results.jsonl").write_text("{}\n")
    leftover = ".airseal-report.tmp-crashed/results.jsonl"
    for _ in range(2):  # the second run finds the first run's report in the tree
        result = subprocess.run(
            gate_command(["--policy", str(tree.policy), str(tree.root)]), capture_output=True, text=True,
            cwd=tree.root, env=gate_env(tmp_path), timeout=120, stdin=subprocess.DEVNULL,
        )
        assert result.returncode == 1, result.stderr
        rows = read_results(tree.root / "airseal-report")
        assert set(rows) == set(EXPECTED) | {leftover}, sorted(set(rows) ^ set(EXPECTED))
        assert rows[leftover]["reason_code"] == "gate.no_rule"


def test_progress_line_on_stderr(tree: Tree, tmp_path: Path) -> None:
    result = run_gate(tmp_path, "--policy", str(tree.policy), "--progress", "on", "--report", str(tmp_path / "r"), str(tree.root))
    assert result.returncode == 1
    last = result.stderr.split("\r")[-1]
    assert "gate: 15/15 (100%)" in last and "/s" in last and "ETA" in last and "9 failed" in last
    quiet = run_gate(tmp_path, "--policy", str(tree.policy), "--report", str(tmp_path / "r"), str(tree.root))
    assert "\r" not in quiet.stderr  # auto: stderr is not a terminal here


def test_several_trusted_roots_are_tried_in_turn(tree: Tree, tmp_path: Path) -> None:
    """--trusted-root may repeat, and a file may hold several roots as JSON Lines."""
    from tests.support.virtual_sigstore import VirtualSigstore

    foreign = json.dumps(VirtualSigstore("elsewhere", with_tsa=False).trusted_root(tsas=False))
    ours = json.dumps(json.loads(tree.trusted_root.read_text()))
    jsonl = tmp_path / "roots.jsonl"
    jsonl.write_text(foreign + "\n" + ours + "\n")
    only_foreign = tmp_path / "foreign.json"
    only_foreign.write_text(foreign)
    common = ["--certificate-identity-regexp", "https://github.com/airseal-test/.+", "--jobs", "1"]
    report = tmp_path / "r"
    ok = run_gate(tmp_path, *common, "--trusted-root", str(jsonl), "--report", str(report), str(tree.root / "release"))
    assert ok.returncode == 1  # d.tar.gz differs from its subject
    rows = read_results(report)
    assert [p for p, r in rows.items() if r["verdict"] == "pass"] and rows["d.tar.gz"]["reason_code"] == "dsse.subject_mismatch"
    assert len(read_summary(report)["trusted_root_sha256"]) == 2
    bad = run_gate(tmp_path, *common, "--trusted-root", str(only_foreign), "--report", str(report), str(tree.root / "release"))
    assert bad.returncode == 1
    assert all(r["verdict"] == "fail" for r in read_results(report).values())
