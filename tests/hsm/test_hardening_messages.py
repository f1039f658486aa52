"""Hardening findings on the signing side: attest refuses what it used to sign silently (7),
and the token messages say what is really wrong (6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from verifier.cli.app import main


def _attest(tmp_path: Path, predicate: str, predicate_type: str = "https://slsa.dev/provenance/v1") -> Any:
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "p.json").write_text(predicate)
    return CliRunner().invoke(main, ["attest", "--key", "pkcs11:token=absent;object=k", "--predicate",
                                     str(tmp_path / "p.json"), "--predicate-type", predicate_type, str(tmp_path / "a.txt")])


@pytest.mark.parametrize(
    ("predicate", "words"),
    [('{"a": 1, "a": 2}', "duplicate JSON key 'a'"), ("[1, 2]", "must be a JSON object"), ('"text"', "must be a JSON object"),
     ('{"x": NaN}', "not valid JSON")],
    ids=["duplicate keys", "array", "string", "NaN"],
)
def test_attest_refuses_bad_predicates_before_the_token(tmp_path: Path, predicate: str, words: str) -> None:
    result = _attest(tmp_path, predicate)
    assert result.exit_code == 3, result.output
    assert words in result.stderr
    assert not (tmp_path / "a.txt.sigstore.json").exists()


@pytest.mark.parametrize("ptype", ["provenance", "", "slsa.dev/provenance/v1", "https://x y"])
def test_attest_refuses_a_predicate_type_that_is_not_an_absolute_uri(tmp_path: Path, ptype: str) -> None:
    result = _attest(tmp_path, "{}", ptype)
    assert result.exit_code == 2, result.output
    assert "must be an absolute URI" in result.output


def test_attest_predicate_fifo_is_refused(tmp_path: Path) -> None:
    import os

    os.mkfifo(tmp_path / "fifo.json")
    (tmp_path / "a.txt").write_text("a")
    result = CliRunner().invoke(main, ["attest", "--key", "pkcs11:token=absent;object=k", "--predicate",
                                       str(tmp_path / "fifo.json"), "--predicate-type", "https://x/y", str(tmp_path / "a.txt")])
    assert result.exit_code == 3 and "FIFO" in result.stderr


def test_hsm_tokens_without_module_suggests_the_option(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRSEAL_PKCS11_MODULE", raising=False)
    result = CliRunner().invoke(main, ["hsm", "tokens"])
    assert result.exit_code == 5
    assert "pass --module /path/to/module.so" in result.stderr and "module-path" not in result.stderr


def test_ambiguous_key_hint_names_only_what_is_missing() -> None:
    from hsm.keys import _narrowing_hint
    from hsm.uri import parse_uri

    assert "add object= and/or id=" in _narrowing_hint(parse_uri("pkcs11:token=t"))
    assert _narrowing_hint(parse_uri("pkcs11:token=t;object=k")).startswith("add id=")
    assert _narrowing_hint(parse_uri("pkcs11:token=t;id=%01")).startswith("add object=")
    both = _narrowing_hint(parse_uri("pkcs11:token=t;object=k;id=%01"))
    assert "add" not in both and "duplicates" in both


def test_rejected_pin_names_where_it_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    import pkcs11.exceptions as p11e

    from hsm.token import pin_origin, translate
    from hsm.uri import parse_uri

    monkeypatch.delenv("AIRSEAL_PKCS11_PIN", raising=False)
    typed = translate(p11e.PinIncorrect(), "opening a session", pin_from=pin_origin(parse_uri("pkcs11:token=t")))
    assert "from the terminal prompt" in typed.detail and "AIRSEAL_PKCS11_PIN" not in typed.detail
    assert "pin-source file /run/p" in pin_origin(parse_uri("pkcs11:token=t?pin-source=/run/p"))
    monkeypatch.setenv("AIRSEAL_PKCS11_PIN", "1")
    assert pin_origin(parse_uri("pkcs11:token=t")) == "AIRSEAL_PKCS11_PIN"


@pytest.mark.softhsm
def test_ambiguous_keys_are_listed_sorted(softhsm: Any) -> None:
    softhsm.keygen("key-b", "ec-p256")
    softhsm.keygen("key-a", "ec-p256")
    (softhsm.root / "x").write_text("x")
    result = softhsm.run("sign", "--key", softhsm.uri(), str(softhsm.root / "x"))
    assert result.returncode == 5, result.stderr
    assert "add object= and/or id= to pick one" in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("  candidates:")]
    assert lines and lines[0].index("key-a") < lines[0].index("key-b")
