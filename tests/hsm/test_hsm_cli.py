"""`airseal sign` / `attest` / `hsm ...` end to end against real SoftHSM2.

Commands run in this process through the console entry (`softhsm.run`, see softhsm_support:
every call starts from C_Initialize, so each sees its own store as a fresh process would).
Where the process itself is the point (the PIN in any process output, a missing terminal,
the cold-start import set) the command runs in a subprocess (`softhsm.spawn`, marker
`subprocess`). Key types that only sign share one store per module (`shared_softhsm`), so
RSA-3072/4096 keys are generated once.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from tests.hsm.softhsm_support import assert_no_pin

pytestmark = pytest.mark.softhsm

KEY_TYPES = ["ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519"]
HASH_FOR = {"ec-p384": ("SHA2_384", hashes.SHA384(), "sha384")}
DEFAULT_HASH = ("SHA2_256", hashes.SHA256(), "sha256")


def _ok(result: Any) -> Any:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert "Traceback" not in result.stderr
    return result


def _fails(result: Any, exit_code: int, reason: str | None = None) -> Any:
    assert result.returncode == exit_code, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    assert "Traceback" not in result.stderr
    if reason is not None:
        assert f"[{reason}]" in result.stderr, result.stderr
    return result


def _verify_host(public: Any, key_type: str, signature: bytes, data: bytes, *, pss: bool = False) -> None:
    """Independent check with cryptography of a signature over `data`."""
    _, algorithm, _ = HASH_FOR.get(key_type, DEFAULT_HASH)
    if isinstance(public, ed25519.Ed25519PublicKey):
        public.verify(signature, data)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(signature, data, ec.ECDSA(algorithm))
    else:
        assert isinstance(public, rsa.RSAPublicKey)
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32) if pss else padding.PKCS1v15()
        public.verify(signature, data, pad, algorithm)


def _artifact(softhsm: Any, name: str = "artifact.bin", data: bytes = b"airseal test artifact\n" * 100) -> Path:
    path = softhsm.root / name
    path.write_bytes(data)
    return path


def _slow_rsa(key_types: list[str]) -> list[Any]:
    """RSA-3072/4096 keygen takes seconds on SoftHSM even once per module: `slow`."""
    return [pytest.param(k, marks=pytest.mark.slow) if k in ("rsa-3072", "rsa-4096") else k for k in key_types]


@pytest.mark.parametrize("key_type", _slow_rsa(KEY_TYPES))
def test_keygen_sign_pubkey(shared_softhsm: Any, key_type: str) -> None:
    softhsm = shared_softhsm
    uri = softhsm.key(key_type)  # `hsm keygen` through the CLI, once per module and key type
    gen = _ok(softhsm.keys[key_type])
    assert key_type in gen.stdout and "id=%" in gen.stdout
    artifact = _artifact(softhsm)
    signed = _ok(softhsm.run("sign", "--key", uri, str(artifact)))
    assert_no_pin(signed)
    pem_path = softhsm.root / "key.pem"
    _ok(softhsm.run("hsm", "pubkey", uri, "--out", str(pem_path)))
    public = serialization.load_pem_public_key(pem_path.read_bytes())

    bundle = json.loads(Path(str(artifact) + ".sigstore.json").read_text())
    assert bundle["mediaType"] == "application/vnd.dev.sigstore.bundle.v0.3+json"
    material = bundle["verificationMaterial"]
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert material["publicKey"]["hint"] == base64.b64encode(hashlib.sha256(spki).digest()).decode()
    assert material["tlogEntries"] == []
    digest_alg, _, hash_name = HASH_FOR.get(key_type, DEFAULT_HASH)
    message = bundle["messageSignature"]
    assert message["messageDigest"]["algorithm"] == digest_alg
    data = artifact.read_bytes()
    assert base64.b64decode(message["messageDigest"]["digest"]) == hashlib.new(hash_name, data).digest()
    _verify_host(public, key_type, base64.b64decode(message["signature"], validate=True), data)

    stdout_pem = _ok(softhsm.run("hsm", "pubkey", uri))
    assert stdout_pem.stdout.encode() == pem_path.read_bytes()


def test_sign_many_artifacts_one_call(softhsm: Any) -> None:
    softhsm.keygen("many", "ec-p256")
    paths = [_artifact(softhsm, f"f{i}.txt", f"file {i}\n".encode()) for i in range(5)]
    result = _ok(softhsm.run("sign", "--key", softhsm.uri(object="many"), *map(str, paths)))
    assert result.stdout.count("signed ") == 5
    public = serialization.load_pem_public_key(
        _ok(softhsm.run("hsm", "pubkey", softhsm.uri(object="many"))).stdout.encode()
    )
    for path in paths:
        bundle = json.loads(Path(f"{path}.sigstore.json").read_text())
        _verify_host(public, "ec-p256", base64.b64decode(bundle["messageSignature"]["signature"]), path.read_bytes())


def test_bundle_and_signature_options_need_one_artifact(softhsm: Any) -> None:
    a, b = _artifact(softhsm, "a"), _artifact(softhsm, "b")
    _fails(softhsm.run("sign", "--key", softhsm.uri(object="k"), "--bundle", "x.json", str(a), str(b)), 2)
    _fails(softhsm.run("sign", "--key", softhsm.uri(object="k"), "--signature", "x.sig", str(a), str(b)), 2)


def test_bundle_path_and_raw_signature(softhsm: Any) -> None:
    softhsm.keygen("k", "ec-p256")
    artifact = _artifact(softhsm)
    out, sig = softhsm.root / "out" / "b.json", softhsm.root / "out" / "a.sig"
    out.parent.mkdir()
    _ok(softhsm.run("sign", "--key", softhsm.uri(object="k"), "--bundle", str(out), "--signature", str(sig), str(artifact)))
    bundle = json.loads(out.read_text())
    assert sig.read_text().strip() == bundle["messageSignature"]["signature"]
    assert not Path(f"{artifact}.sigstore.json").exists()
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []  # no temp files left


def test_rsa_pss(shared_softhsm: Any) -> None:
    softhsm = shared_softhsm
    uri = softhsm.key("rsa-2048")
    artifact = _artifact(softhsm)
    _ok(softhsm.run("sign", "--rsa-pss", "--key", uri, str(artifact)))
    public = serialization.load_pem_public_key(_ok(softhsm.run("hsm", "pubkey", uri)).stdout.encode())
    bundle = json.loads(Path(f"{artifact}.sigstore.json").read_text())
    _verify_host(public, "rsa-2048", base64.b64decode(bundle["messageSignature"]["signature"]), artifact.read_bytes(), pss=True)


def test_unreadable_artifact_exits_3(softhsm: Any) -> None:
    softhsm.keygen("k", "ec-p256")
    _fails(softhsm.run("sign", "--key", softhsm.uri(object="k"), str(softhsm.root / "missing.bin")), 3, "artifact.unreadable")


def _self_signed_cert(softhsm: Any, key_label: str, path: Path) -> None:
    """A certificate for the token key, signed by a throwaway CA key (cert content is what matters)."""
    import datetime

    public = serialization.load_pem_public_key(_ok(softhsm.run("hsm", "pubkey", softhsm.uri(object=key_label))).stdout.encode())
    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "airseal test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(public)  # type: ignore[arg-type]
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
        .sign(ca_key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_certificate_goes_into_bundle(softhsm: Any) -> None:
    softhsm.keygen("k", "ec-p256")
    cert_path = softhsm.root / "cert.pem"
    _self_signed_cert(softhsm, "k", cert_path)
    artifact = _artifact(softhsm)
    _ok(softhsm.run("sign", "--key", softhsm.uri(object="k"), "--certificate", str(cert_path), str(artifact)))
    material = json.loads(Path(f"{artifact}.sigstore.json").read_text())["verificationMaterial"]
    assert "publicKey" not in material
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert base64.b64decode(material["certificate"]["rawBytes"]) == cert.public_bytes(serialization.Encoding.DER)


def test_certificate_for_another_key_is_refused(softhsm: Any) -> None:
    softhsm.keygen("k", "ec-p256")
    softhsm.keygen("other", "ec-p256")
    cert_path = softhsm.root / "cert.pem"
    _self_signed_cert(softhsm, "other", cert_path)
    artifact = _artifact(softhsm)
    result = _fails(softhsm.run("sign", "--key", softhsm.uri(object="k"), "--certificate", str(cert_path), str(artifact)), 5, "hsm.key_unusable")
    assert "different key" in result.stderr
    assert not Path(f"{artifact}.sigstore.json").exists()


@pytest.mark.parametrize("key_type", ["ec-p256", "ec-p384", "rsa-2048", "ed25519"])
def test_attest_dsse(shared_softhsm: Any, key_type: str) -> None:
    softhsm = shared_softhsm
    uri = softhsm.key(key_type)
    artifact = _artifact(softhsm, "app.tar.gz")
    predicate = softhsm.root / "predicate.json"
    predicate.write_text(json.dumps({"buildType": "test", "n": 1}))
    _ok(softhsm.run("attest", "--key", uri, "--predicate", str(predicate),
                    "--predicate-type", "https://slsa.dev/provenance/v1", str(artifact)))
    bundle = json.loads(Path(f"{artifact}.sigstore.json").read_text())
    envelope = bundle["dsseEnvelope"]
    assert envelope["payloadType"] == "application/vnd.in-toto+json"
    payload = base64.b64decode(envelope["payload"])
    statement = json.loads(payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["subject"] == [{"name": "app.tar.gz", "digest": {"sha256": hashlib.sha256(artifact.read_bytes()).hexdigest()}}]
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    assert statement["predicate"] == {"buildType": "test", "n": 1}
    assert len(envelope["signatures"]) == 1 and envelope["signatures"][0]["keyid"] == ""
    pae = b"DSSEv1 %d application/vnd.in-toto+json %d " % (len("application/vnd.in-toto+json"), len(payload)) + payload
    public = serialization.load_pem_public_key(_ok(softhsm.run("hsm", "pubkey", uri)).stdout.encode())
    _verify_host(public, key_type, base64.b64decode(envelope["signatures"][0]["sig"]), pae)


def test_attest_bad_predicate(softhsm: Any) -> None:
    softhsm.keygen("att", "ec-p256")
    bad = softhsm.root / "bad.json"
    bad.write_text("{not json")
    _fails(softhsm.run("attest", "--key", softhsm.uri(object="att"), "--predicate", str(bad),
                       "--predicate-type", "https://x", str(_artifact(softhsm))), 3)


# ----------------------------------------------------------------- failures and PIN hygiene


def test_no_module_is_exit_5(softhsm: Any) -> None:
    result = _fails(softhsm.run("sign", "--key", softhsm.uri(object="k"), str(_artifact(softhsm)),
                                env={"AIRSEAL_PKCS11_MODULE": None}), 5, "hsm.library_not_found")  # type: ignore[dict-item]
    assert "AIRSEAL_PKCS11_MODULE" in result.stderr


def test_no_token_is_exit_5(softhsm: Any) -> None:
    _fails(softhsm.run("sign", "--key", "pkcs11:token=absent;object=k", str(_artifact(softhsm))), 5, "hsm.token_not_found")


@pytest.mark.subprocess  # the PIN in the process's real output (fd 1 and 2, library messages included)
def test_wrong_pin_is_exit_5_and_never_printed(softhsm: Any) -> None:
    softhsm.keygen("k", "ec-p256")
    wrong = "wrong-pin-31337"
    result = _fails(softhsm.spawn("sign", "--key", softhsm.uri(object="k"), str(_artifact(softhsm)),
                                env={"AIRSEAL_PKCS11_PIN": wrong}), 5, "hsm.pin_incorrect")
    assert wrong not in result.stdout + result.stderr
    assert_no_pin(result)


@pytest.mark.subprocess  # a real process whose stdin is /dev/null, not a stand-in stream
def test_missing_pin_without_terminal(softhsm: Any) -> None:
    softhsm.keygen("k", "ec-p256")
    result = _fails(softhsm.spawn("sign", "--key", softhsm.uri(object="k"), str(_artifact(softhsm)),
                                env={"AIRSEAL_PKCS11_PIN": None}), 5, "hsm.pin_missing")  # type: ignore[dict-item]
    assert "AIRSEAL_PKCS11_PIN" in result.stderr and "pin-source" in result.stderr


def test_no_key_ambiguous_key(softhsm: Any) -> None:
    softhsm.keygen("a", "ec-p256")
    softhsm.keygen("b", "ec-p256")
    artifact = str(_artifact(softhsm))
    _fails(softhsm.run("sign", "--key", softhsm.uri(object="c"), artifact), 5, "hsm.key_not_found")
    result = _fails(softhsm.run("sign", "--key", softhsm.uri(), artifact), 5, "hsm.key_ambiguous")
    assert "object=a" in result.stderr and "object=b" in result.stderr


def test_keygen_existing_label_is_refused(softhsm: Any) -> None:
    softhsm.keygen("a", "ec-p256")
    _fails(softhsm.run("hsm", "keygen", softhsm.uri(object="a"), "--type", "ed25519"), 5, "hsm.key_exists")


def test_bad_uri_is_one_line(softhsm: Any) -> None:
    result = _fails(softhsm.run("sign", "--key", "pkcs11:lable=k", str(_artifact(softhsm))), 5, "hsm.uri_invalid")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.subprocess  # each command in its own process: everything it writes to fd 1 and 2 is grepped
@pytest.mark.slow
def test_pin_never_in_any_output(softhsm: Any, tmp_path: Path) -> None:
    """Every command, including pin-value URIs and failures, with stdout and stderr grepped."""
    softhsm.keygen("k", "ec-p256")
    pin_file = tmp_path / "pin"
    pin_file.write_text(softhsm.pin + "\n")
    artifact = str(_artifact(softhsm))
    with_value = softhsm.uri(object="k", query=f"pin-value={softhsm.pin}")
    with_source = softhsm.uri(object="k", query=f"pin-source={pin_file}")
    no_env = {"AIRSEAL_PKCS11_PIN": None}
    runs = [
        softhsm.spawn("sign", "--key", with_value, artifact, env=no_env),  # type: ignore[arg-type]
        softhsm.spawn("sign", "--key", with_source, artifact, env=no_env),  # type: ignore[arg-type]
        softhsm.spawn("hsm", "keys", with_value, env=no_env),  # type: ignore[arg-type]
        softhsm.spawn("hsm", "keys", softhsm.uri()),
        softhsm.spawn("hsm", "keys", softhsm.uri(), "--json"),
        softhsm.spawn("hsm", "pubkey", with_value, env=no_env),  # type: ignore[arg-type]
        softhsm.spawn("hsm", "tokens"),
        softhsm.spawn("hsm", "keygen", softhsm.uri(object="k2", query=f"pin-value={softhsm.pin}"), "--type", "ec-p256", env=no_env),  # type: ignore[arg-type]
        softhsm.spawn("sign", "--key", softhsm.uri(object="nope", query=f"pin-value={softhsm.pin}"), artifact, env=no_env),  # type: ignore[arg-type]
        softhsm.spawn("sign", "--key", with_value + "&bogus=1", artifact, env=no_env),  # type: ignore[arg-type]
        softhsm.spawn("sign", "--key", softhsm.uri(), artifact, env={"AIRSEAL_DEBUG": "1"}),
    ]
    for result in runs:
        assert_no_pin(result)
    assert "pin-value" in runs[0].stderr and "warning" in runs[0].stderr
    assert runs[0].returncode == 0 and runs[1].returncode == 0
    bundle_text = Path(artifact + ".sigstore.json").read_text()
    assert softhsm.pin not in bundle_text


def test_keys_lists_full_uris(softhsm: Any) -> None:
    softhsm.keygen("first", "ec-p256")
    softhsm.keygen("second", "ed25519")
    result = _ok(softhsm.run("hsm", "keys", softhsm.uri()))
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    for line in lines:
        uri = line.split("\t")[0]
        assert uri.startswith(f"pkcs11:token={softhsm.label};serial=") and ";id=%" in uri
        # each printed URI selects its key on its own
        _ok(softhsm.run("hsm", "pubkey", uri))
    data = json.loads(_ok(softhsm.run("hsm", "keys", softhsm.uri(), "--json")).stdout)
    assert {k["type"] for k in data["keys"]} == {"ec-p256", "ed25519"}


def test_keys_without_pin_lists_public_objects(softhsm: Any) -> None:
    softhsm.keygen("first", "ec-p256")
    result = _ok(softhsm.run("hsm", "keys", softhsm.uri(), env={"AIRSEAL_PKCS11_PIN": None}))  # type: ignore[dict-item]
    assert "object=first" in result.stdout and "public" in result.stdout
    assert "no PIN" in result.stderr


def test_tokens_command(softhsm: Any) -> None:
    result = _ok(softhsm.run("hsm", "tokens", "--module", softhsm.module))
    assert softhsm.label in result.stdout
    data = json.loads(_ok(softhsm.run("hsm", "tokens", "--json")).stdout)
    assert any(t["label"] == softhsm.label and t["initialized"] for t in data["tokens"])


def test_tokens_no_module(softhsm: Any) -> None:
    _fails(softhsm.run("hsm", "tokens", env={"AIRSEAL_PKCS11_MODULE": None}), 5, "hsm.library_not_found")  # type: ignore[dict-item]


def test_import_encrypted_pem(softhsm: Any) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = softhsm.root / "key.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(b"correct horse")))
    _fails(softhsm.run("hsm", "import", softhsm.uri(object="imp"), "--pem", str(pem)), 3, "key.malformed")
    _ok(softhsm.run("hsm", "import", softhsm.uri(object="imp"), "--pem", str(pem),
                    env={"AIRSEAL_KEY_PASSPHRASE": "correct horse"}))
    exported = _ok(softhsm.run("hsm", "pubkey", softhsm.uri(object="imp"))).stdout.encode()
    assert exported == key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    artifact = _artifact(softhsm)
    _ok(softhsm.run("sign", "--key", softhsm.uri(object="imp"), str(artifact)))
    bundle = json.loads(Path(f"{artifact}.sigstore.json").read_text())
    _verify_host(key.public_key(), "ec-p256", base64.b64decode(bundle["messageSignature"]["signature"]), artifact.read_bytes())


@pytest.mark.parametrize(
    "command",
    [["sign"], ["attest"], ["hsm"], ["hsm", "tokens"], ["hsm", "keys"], ["hsm", "keygen"], ["hsm", "import"], ["hsm", "pubkey"]],
)
def test_help_has_example(softhsm: Any, command: list[str]) -> None:
    result = _ok(softhsm.run(*command, "--help"))
    assert "Example" in result.stdout


@pytest.mark.loopback
def test_tsa_timestamp(softhsm: Any, tmp_path: Path) -> None:
    tsa_support = pytest.importorskip("tests.support.tsa")
    import shutil

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed by the test TSA")
    from asn1crypto import tsp

    authority = tsa_support.TimestampAuthority.create(tmp_path / "tsa")
    softhsm.keygen("k", "ec-p256")
    artifact = _artifact(softhsm)
    with tsa_support.serve_tsa(authority) as server:
        _ok(softhsm.run("sign", "--key", softhsm.uri(object="k"), "--tsa-url", server.url, str(artifact)))
        assert len(server.requests) == 1
        request = tsp.TimeStampReq.load(server.requests[0])
    bundle = json.loads(Path(f"{artifact}.sigstore.json").read_text())
    stamps = bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
    assert len(stamps) == 1
    response = tsp.TimeStampResp.load(base64.b64decode(stamps[0]["signedTimestamp"]))
    assert response["status"]["status"].native == "granted"
    info = response["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    signature = base64.b64decode(bundle["messageSignature"]["signature"])
    assert info["message_imprint"]["hashed_message"].native == hashlib.sha256(signature).digest()
    assert info["nonce"].native == request["nonce"].native
    assert request["cert_req"].native is True


@pytest.mark.loopback
def test_tsa_unreachable_is_reported(softhsm: Any) -> None:
    import socket

    softhsm.keygen("k", "ec-p256")
    with socket.socket() as s:  # a loopback port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    artifact = _artifact(softhsm)
    _fails(softhsm.run("sign", "--key", softhsm.uri(object="k"), "--tsa-url", f"http://127.0.0.1:{port}/tsa", str(artifact)), 6, "tsa.request_failed")
    assert not Path(f"{artifact}.sigstore.json").exists()


@pytest.mark.subprocess  # the import set of a fresh interpreter
def test_sign_path_stays_light(softhsm: Any) -> None:
    """`airseal sign` must not import tuf or an HTTP client (cold start, offline promise)."""
    import subprocess
    import sys

    softhsm.keygen("k", "ec-p256")
    artifact = _artifact(softhsm)
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['airseal', 'sign', '--key', {softhsm.uri(object='k')!r}, {str(artifact)!r}]\n"
        "try:\n    runpy.run_module('verifier', run_name='__main__')\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tuf', 'securesystemslib', 'requests', 'urllib3')"
        " or m in ('urllib.request', 'http.client'))\n"
        "print('HEAVY', heavy)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=softhsm.env, capture_output=True, text=True, cwd=softhsm.root)
    assert result.returncode == 0, result.stderr
    assert "HEAVY []" in result.stdout, result.stdout
