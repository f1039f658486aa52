"""The CLI's own refusals: policy, arguments, files and sizes, each with its reason code."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support.virtual_sigstore import VirtualSigstore, mutated, tlog_entry
from tests.verify._harness import ARTIFACT, Inv, argv, run_inv
from verifier._internal.limits import DEFAULT_LIMITS
from verifier.cli.app import main
from verifier.errors import Reason


def _expect(inv: Inv, tmp_path: Path, reason: Reason, exit_code: int) -> None:
    out = run_inv(inv, tmp_path)
    assert (out.exit_code, out.reason) == (exit_code, reason.value), out.describe()


def test_certificate_bundle_without_identity_policy(vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    inv = Inv(vs.sign_artifact(ARTIFACT), trusted_root, key_pem=vs.public_key_pem())
    _expect(inv, tmp_path, Reason.POLICY_INVALID, 1)


def test_digest_of_the_wrong_length(vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    inv = Inv(vs.sign_artifact(ARTIFACT), trusted_root, digest="sha256", digest_value="ab" * 31)
    _expect(inv, tmp_path, Reason.ARTIFACT_BAD_DIGEST, 3)


def test_missing_artifact(vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    inv = Inv(vs.sign_artifact(ARTIFACT), trusted_root)
    args = argv(inv, tmp_path)[:-1] + [str(tmp_path / "absent.bin")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 3, result.output
    assert json.loads(result.stdout)["reason_code"] == Reason.ARTIFACT_UNREADABLE.value


def test_key_file_that_is_not_a_pem_key(vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    bundle = vs.sign_artifact(ARTIFACT, key_based=True)
    inv = Inv(bundle, trusted_root, key_pem=b"-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")
    _expect(inv, tmp_path, Reason.KEY_MALFORMED, 3)


@pytest.mark.parametrize("which", ["bundle", "trusted_root"])
def test_oversized_files_are_refused_without_being_read_whole(
    which: str, vs: VirtualSigstore, trusted_root: dict, tmp_path: Path
) -> None:
    limit = DEFAULT_LIMITS.max_bundle_bytes if which == "bundle" else DEFAULT_LIMITS.max_trusted_root_bytes
    padding = b" " * (limit + 1)
    bundle: object = vs.sign_artifact(ARTIFACT)
    root: object = trusted_root
    if which == "bundle":
        bundle = padding
    else:
        root = padding
    _expect(Inv(bundle, root), tmp_path, Reason.INPUT_TOO_LARGE, 3)  # type: ignore[arg-type]


def test_rekor_v2_entry_with_only_a_promise_has_no_proof(vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    """Rekor v2 never signs entry timestamps: its entries count only with an inclusion proof."""
    bundle = vs.sign_artifact(ARTIFACT, log="v2", bundle_version="0.1")

    def swap_proof_for_promise(b: dict) -> None:
        entry = tlog_entry(b)
        entry.pop("inclusionProof")
        entry["inclusionPromise"] = {"signedEntryTimestamp": base64.b64encode(b"\x30\x00").decode()}

    _expect(Inv(mutated(bundle, swap_proof_for_promise), trusted_root), tmp_path, Reason.TLOG_NO_PROOF, 1)


def test_a_library_warning_is_one_line_for_a_person(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """cryptography warns on some certificates (a three-letter country, say): one line, no source."""
    import warnings

    from verifier.cli.common import guard_process

    monkeypatch.delenv("AIRSEAL_DEBUG", raising=False)
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)

    def main() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            warnings.warn("Country names should be two characters, but the attribute is 3 characters", UserWarning, stacklevel=1)

    import signal

    previous = signal.getsignal(signal.SIGTERM)
    try:
        guard_process(main)
    finally:
        signal.signal(signal.SIGTERM, previous)
    err = capsys.readouterr().err
    assert err == "warning: Country names should be two characters, but the attribute is 3 characters (UserWarning)\n"
