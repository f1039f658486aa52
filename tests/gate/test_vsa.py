"""The signed verdict: a SLSA VSA over every passed artifact, signed on a SoftHSM token, that
`airseal verify --key` accepts for a passed artifact and rejects for a failed or foreign one."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any

from tests.gate.conftest import read_results, read_summary
from tests.gate.tree import EXPECTED, Tree
from tests.hsm.softhsm_support import softhsm  # noqa: F401  (fixture)


def _gate(hsm: Any, *args: str) -> subprocess.CompletedProcess[str]:
    return hsm.run("gate", *args, timeout=300)


def _verify(hsm: Any, pub: Path, bundle: Path, artifact: Path) -> subprocess.CompletedProcess[str]:
    return hsm.run("verify", "--key", str(pub), "--bundle", str(bundle), "--min-tlog-entries", "0", str(artifact))


def test_vsa_signed_on_a_token_verifies_passed_artifacts_only(softhsm: Any, tree: Tree, tmp_path: Path) -> None:  # noqa: F811 (the fixture)
    softhsm.keygen("vsa", "ec-p256")
    uri = softhsm.uri(object="vsa")
    pub = tmp_path / "vsa.pem"
    assert softhsm.run("hsm", "pubkey", uri, "--out", str(pub)).returncode == 0
    report = tmp_path / "report"

    # enforce mode with failures: nothing is signed
    enforced = _gate(softhsm, "--policy", str(tree.policy), "--report", str(report), "--vsa-key", uri, str(tree.root))
    assert enforced.returncode == 1, enforced.stderr
    assert not (report / "gate.vsa.sigstore.json").exists()
    assert "not signed" in read_summary(report)["vsa_error"]

    # warn mode: the passed artifacts are signed for
    warned = _gate(softhsm, "--policy", str(tree.policy), "--report", str(report), "--mode", "warn",
                   "--vsa-key", uri, str(tree.root))
    assert warned.returncode == 0, warned.stderr
    assert softhsm.pin not in warned.stdout + warned.stderr
    vsa = report / "gate.vsa.sigstore.json"
    summary = read_summary(report)
    assert summary["vsa"] == [{"bundle": "gate.vsa.sigstore.json", "subjects": 6}]

    statement = json.loads(base64.b64decode(json.loads(vsa.read_text())["dsseEnvelope"]["payload"]))
    assert statement["predicateType"] == "https://slsa.dev/verification_summary/v1"
    passed = sorted(p for p, (v, _) in EXPECTED.items() if v == "pass")
    assert sorted(s["name"] for s in statement["subject"]) == passed
    rows = read_results(report)
    for subject in statement["subject"]:
        assert subject["digest"] == {"sha256": rows[subject["name"]]["sha256"]}
    predicate = statement["predicate"]
    assert predicate["verificationResult"] == "PASSED"
    assert predicate["verifier"]["id"] and predicate["timeVerified"].endswith("Z")
    assert predicate["resourceUri"] == tree.root.as_uri()
    assert predicate["policy"]["digest"]["sha256"] == summary["policy_sha256"]
    assert predicate["policy"]["uri"] == tree.policy.resolve().as_uri()
    uris = {a["uri"] for a in predicate["inputAttestations"]}
    assert "release/release.intoto.jsonl" in uris and "internal/tool.bin.sigstore.json" in uris
    assert isinstance(predicate["verifiedLevels"], list)

    for name in ("pypi/good-1.0-py3-none-any.whl", "release/sub/c.tar.gz", "internal/tool.bin"):
        ok = _verify(softhsm, pub, vsa, tree.root / name)
        assert ok.returncode == 0, (name, ok.stderr)
    for name in ("pypi/tampered-1.0-py3-none-any.whl", "release/d.tar.gz", "misc/notes.txt"):
        bad = _verify(softhsm, pub, vsa, tree.root / name)
        assert bad.returncode == 1 and "dsse.subject_mismatch" in bad.stderr, (name, bad.stderr)
    foreign = tmp_path / "foreign.bin"
    foreign.write_bytes(b"never in the tree")
    assert _verify(softhsm, pub, vsa, foreign).returncode == 1


def test_a_token_problem_at_signing_keeps_the_report_and_exits_5(softhsm: Any, tree: Tree, tmp_path: Path) -> None:  # noqa: F811 (the fixture)
    report = tmp_path / "report"
    result = _gate(softhsm, "--policy", str(tree.policy), "--report", str(report), "--mode", "warn",
                   "--vsa-key", softhsm.uri(object="no-such-key"), str(tree.root))
    assert result.returncode == 5, result.stderr
    assert "hsm." in result.stderr and "Traceback" not in result.stderr
    summary = read_summary(report)
    assert summary["vsa"] == [] and "signing failed" in summary["vsa_error"]


def test_merge_signs_one_vsa_over_every_shard(softhsm: Any, tree: Tree, tmp_path: Path) -> None:  # noqa: F811 (the fixture)
    """`gate merge --vsa-key`: one VSA over the passed artifacts of all shards, equal in
    subjects to the unsharded run's, and `airseal verify --key` accepts it."""
    softhsm.keygen("vsa", "ec-p256")
    uri = softhsm.uri(object="vsa")
    pub = tmp_path / "vsa.pem"
    assert softhsm.run("hsm", "pubkey", uri, "--out", str(pub)).returncode == 0
    shards = []
    for k in (1, 2):
        shard = tmp_path / f"r{k}"
        done = _gate(softhsm, "--policy", str(tree.policy), "--report", str(shard), "--shard", f"{k}/2", "--jobs", "1",
                     str(tree.root))
        assert done.returncode in (0, 1), done.stderr
        shards.append(str(shard))
    merged = tmp_path / "merged"
    result = _gate(softhsm, "merge", *shards, "--report", str(merged), "--mode", "warn", "--vsa-key", uri)
    assert result.returncode == 0, result.stderr
    assert softhsm.pin not in result.stdout + result.stderr
    summary = read_summary(merged)
    assert summary["shard"] is None and summary["vsa"] == [{"bundle": "gate.vsa.sigstore.json", "subjects": 6}]
    vsa = merged / "gate.vsa.sigstore.json"
    statement = json.loads(base64.b64decode(json.loads(vsa.read_text())["dsseEnvelope"]["payload"]))
    passed = sorted(p for p, (v, _) in EXPECTED.items() if v == "pass")
    assert sorted(s["name"] for s in statement["subject"]) == passed
    predicate = statement["predicate"]
    assert predicate["policy"] == {"uri": tree.policy.resolve().as_uri(), "digest": {"sha256": summary["policy_sha256"]}}
    assert predicate["resourceUri"] == tree.root.as_uri()
    assert "release/release.intoto.jsonl" in {a["uri"] for a in predicate["inputAttestations"]}
    assert _verify(softhsm, pub, vsa, tree.root / "release/sub/c.tar.gz").returncode == 0
    assert _verify(softhsm, pub, vsa, tree.root / "release/d.tar.gz").returncode == 1
    # enforce mode with failures signs nothing, as the gate
    enforced = _gate(softhsm, "merge", *shards, "--report", str(tmp_path / "m2"), "--vsa-key", uri)
    assert enforced.returncode == 1 and "not signed" in read_summary(tmp_path / "m2")["vsa_error"]
