"""End-to-end signing on every PKCS#11 implementation, for every key type, against a capability
table (tests/hsm/token_matrix.json) that the tests hold to reality in both directions.

For each implementation (SoftHSM2, tpm2-pkcs11 on swtpm, openCryptoki's soft token) x key type:
- `airseal hsm keygen`: a cell 'ok' / 'ok-compatible' must succeed (and warn about the compatible
  template exactly when the cell says so); 'unsupported CKM_X' must exit 5 with
  hsm.mechanism_unsupported and name CKM_X. A token that starts (or stops) supporting something
  the table says otherwise fails the test.
- with the key: `airseal sign`, `airseal attest`, `airseal verify --key PEM` and
  `--key pkcs11:URI` (--min-tlog-entries 0), a tampered artifact (exit 1), `--rsa-pss` for RSA.
- `airseal hsm import` of a host key of the same type: 'ok*' must import and sign (verified
  with the host's public key), 'refused' is hsm.import_refused, 'unsupported CKM_X' as above.
Per implementation: a wrong PIN (exit 5, hsm.pin_incorrect), a missing token (exit 5,
hsm.token_not_found), a locked PIN (exit 5, no login attempted), `hsm doctor --json` agreeing
with the table, and the CKM_ECDSA_SHA256/384 signing path (tpm2, which offers both).

No PIN ever appears in any output (assert_no_pin on every command).

    python -m tests.hsm.test_token_matrix --markdown     # the table in docs/hsm.md
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.hsm.softhsm_support import assert_no_pin
from tests.hsm.tokens_support import BACKENDS, Token, backend_missing

MATRIX_FILE = Path(__file__).with_name("token_matrix.json")
MATRIX: dict[str, Any] = json.loads(MATRIX_FILE.read_text())
KEY_TYPES = ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519")
CELLS = [(impl, kt) for impl in BACKENDS for kt in KEY_TYPES]

DOC = Path(__file__).resolve().parents[2] / "docs" / "hsm.md"
DOC_BEGIN = "<!-- token-matrix:begin (generated: python -m tests.hsm.test_token_matrix --markdown) -->"
DOC_END = "<!-- token-matrix:end -->"


def _ids(cell: tuple[str, str]) -> str:
    return f"{cell[0]}-{cell[1]}"


def run(tok: Token, *args: str, pin: str | None = None, expect: int | None = 0) -> subprocess.CompletedProcess[str]:
    extra = {} if pin is None else {"AIRSEAL_PKCS11_PIN": pin}
    result = subprocess.run([sys.executable, "-m", "verifier", *args], env=tok.environ(**extra), cwd=tok.root,
                            capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert "Traceback" not in result.stderr, result.stderr
    assert_no_pin(result, tok.pin)
    if pin:
        assert_no_pin(result, pin)
    if expect is not None:
        assert result.returncode == expect, f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def assert_refusal(result: subprocess.CompletedProcess[str], cell: str) -> None:
    """`cell` is 'unsupported CKM_X' or 'refused': exit 5, the reason code, the mechanism named."""
    assert result.returncode == 5, f"expected exit 5 ({cell}), got {result.returncode}: {result.stderr}"
    if cell == "refused":
        assert "[hsm.import_refused]" in result.stderr, result.stderr
    else:
        _, mechanism, *size = cell.split()
        assert "[hsm.mechanism_unsupported]" in result.stderr, result.stderr
        assert mechanism in result.stderr, f"{mechanism} not named: {result.stderr}"
        for text in size:  # the key-size range the token allows
            assert text in result.stderr, f"{text} not named: {result.stderr}"
    assert "GeneralError" not in result.stderr


def host_key_pem(key_type: str, path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if key_type == "ed25519":
        key: Any = ed25519.Ed25519PrivateKey.generate()
    elif key_type.startswith("ec-"):
        key = ec.generate_private_key(ec.SECP256R1() if key_type == "ec-p256" else ec.SECP384R1())
    else:
        key = rsa.generate_private_key(65537, int(key_type[4:]))
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    pub = path.with_suffix(".pub.pem")
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    return pub


def sign_and_verify(tok: Token, key_uri: str, pem: Path, tag: str, *, rsa_pss: str) -> None:
    """sign + attest + verify (PEM and pkcs11:) + tampered + --rsa-pss, with one key."""
    artifact = tok.root / f"{tag}.tar.gz"
    artifact.write_bytes(b"release " + tag.encode() * 50)
    bundle = tok.root / f"{tag}.sigstore.json"
    run(tok, "sign", "--key", key_uri, "--bundle", str(bundle), str(artifact))
    predicate = tok.root / f"{tag}.predicate.json"
    predicate.write_text(json.dumps({"builder": {"id": "https://ci.example/airseal"}}))
    attestation = tok.root / f"{tag}.intoto.sigstore.json"
    run(tok, "attest", "--key", key_uri, "--predicate", str(predicate), "--predicate-type",
        "https://slsa.dev/provenance/v1", "--bundle", str(attestation), str(artifact))
    verify = ("verify", "--min-tlog-entries", "0")
    run(tok, *verify, "--bundle", str(bundle), "--key", str(pem), str(artifact))
    run(tok, *verify, "--bundle", str(bundle), "--key", key_uri, str(artifact))
    run(tok, *verify, "--bundle", str(attestation), "--key", str(pem), str(artifact))
    pss_bundle = tok.root / f"{tag}.pss.sigstore.json"
    if rsa_pss == "ok":
        run(tok, "sign", "--rsa-pss", "--key", key_uri, "--bundle", str(pss_bundle), str(artifact))
        run(tok, *verify, "--bundle", str(pss_bundle), "--key", str(pem), str(artifact))
    artifact.write_bytes(b"tampered")
    run(tok, *verify, "--bundle", str(bundle), "--key", str(pem), str(artifact), expect=1)
    run(tok, *verify, "--bundle", str(attestation), "--key", key_uri, str(artifact), expect=1)


@pytest.mark.slow
@pytest.mark.parametrize("any_token,key_type", CELLS, indirect=["any_token"], ids=[_ids(c) for c in CELLS])
def test_key_type(any_token: Token, key_type: str) -> None:
    tok = any_token
    cell = MATRIX["implementations"][tok.backend][key_type]
    # keygen
    uri = tok.uri(object=f"gen-{key_type}")
    result = run(tok, "hsm", "keygen", uri, "--type", key_type, expect=None)
    if cell["keygen"].startswith("ok"):
        assert result.returncode == 0, (
            f"table says {tok.backend} {key_type} keygen {cell['keygen']}, but: {result.stderr}")
        compatible = "compatible one" in result.stderr
        assert compatible == (cell["keygen"] == "ok-compatible"), (
            f"table says keygen {cell['keygen']}; stderr: {result.stderr}")
        key_uri = result.stdout.split("\t")[0]
        pem = tok.root / f"gen-{key_type}.pub.pem"
        run(tok, "hsm", "pubkey", key_uri, "--out", str(pem))
        sign_and_verify(tok, key_uri, pem, f"gen-{key_type}", rsa_pss=cell["rsa_pss"])
    else:
        assert_refusal(result, cell["keygen"])
        listed = run(tok, "hsm", "keys", tok.uri(), "--json")
        assert json.loads(listed.stdout)["keys"] == [], "a refused keygen left objects behind"
    # import
    pem_file = tok.root / f"host-{key_type}.pem"
    host_pub = host_key_pem(key_type, pem_file)
    imp_uri = tok.uri(object=f"imp-{key_type}")
    result = run(tok, "hsm", "import", imp_uri, "--pem", str(pem_file), expect=None)
    if cell["import"].startswith("ok"):
        assert result.returncode == 0, (
            f"table says {tok.backend} {key_type} import {cell['import']}, but: {result.stderr}")
        key_uri = result.stdout.split("\t")[0]
        artifact = tok.root / "imported.bin"
        artifact.write_bytes(b"signed with an imported key")
        run(tok, "sign", "--key", key_uri, str(artifact))
        run(tok, "verify", "--min-tlog-entries", "0", "--key", str(host_pub), str(artifact))
    else:
        assert_refusal(result, cell["import"])
        listed = run(tok, "hsm", "keys", tok.uri(object=f"imp-{key_type}"), "--json")
        assert json.loads(listed.stdout)["keys"] == [], "a refused import left objects behind"


def _first_signing_type(impl: str) -> str:
    cells = MATRIX["implementations"][impl]
    return next(kt for kt in KEY_TYPES if cells[kt]["keygen"].startswith("ok"))


@pytest.mark.slow
@pytest.mark.parametrize("any_token", BACKENDS, indirect=True)
def test_pin_token_and_doctor(any_token: Token) -> None:
    """Wrong PIN, missing token, doctor (human + JSON) agreeing with the table, locked PIN."""
    tok = any_token
    key_type = _first_signing_type(tok.backend)
    made = run(tok, "hsm", "keygen", tok.uri(object="k"), "--type", key_type)
    key_uri = made.stdout.split("\t")[0]
    artifact = tok.root / "a.txt"
    artifact.write_bytes(b"a")
    wrong = "99999999" if tok.backend == "opencryptoki" else "wrong-pin-0000"
    bad = run(tok, "sign", "--key", key_uri, str(artifact), pin=wrong, expect=5)
    assert "[hsm.pin_incorrect]" in bad.stderr
    missing = run(tok, "sign", "--key", tok.uri(object="k").replace(tok.label, "no-such-token"), str(artifact), expect=5)
    assert "[hsm.token_not_found]" in missing.stderr
    # doctor: human text, then JSON checked against the table
    human = run(tok, "hsm", "doctor", key_uri)
    assert "test sign   verified" in human.stdout, human.stdout
    report = json.loads(run(tok, "hsm", "doctor", key_uri, "--json").stdout)
    assert report["schema"] == "airseal.hsm.doctor.v1"
    assert report["problems"] == []
    assert report["key"]["test_signature"]["status"] == "verified"
    assert report["key"]["attributes"]["sensitive"] is True
    assert report["key"]["attributes"]["extractable"] is False
    (token,) = report["tokens"]
    for kt in KEY_TYPES:
        expected = MATRIX["implementations"][tok.backend][kt]["keygen"].startswith("ok")
        assert token["key_types"][kt]["generate"] == expected, (kt, token["key_types"][kt])
    if key_type.startswith("rsa-"):
        assert report["key"]["sign_options"]["rsa_pss"] is (MATRIX["implementations"][tok.backend][key_type]["rsa_pss"] == "ok")
    no_pin = run(tok, "hsm", "doctor", key_uri, "--json", pin="")
    assert json.loads(no_pin.stdout)["key"]["test_signature"]["status"] == "skipped"
    # locked PIN: the table's number of wrong logins in a row locks the token (null: never;
    # checked over 4). The doctor's good login above reset the token's failure counter.
    lockout = MATRIX["pin_lockout"][tok.backend]

    def locked_flag() -> bool:
        doctor = run(tok, "hsm", "doctor", tok.uri(), "--json", pin="")
        return bool(json.loads(doctor.stdout)["tokens"][0]["flags"]["user_pin_locked"])

    for _ in range((lockout or 4) - 1):
        run(tok, "hsm", "keys", tok.uri(), pin=wrong, expect=5)
    assert not locked_flag(), f"locked before {lockout} wrong PINs"
    run(tok, "hsm", "keys", tok.uri(), pin=wrong, expect=5)
    assert locked_flag() is bool(lockout), f"table says pin_lockout={lockout}"
    if lockout:
        locked = run(tok, "sign", "--key", key_uri, str(artifact), expect=5)
        assert "[hsm.pin_incorrect]" in locked.stderr and "locked" in locked.stderr


@pytest.mark.slow
@pytest.mark.loopback  # a software TPM on loopback TCP
def test_ecdsa_token_hash_path(tmp_path: Path) -> None:
    """Tokens without raw CKM_ECDSA: CKM_ECDSA_SHA256/384 over the message (tpm2 offers both,
    so the signer is told to ignore CKM_ECDSA)."""
    from pkcs11.mechanisms import Mechanism

    from tests.hsm.tokens_support import backend_token
    reason = backend_missing("tpm2")
    if reason:
        pytest.skip(reason)
    from hsm.keygen import generate_key
    from hsm.signer import HsmSigner
    from hsm.token import open_token
    from hsm.uri import parse_uri

    with backend_token("tpm2", tmp_path) as tok:
        import os

        os.environ["AIRSEAL_PKCS11_MODULE"] = tok.module
        os.environ["AIRSEAL_PKCS11_PIN"] = tok.pin
        try:
            for key_type, mech in (("ec-p256", Mechanism.ECDSA_SHA256), ("ec-p384", Mechanism.ECDSA_SHA384)):
                uri = parse_uri(tok.uri(object=key_type))
                opened = open_token(uri, login=True, rw=True)
                key = generate_key(opened, uri, key_type)
                from hsm.keys import find_private_key

                signer = HsmSigner(opened, find_private_key(opened, uri), key.public_key,
                                   mechanisms={Mechanism.ECDSA_SHA256, Mechanism.ECDSA_SHA384})
                assert signer.mechanism == mech and not signer.prehashed
                signer.sign_message(b"message hashed on the token")  # raises unless it verifies
                with pytest.raises(Exception, match=r"hsm\.mechanism_unsupported"):
                    HsmSigner(opened, find_private_key(opened, uri), key.public_key, mechanisms=set())
        finally:
            os.environ.pop("AIRSEAL_PKCS11_MODULE", None)
            os.environ.pop("AIRSEAL_PKCS11_PIN", None)


def markdown() -> str:
    """The implementations x key types x operations table for docs/hsm.md."""
    names = {"softhsm2": "SoftHSM 2.6", "tpm2": "tpm2-pkcs11 1.9 (swtpm)", "opencryptoki": "openCryptoki 3.8 soft token"}
    shown = {"ok": "yes", "ok-compatible": "yes (compatible template)", "refused": "refused (`hsm.import_refused`)",
             "n/a": "-"}

    def cell(value: str) -> str:
        if value.startswith("unsupported "):
            _, mech, *size = value.split()
            return f"no: `{mech}` only {size[0]} bits" if size else f"no: no `{mech}`"
        return shown.get(value, value)

    rows = ["| implementation | key type | keygen | import | sign / attest / verify | `--rsa-pss` |",
            "| --- | --- | --- | --- | --- | --- |"]
    for impl in BACKENDS:
        for kt in KEY_TYPES:
            c = MATRIX["implementations"][impl][kt]
            signs = "yes" if c["keygen"].startswith("ok") or c["import"].startswith("ok") else "-"
            rows.append(f"| {names[impl]} | `{kt}` | {cell(c['keygen'])} | {cell(c['import'])} | {signs} | {cell(c['rsa_pss'])} |")
    return "\n".join(rows)


def test_docs_table_is_generated_from_the_matrix() -> None:
    text = DOC.read_text()
    assert DOC_BEGIN in text and DOC_END in text, "docs/hsm.md lost the token-matrix markers"
    table = text.split(DOC_BEGIN, 1)[1].split(DOC_END, 1)[0].strip()
    assert table == markdown(), "docs/hsm.md is stale: python -m tests.hsm.test_token_matrix --markdown"


def test_matrix_covers_every_cell() -> None:
    for impl in BACKENDS:
        assert set(MATRIX["implementations"][impl]) == set(KEY_TYPES), impl
        for cells in MATRIX["implementations"][impl].values():
            for op in ("keygen", "import"):
                assert cells[op] in ("ok", "ok-compatible", "refused") or cells[op].startswith("unsupported CKM_"), cells
            assert cells["rsa_pss"] in ("ok", "n/a"), cells


if __name__ == "__main__":
    if "--markdown" in sys.argv:
        print(markdown())
