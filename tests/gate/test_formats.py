"""The gate reads evidence through the same seam as `verify --bundle`, and a format's claims
hold there too: a PEP 740 attestation must name the wheel it sits beside."""

from __future__ import annotations

import json
from pathlib import Path

from tests.gate.conftest import read_results, run_gate
from tests.support.virtual_sigstore import DEFAULT_IDENTITY, DEFAULT_ISSUER, VirtualSigstore, pep740_attestation
from tests.verify.test_evidence_formats import _statement

WHEEL = "airseal_demo-1.0-py3-none-any.whl"
OTHER = "other_pkg-2.0-py3-none-any.whl"


def test_pep740_subject_name_is_checked_by_the_gate(tmp_path: Path) -> None:
    vs = VirtualSigstore("gate-pep740", with_tsa=False)
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name, data in ((WHEEL, b"wheel bytes\n"), (OTHER, b"other wheel bytes\n")):
        (mirror / name).write_bytes(data)
        # the attestation beside OTHER names WHEEL (with OTHER's digest): its name does not fit
        subject = WHEEL
        attestation = pep740_attestation(vs.attest(data, statement=_statement([(subject, data)])))
        (mirror / f"{name}.publish.attestation").write_text(json.dumps(attestation))
    (tmp_path / "tr.json").write_text(json.dumps(vs.trusted_root(tsas=False)))
    report = tmp_path / "report"
    done = run_gate(
        tmp_path, "--certificate-identity", DEFAULT_IDENTITY, "--certificate-oidc-issuer", DEFAULT_ISSUER,
        "--trusted-root", str(tmp_path / "tr.json"), "--report", str(report), "--progress", "off", str(mirror),
    )
    assert done.returncode == 1, done.stderr
    rows = read_results(report)
    assert rows[WHEEL]["verdict"] == "pass" and rows[WHEEL]["format"] == "pep740-attestation"
    assert rows[OTHER]["verdict"] == "fail" and rows[OTHER]["reason_code"] == "dsse.subject_name_mismatch"
