"""Several trusted roots (`--trusted-root` repeated, or JSON Lines): the bundle is judged against
the root it uses, the result names it, and a root without transparency logs (GitHub's
instance) asks for a signed timestamp instead of a log entry, and for no SCT when it lists no CT
log either (docs/verification.md §0, §4.7, §7.4)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.support.virtual_sigstore import Faults, LeafOptions, VirtualSigstore
from tests.verify._harness import ARTIFACT, Inv, run_inv
from verifier.errors import Reason


def _sha(tr: dict) -> str:
    return hashlib.sha256(json.dumps(tr).encode()).hexdigest()


@pytest.fixture(scope="module")
def github_like() -> VirtualSigstore:
    return VirtualSigstore("github-like")


def test_second_root_is_chosen_and_named(vs: VirtualSigstore, untrusted: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    other = untrusted.trusted_root()
    out = run_inv(Inv(vs.sign_artifact(ARTIFACT), [other, trusted_root]), tmp_path)
    assert out.exit_code == 0, out.describe()
    assert out.report["trusted_root_sha256"] == _sha(trusted_root)


def test_json_lines_file_of_roots(vs: VirtualSigstore, untrusted: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    lines = [json.dumps(untrusted.trusted_root()).encode(), json.dumps(trusted_root).encode()]
    out = run_inv(Inv(vs.attest(ARTIFACT), b"\n".join(lines) + b"\n"), tmp_path)
    assert out.exit_code == 0, out.describe()
    assert out.report["trusted_root_sha256"] == hashlib.sha256(lines[1]).hexdigest()


def test_bundle_of_no_listed_root_is_refused(vs: VirtualSigstore, untrusted: VirtualSigstore, tmp_path: Path) -> None:
    third = VirtualSigstore("third")
    out = run_inv(Inv(third.sign_artifact(ARTIFACT), [untrusted.trusted_root(), vs.trusted_root()]), tmp_path)
    assert out.exit_code == 1 and out.reason == Reason.TLOG_THRESHOLD_NOT_MET.value, out.describe()


def test_root_without_logs_takes_a_signed_timestamp(github_like: VirtualSigstore, trusted_root: dict, has_tsa: bool, tmp_path: Path) -> None:
    if not has_tsa:
        pytest.skip("needs the test TSA")
    gh_root = github_like.trusted_root(tlogs=(), ctlogs=False, tsas=True)
    b = github_like.sign_artifact(ARTIFACT, log=None, tsa=True)
    out = run_inv(Inv(b, [trusted_root, gh_root]), tmp_path)
    assert out.exit_code == 0, out.describe()
    assert out.report["trusted_root_sha256"] == _sha(gh_root)
    assert out.report["thresholds"]["tlog_entries"]["required"] == 0
    # no CT log listed either: no SCT can verify there, none is required (§7.4)
    assert out.report["thresholds"]["scts"]["required"] == 0
    assert [t["kind"] for t in out.report["time_sources"]] == ["tsa"]


def test_root_without_logs_keeps_an_explicit_sct_threshold(github_like: VirtualSigstore, has_tsa: bool, tmp_path: Path) -> None:
    if not has_tsa:
        pytest.skip("needs the test TSA")
    gh_root = github_like.trusted_root(tlogs=(), ctlogs=False, tsas=True)
    b = github_like.sign_artifact(ARTIFACT, log=None, tsa=True)
    out = run_inv(Inv(b, gh_root, args=["--min-scts", "1"]), tmp_path)
    assert out.reason == Reason.SCT_THRESHOLD_NOT_MET.value, out.describe()


def test_root_without_logs_but_with_a_ct_log_still_needs_an_sct(github_like: VirtualSigstore, has_tsa: bool, tmp_path: Path) -> None:
    """The SCT default drops only where no SCT could verify: a listed CT log keeps it at 1."""
    if not has_tsa:
        pytest.skip("needs the test TSA")
    root = github_like.trusted_root(tlogs=(), ctlogs=True, tsas=True)
    b = github_like.sign_artifact(ARTIFACT, log=None, tsa=True, faults=Faults(leaf=LeafOptions(sct="none")))
    out = run_inv(Inv(b, root), tmp_path)
    assert out.reason == Reason.SCT_THRESHOLD_NOT_MET.value, out.describe()


def test_root_without_logs_still_needs_the_timestamp(github_like: VirtualSigstore, has_tsa: bool, tmp_path: Path) -> None:
    if not has_tsa:
        pytest.skip("needs the test TSA")
    gh_root = github_like.trusted_root(tlogs=(), ctlogs=False, tsas=True)
    out = run_inv(Inv(github_like.sign_artifact(ARTIFACT, log=None), gh_root, ), tmp_path)
    assert out.reason == Reason.TIME_NO_VERIFIED_TIMESTAMP.value, out.describe()


def test_root_without_logs_explicit_threshold_is_kept(github_like: VirtualSigstore, has_tsa: bool, tmp_path: Path) -> None:
    if not has_tsa:
        pytest.skip("needs the test TSA")
    gh_root = github_like.trusted_root(tlogs=(), ctlogs=False, tsas=True)
    b = github_like.sign_artifact(ARTIFACT, log=None, tsa=True)
    out = run_inv(Inv(b, gh_root, args=["--min-tlog-entries", "1"]), tmp_path)
    assert out.reason == Reason.TLOG_THRESHOLD_NOT_MET.value, out.describe()


def test_root_with_logs_keeps_default_of_one(vs: VirtualSigstore, trusted_root: dict, has_tsa: bool, tmp_path: Path) -> None:
    if not has_tsa:
        pytest.skip("needs the test TSA")
    out = run_inv(Inv(vs.sign_artifact(ARTIFACT, log=None, tsa=True), trusted_root), tmp_path)
    assert out.reason == Reason.TLOG_THRESHOLD_NOT_MET.value, out.describe()
