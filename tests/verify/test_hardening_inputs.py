"""Regression tests for the hardening issue (findings 2, 4, 6, 7, 10, 11): each input here used
to end as an internal error (exit 70), a hang, a silent acceptance or a misleading message."""

from __future__ import annotations

import base64
import json
import os
import signal
import threading
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.support.virtual_sigstore import VirtualSigstore, mutated, tlog_entry
from tests.verify._harness import ARTIFACT, Inv, run_inv
from verifier.errors import Reason

BIG = "9" * 5000
DEEP = "[" * 10_000 + "]" * 10_000


def _expect(inv: Inv, tmp_path: Path, reason: Reason, exit_code: int) -> Any:
    out = run_inv(inv, tmp_path)
    assert (out.exit_code, out.reason) == (exit_code, reason.value), out.describe()
    assert "internal error" not in out.result.stderr
    return out


# --- finding 2 and 10: 5000-digit integers ---------------------------------------------------


@pytest.mark.parametrize("field", ["logIndex", "integratedTime"])
def test_5000_digit_integer_strings_are_bad_integers(field: str, vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    bundle = mutated(vs.sign_artifact(ARTIFACT), lambda b: tlog_entry(b).__setitem__(field, BIG))
    out = _expect(Inv(bundle, trusted_root), tmp_path, Reason.BUNDLE_BAD_INTEGER, 3)
    assert len(out.report["message"]) < 300  # type: ignore[index]


def test_5000_digit_tree_size_is_a_bad_integer(vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    bundle = mutated(
        vs.sign_artifact(ARTIFACT, log="v2"), lambda b: tlog_entry(b)["inclusionProof"].__setitem__("treeSize", BIG)
    )
    _expect(Inv(bundle, trusted_root), tmp_path, Reason.BUNDLE_BAD_INTEGER, 3)


def test_5000_digit_checkpoint_tree_size_is_malformed() -> None:
    from verifier._internal.tlog.checkpoint import parse_checkpoint_body
    from verifier.errors import VerificationError

    with pytest.raises(VerificationError) as info:
        parse_checkpoint_body(f"origin\n{BIG}\n{base64.b64encode(bytes(32)).decode()}\n".encode())
    assert info.value.reason is Reason.TLOG_CHECKPOINT_MALFORMED
    assert len(info.value.detail) < 200


# --- finding 10: lone surrogates -------------------------------------------------------------


def _with_surrogate(bundle: dict[str, Any], path: tuple[Any, ...]) -> bytes:
    """The bundle as JSON text, with the string at `path` holding a `\\ud800` escape."""
    target: Any = bundle
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = "MARKER"
    return json.dumps(bundle).replace("MARKER", "x\\ud800y").encode()


def test_lone_surrogate_in_checkpoint_envelope(vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    bundle = vs.sign_artifact(ARTIFACT, log="v2")
    data = _with_surrogate(bundle, ("verificationMaterial", "tlogEntries", 0, "inclusionProof", "checkpoint", "envelope"))
    _expect(Inv(data, trusted_root), tmp_path, Reason.BUNDLE_MALFORMED_JSON, 3)


def test_lone_surrogate_in_dsse_payload_type(vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    from tests.support.virtual_sigstore import b64

    payload = b'{"_type":"https://in-toto.io/Statement/v1","subject":[]}'
    bundle = mutated(vs.sign_artifact(ARTIFACT), lambda b: None)
    del bundle["messageSignature"]
    bundle["dsseEnvelope"] = {"payload": b64(payload), "payloadType": "t", "signatures": [{"sig": b64(b"s"), "keyid": ""}]}
    data = _with_surrogate(bundle, ("dsseEnvelope", "payloadType"))
    _expect(Inv(data, trusted_root), tmp_path, Reason.BUNDLE_MALFORMED_JSON, 3)


def test_lone_surrogate_in_trusted_root_base_url(vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    root = json.loads(json.dumps(trusted_root))
    data = _with_surrogate(root, ("tlogs", 0, "baseUrl"))
    _expect(Inv(vs.sign_artifact(ARTIFACT), data), tmp_path, Reason.TRUSTROOT_MALFORMED, 3)


def test_signed_note_with_lone_surrogate_is_malformed() -> None:
    from verifier._internal.tlog.checkpoint import parse_signed_note
    from verifier.errors import VerificationError

    with pytest.raises(VerificationError) as info:
        parse_signed_note("origin\ud800\n1\nAAAA\n\n\u2014 origin AAAAAAAA\n")
    assert info.value.reason is Reason.TLOG_NOTE_MALFORMED


def test_pae_and_note_key_id_refuse_surrogates_through_the_json_reader() -> None:
    """Every JSON string airseal reads passes the one reader, which refuses lone surrogates."""
    from verifier._internal.encoding import load_json
    from verifier.errors import InputError

    for doc in ('{"a": "\\udc00"}', '["\\ud800"]', '{"\\udfff": 1}'):
        with pytest.raises(InputError):
            load_json(doc.encode(), what="doc")
    assert load_json(b'"\\ud83d\\ude00"', what="doc") == "\U0001f600"  # a pair is one code point


def test_echo_never_fails_on_unencodable_text(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from verifier.cli.common import echo

    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii", errors="strict")
    monkeypatch.setattr("sys.stdout", stream)
    echo("TSA subject CN=\ud800 caf\u00e9")  # a name from a certificate, printed with -v
    stream.flush()
    assert raw.getvalue() == b"TSA subject CN=\\ud800 caf\\xe9\n"


# --- finding 10: deep JSON -------------------------------------------------------------------


def test_deep_json_in_canonicalized_body(vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    bundle = mutated(
        vs.sign_artifact(ARTIFACT),
        lambda b: tlog_entry(b).__setitem__("canonicalizedBody", base64.b64encode(DEEP.encode()).decode()),
    )
    out = run_inv(Inv(bundle, trusted_root), tmp_path)
    assert out.exit_code in (1, 3), out.describe()
    assert "internal error" not in out.result.stderr


def test_deep_json_in_dsse_payload(vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    from tests.support.virtual_sigstore import b64

    bundle = vs.sign_artifact(ARTIFACT)
    del bundle["messageSignature"]
    bundle["dsseEnvelope"] = {
        "payload": b64(DEEP.encode()), "payloadType": "application/vnd.in-toto+json",
        "signatures": [{"sig": b64(b"s"), "keyid": ""}],
    }
    _expect(Inv(bundle, trusted_root), tmp_path, Reason.BUNDLE_DSSE_PAYLOAD, 3)


def test_deep_json_in_statement_helpers() -> None:
    from verifier._internal import intoto
    from verifier.errors import VerificationError

    assert intoto.subject_hash_names(DEEP.encode()) == set()
    with pytest.raises(VerificationError):
        intoto.read_subjects(intoto.PAYLOAD_TYPE, DEEP.encode())


def test_deep_json_in_tlog_body_parser() -> None:
    from verifier._internal.bundle.model import TlogEntry
    from verifier._internal.tlog.entry import parse_body
    from verifier.errors import VerificationError

    fields = dict.fromkeys(TlogEntry._fields)
    fields.update(kind="hashedrekord", version="0.0.1", canonicalized_body=DEEP.encode())
    with pytest.raises(VerificationError) as info:
        parse_body(TlogEntry(**fields))
    assert info.value.reason is Reason.TLOG_ENTRY_MISMATCH


# --- finding 10: a flipped bit in a CA certificate's key algorithm OID ------------------------


def test_unknown_key_algorithm_in_trusted_ca_is_a_chain_problem(vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    from verifier._internal.pki.chain import _checked_ca_chain

    root = json.loads(json.dumps(trusted_root))
    ca_b64 = root["certificateAuthorities"][0]["certChain"]["certificates"][-1]["rawBytes"]
    der = bytearray(base64.b64decode(ca_b64))
    ec_oid = bytes.fromhex("06072a8648ce3d0201")  # id-ecPublicKey
    at = bytes(der).find(ec_oid)
    assert at > 0
    der[at + 8] ^= 0x01  # 1.2.840.10045.2.0: no such key algorithm
    chain = _checked_ca_chain.__wrapped__((bytes(der),))
    assert chain.problem is not None
    root["certificateAuthorities"][0]["certChain"]["certificates"][-1]["rawBytes"] = base64.b64encode(der).decode()
    out = run_inv(Inv(vs.sign_artifact(ARTIFACT), root), tmp_path)
    assert out.exit_code in (1, 3), out.describe()


# --- finding 4: --trust checked for key bundles ----------------------------------------------


def test_unknown_trust_name_with_a_key_bundle(vs: VirtualSigstore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from verifier.cli.app import main

    monkeypatch.setenv("AIRSEAL_HOME", str(tmp_path / "home"))
    bundle = vs.sign_artifact(ARTIFACT, key_based=True, log=None)
    (tmp_path / "b.json").write_text(json.dumps(bundle))
    (tmp_path / "k.pub").write_bytes(vs.key("ecdsa-p256").public_key_pem())
    (tmp_path / "a.bin").write_bytes(ARTIFACT)
    base = ["verify", "--bundle", str(tmp_path / "b.json"), "--key", str(tmp_path / "k.pub"), "--min-tlog-entries", "0"]
    assert CliRunner().invoke(main, [*base, str(tmp_path / "a.bin")]).exit_code == 0
    result = CliRunner().invoke(main, [*base, "--trust", "nosuch", "--json", str(tmp_path / "a.bin")])
    assert result.exit_code == 4, result.output
    assert json.loads(result.stdout)["reason_code"] == "trustroot.unknown_trust"


# --- finding 6: messages ---------------------------------------------------------------------


def test_huge_bundle_says_larger_than_16_mib(vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    out = run_inv(Inv(vs.sign_artifact(ARTIFACT), trusted_root), tmp_path)
    assert out.exit_code == 0, out.describe()
    with open(tmp_path / "bundle.sigstore.json", "r+b") as fh:
        fh.truncate(200 * 1024 * 1024)  # sparse: 200 MB on paper
    from verifier.cli.app import main

    args = ["verify", "--bundle", str(tmp_path / "bundle.sigstore.json"), "--key", str(tmp_path / "nokey"), "--json", str(tmp_path / "artifact.bin")]
    result = CliRunner().invoke(main, args)
    doc = json.loads(result.stdout)
    assert (result.exit_code, doc["reason_code"]) == (3, "input.too_large")
    assert "larger than 16 MiB" in doc["message"] and "16777217" not in doc["message"]


def test_media_type_is_not_echoed_whole(vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    bundle = mutated(vs.sign_artifact(ARTIFACT), lambda b: b.__setitem__("mediaType", "m" * 1_000_000))
    out = _expect(Inv(bundle, trusted_root), tmp_path, Reason.BUNDLE_UNSUPPORTED_MEDIA_TYPE, 3)
    assert len(out.result.stdout) < 5000 and len(out.result.stderr) < 5000
    assert "(1000000 characters)" in out.report["message"]  # type: ignore[index]


def test_empty_bundle_says_it_has_no_media_type(trusted_root: dict, tmp_path: Path) -> None:
    out = _expect(Inv({}, trusted_root), tmp_path, Reason.BUNDLE_UNSUPPORTED_MEDIA_TYPE, 3)
    assert out.report["message"] == "bundle has no mediaType"  # type: ignore[index]
    assert "None" not in out.result.stderr


def test_shorten_notes_the_original_length() -> None:
    from verifier._internal.encoding import shorten

    assert shorten("abc") == "abc"
    assert shorten("x" * 1000, 10) == "xxxxxxxxxx... (1000 characters)"
    assert shorten("a\ud800b") == "a\\ud800b"


def test_negative_count_message_and_click_style(capsys: pytest.CaptureFixture[str]) -> None:
    from verifier.cli.verify import parse_args

    with pytest.raises(SystemExit) as info:
        parse_args("airseal verify", ["--min-tlog-entries", "-1", "a"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Usage: airseal verify [OPTIONS]")
    assert "Error: Invalid value for '--min-tlog-entries': must be a non-negative integer, got '-1'" in err
    assert "_count" not in err


@pytest.mark.parametrize("argv", [["--unknown", "a"], [], ["--key"], ["--mode", "lax", "--key", "k", "a"], ["--key", "k", "a", "b"]])
def test_every_argparse_usage_error_is_click_style(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    from verifier.cli.verify import parse_args

    with pytest.raises(SystemExit) as info:
        parse_args("airseal verify", argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("Usage: airseal verify [OPTIONS]") and "\nError: " in err
    assert "error: " not in err  # argparse's own style


# --- finding 7: --key twice, identity without issuer ----------------------------------------


def test_key_twice_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from verifier.cli.app import main
    from verifier.cli.verify import parse_args

    with pytest.raises(SystemExit) as info:
        parse_args("airseal verify", ["--key", "a.pem", "--key", "b.pem", "x"])
    assert info.value.code == 2
    assert "--key was given 2 times; give it once" in capsys.readouterr().err
    for command in (["verify"], ["sign"]):
        result = CliRunner().invoke(main, [*command, "--key", "a", "--key", "b", "x"])
        assert result.exit_code == 2, result.output
        assert "given 2 times" in result.output


def test_identity_without_issuer_warns(vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    out = run_inv(Inv(vs.sign_artifact(ARTIFACT), trusted_root, issuer=None), tmp_path)
    assert out.exit_code == 0, out.describe()
    assert "no --certificate-oidc-issuer" in out.result.stderr
    assert any("no --certificate-oidc-issuer" in w for w in out.report["warnings"])  # type: ignore[index]
    quiet = run_inv(Inv(vs.sign_artifact(ARTIFACT), trusted_root), tmp_path / "2")
    assert "no --certificate-oidc-issuer" not in quiet.result.stderr


# --- finding 11: FIFOs -----------------------------------------------------------------------


@pytest.mark.parametrize("which", ["--bundle", "--trusted-root", "--key"])
def test_fifo_is_refused_not_waited_on(which: str, vs: VirtualSigstore, trusted_root: dict, tmp_path: Path) -> None:
    from verifier.cli.app import main

    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    bundle = tmp_path / "b.json"
    bundle.write_text(json.dumps(vs.sign_artifact(ARTIFACT)))
    root = tmp_path / "root.json"
    root.write_text(json.dumps(trusted_root))
    key = tmp_path / "k.pub"
    key.write_bytes(vs.key("ecdsa-p256").public_key_pem())
    (tmp_path / "a.bin").write_bytes(ARTIFACT)
    paths = {"--bundle": bundle, "--trusted-root": root, "--key": key}
    paths[which] = fifo
    args = ["verify", "--bundle", str(paths["--bundle"]), "--trusted-root", str(paths["--trusted-root"])]
    args += ["--key", str(paths["--key"])] if which == "--key" else ["--certificate-identity-regexp", ".*", "--certificate-oidc-issuer-regexp", ".*"]
    timer = threading.Timer(20, lambda: os.kill(os.getpid(), signal.SIGALRM))
    old = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("blocked on the FIFO"))
    timer.start()
    try:
        result = CliRunner().invoke(main, [*args, "--json", str(tmp_path / "a.bin")])
    finally:
        timer.cancel()
        signal.signal(signal.SIGALRM, old)
    assert result.exit_code == 3, result.output
    assert "FIFO" in json.loads(result.stdout)["message"]


def test_logged_certificate_with_an_invalid_version_is_a_mismatch() -> None:
    """Fuzz find (certificate harness): cryptography raises InvalidVersion, not ValueError, for
    an X.509 version field of 7; a logged body's PEM certificate must not end as exit 70."""
    import base64 as b64mod

    from tests.fuzz.test_fuzz_ci import HERE
    from verifier._internal.tlog.entry import SigningMaterial, _pem_matches

    der = (HERE / "regressions" / "certificate" / "crash-4e6a88ed66a02ce6f41b8f31f170df4815aac59b").read_bytes()
    pem = b"-----BEGIN CERTIFICATE-----\n" + b64mod.encodebytes(der) + b"-----END CERTIFICATE-----\n"
    assert _pem_matches(pem, SigningMaterial(key=None, certificate_der=b"x", spki_der=b"")) is False  # type: ignore[arg-type]
