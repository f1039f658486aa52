"""hsm package in-process against real SoftHSM2: selection, PINs, keys, signer, failures.

Each test gets its own token store; `softhsm` resets python-pkcs11's initialized module
between tests (see softhsm_support for why that is enough).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils

from hsm.keys import key_hint, public_key_for_uri, spki_der
from hsm.token import PKCS11_LOCK, close_all, list_tokens, open_token, read_pin
from hsm.uri import Pkcs11Uri, parse_uri
from verifier.errors import HsmError, InputError, Reason

pytestmark = pytest.mark.softhsm


def _keygen(softhsm: Any, label: str, key_type: str, key_id: str | None = None) -> Any:
    from hsm.keygen import generate_key

    extra = f";id={key_id}" if key_id else ""
    uri = parse_uri(softhsm.uri(object=label) + extra)
    return generate_key(open_token(uri, rw=True), uri, key_type)


def _signer(softhsm: Any, uri_text: str, **kw: Any) -> Any:
    from hsm.signer import open_signer

    return open_signer(parse_uri(uri_text), **kw)


def _raises(reason: Reason, fn: Any, *args: Any, **kw: Any) -> HsmError:
    with pytest.raises(HsmError) as info:
        fn(*args, **kw)
    assert info.value.reason is reason, info.value
    assert info.value.exit_code == 5
    return info.value


# ----------------------------------------------------------------- module and token


def test_no_module_configured(softhsm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRSEAL_PKCS11_MODULE")
    err = _raises(Reason.HSM_LIBRARY_NOT_FOUND, open_token, parse_uri(softhsm.uri()))
    assert "AIRSEAL_PKCS11_MODULE" in err.detail and "module-path" in err.detail


def test_module_path_missing(softhsm: Any, tmp_path: Path) -> None:
    uri = parse_uri(softhsm.uri(query=f"module-path={tmp_path}/nope.so"))
    _raises(Reason.HSM_LIBRARY_NOT_FOUND, open_token, uri)


def test_module_not_a_library(softhsm: Any, tmp_path: Path) -> None:
    fake = tmp_path / "fake.so"
    fake.write_bytes(b"not an ELF file")
    err = _raises(Reason.HSM_LIBRARY_NOT_FOUND, open_token, parse_uri(softhsm.uri(query=f"module-path={fake}")))
    assert "cannot load" in err.detail


def test_module_path_in_uri_wins_over_env(softhsm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRSEAL_PKCS11_MODULE", "/nonexistent/module.so")
    opened = open_token(parse_uri(softhsm.uri(query=f"module-path={softhsm.module}")), login=False)
    assert opened.label == softhsm.label


def test_module_name_lookup(softhsm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRSEAL_PKCS11_MODULE")
    if not Path("/usr/lib/softhsm/libsofthsm2.so").is_file():
        pytest.skip("module-name lookup test expects /usr/lib/softhsm/libsofthsm2.so")
    opened = open_token(parse_uri(softhsm.uri(query="module-name=softhsm2")), login=False)
    assert opened.label == softhsm.label


def test_list_tokens_shows_initialized_token(softhsm: Any) -> None:
    tokens = list_tokens(softhsm.module)
    mine = [t for t in tokens if t.initialized]
    assert [t.label for t in mine] == [softhsm.label]
    assert mine[0].uri.token == softhsm.label and mine[0].uri.serial


def test_no_such_token(softhsm: Any) -> None:
    err = _raises(Reason.HSM_TOKEN_NOT_FOUND, open_token, parse_uri("pkcs11:token=nope"))
    assert "airseal hsm tokens" in err.detail
    assert softhsm.label in str(err.context["available"])


def test_token_by_serial_and_slot_id(softhsm: Any) -> None:
    info = next(t for t in list_tokens(softhsm.module) if t.initialized)
    by_serial = open_token(parse_uri(f"pkcs11:serial={info.serial}"), login=False)
    assert by_serial.label == softhsm.label
    close_all()
    by_slot = open_token(parse_uri(f"pkcs11:slot-id={info.slot_id}"), login=False)
    assert by_slot.label == softhsm.label


def test_two_tokens_need_a_selector(softhsm: Any) -> None:
    softhsm.init_token("second")
    close_all()  # SoftHSM reads its token directory at C_Initialize
    err = _raises(Reason.HSM_TOKEN_NOT_FOUND, open_token, parse_uri("pkcs11:object=x"), login=False)
    assert len(err.context["candidates"]) == 2
    assert open_token(parse_uri("pkcs11:token=second"), login=False).label == "second"


def test_library_attributes_are_checked(softhsm: Any) -> None:
    _raises(Reason.HSM_LIBRARY_NOT_FOUND, open_token, parse_uri(softhsm.uri() + ";library-manufacturer=Acme"), login=False)
    opened = open_token(parse_uri(softhsm.uri() + ";library-manufacturer=SoftHSM"), login=False)
    assert opened.label == softhsm.label


# ----------------------------------------------------------------- PINs


def test_wrong_pin(softhsm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRSEAL_PKCS11_PIN", "wrong-pin-000")
    err = _raises(Reason.HSM_PIN_INCORRECT, open_token, parse_uri(softhsm.uri()))
    assert "wrong-pin-000" not in str(err) and "wrong-pin-000" not in repr(err.context)


def test_pin_missing_without_terminal(softhsm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRSEAL_PKCS11_PIN")
    err = _raises(Reason.HSM_PIN_MISSING, open_token, parse_uri(softhsm.uri()))
    assert "AIRSEAL_PKCS11_PIN" in err.detail and "pin-source" in err.detail


def test_pin_source_file_and_file_uri(softhsm: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AIRSEAL_PKCS11_PIN")
    pin_file = tmp_path / "pin file"
    pin_file.write_text(softhsm.pin + "\n")
    assert read_pin(parse_uri(softhsm.uri(query=f"pin-source={tmp_path}/pin%20file")), "t") == softhsm.pin
    assert read_pin(parse_uri(softhsm.uri(query=f"pin-source=file://{tmp_path}/pin%2520file")), "t") == softhsm.pin
    opened = open_token(parse_uri(softhsm.uri(query=f"pin-source={tmp_path}/pin%20file")))
    assert opened.logged_in


def test_pin_source_unreadable(softhsm: Any, tmp_path: Path) -> None:
    err = _raises(Reason.HSM_PIN_MISSING, open_token, parse_uri(softhsm.uri(query=f"pin-source={tmp_path}/none")))
    assert "pin-source" in err.detail


def test_pin_value_works_but_warns(softhsm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRSEAL_PKCS11_PIN")
    warnings: list[str] = []
    opened = open_token(parse_uri(softhsm.uri(query=f"pin-value={softhsm.pin}")), warn=warnings.append)
    assert opened.logged_in
    assert warnings and "pin-value" in warnings[0] and softhsm.pin not in warnings[0]


def test_one_session_per_process(softhsm: Any) -> None:
    _keygen(softhsm, "k", "ec-p256")
    first = open_token(parse_uri(softhsm.uri()))
    again = open_token(parse_uri(softhsm.uri(object="k")))
    assert first is again and first.session is again.session


# ----------------------------------------------------------------- keys


def test_keygen_attributes(softhsm: Any) -> None:
    from pkcs11.constants import Attribute, ObjectClass

    key = _keygen(softhsm, "gen", "ec-p256")
    assert len(key.id) == 8
    opened = open_token(parse_uri(softhsm.uri()))
    with PKCS11_LOCK:
        priv = opened.session.get_key(object_class=ObjectClass.PRIVATE_KEY, label="gen")
        pub = opened.session.get_key(object_class=ObjectClass.PUBLIC_KEY, label="gen")
        assert priv[Attribute.TOKEN] and pub[Attribute.TOKEN]
        assert priv[Attribute.SENSITIVE] and not priv[Attribute.EXTRACTABLE]
        assert priv[Attribute.NEVER_EXTRACTABLE] and priv[Attribute.ALWAYS_SENSITIVE]
        assert priv[Attribute.SIGN] and not priv[Attribute.DECRYPT]
        assert priv[Attribute.ID] == pub[Attribute.ID] == key.id


def test_keygen_refuses_existing_label_and_id(softhsm: Any) -> None:
    _keygen(softhsm, "dup", "ec-p256", key_id="%01%02")
    _raises(Reason.HSM_KEY_EXISTS, _keygen, softhsm, "dup", "ec-p384")
    _raises(Reason.HSM_KEY_EXISTS, _keygen, softhsm, "other", "ec-p384", key_id="%01%02")


def test_keygen_needs_a_label(softhsm: Any) -> None:
    from hsm.keygen import generate_key

    uri = parse_uri(softhsm.uri())
    _raises(Reason.HSM_URI_INVALID, generate_key, open_token(uri, rw=True), uri, "ec-p256")


def test_no_such_key(softhsm: Any) -> None:
    _keygen(softhsm, "present", "ec-p256")
    err = _raises(Reason.HSM_KEY_NOT_FOUND, _signer, softhsm, softhsm.uri(object="absent"))
    assert "airseal hsm keys" in err.detail


def test_object_and_id_must_both_match(softhsm: Any) -> None:
    _keygen(softhsm, "a", "ec-p256", key_id="%0A")
    _keygen(softhsm, "b", "ec-p256", key_id="%0B")
    _raises(Reason.HSM_KEY_NOT_FOUND, _signer, softhsm, softhsm.uri(object="a") + ";id=%0B")
    assert _signer(softhsm, softhsm.uri(object="a") + ";id=%0A").key_type == "ec-p256"
    assert _signer(softhsm, softhsm.uri() + ";id=%0B").key_type == "ec-p256"


def test_ambiguous_key_lists_candidates(softhsm: Any) -> None:
    _keygen(softhsm, "one", "ec-p256")
    _keygen(softhsm, "two", "ed25519")
    err = _raises(Reason.HSM_KEY_AMBIGUOUS, _signer, softhsm, softhsm.uri())
    candidates = err.context["candidates"]
    assert len(candidates) == 2
    assert {parse_uri(c).object for c in candidates} == {"one", "two"}
    assert all(softhsm.pin not in c for c in candidates)


def test_key_not_allowed_to_sign(softhsm: Any) -> None:
    from pkcs11.constants import Attribute
    from pkcs11.mechanisms import KeyType

    opened = open_token(parse_uri(softhsm.uri()), rw=True)
    with PKCS11_LOCK:
        opened.session.generate_keypair(
            KeyType.RSA, 2048, store=True, label="nosign", id=b"\x09",
            private_template={Attribute.SIGN: False, Attribute.DECRYPT: True},
        )
    err = _raises(Reason.HSM_KEY_UNUSABLE, _signer, softhsm, softhsm.uri(object="nosign"))
    assert "CKA_SIGN" in err.detail


def test_unsupported_curve_is_unusable(softhsm: Any) -> None:
    from pkcs11.constants import Attribute
    from pkcs11.mechanisms import KeyType
    from pkcs11.util.ec import encode_named_curve_parameters

    opened = open_token(parse_uri(softhsm.uri()), rw=True)
    with PKCS11_LOCK:
        params = opened.session.create_domain_parameters(
            KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp521r1")}, local=True
        )
        params.generate_keypair(store=True, label="p521", id=b"\x21")
    err = _raises(Reason.HSM_KEY_UNUSABLE, _signer, softhsm, softhsm.uri(object="p521"))
    assert "P-256" in err.detail


def _rsa_key_restricted_to_pkcs1(softhsm: Any) -> None:
    from pkcs11.constants import Attribute
    from pkcs11.mechanisms import KeyType, Mechanism

    opened = open_token(parse_uri(softhsm.uri()), rw=True)
    with PKCS11_LOCK:
        opened.session.generate_keypair(
            KeyType.RSA, 2048, store=True, label="pkcs1-only", id=b"\x15",
            private_template={Attribute.ALLOWED_MECHANISMS: [Mechanism.RSA_PKCS]},
        )


def test_mechanism_not_allowed_is_refused_early(softhsm: Any) -> None:
    _rsa_key_restricted_to_pkcs1(softhsm)
    err = _raises(Reason.HSM_MECHANISM_UNSUPPORTED, _signer, softhsm, softhsm.uri(object="pkcs1-only"), rsa_pss=True)
    assert "RSA_PKCS_PSS" in err.detail
    assert _signer(softhsm, softhsm.uri(object="pkcs1-only")).key_type == "rsa-2048"


def test_token_mechanism_refusal_maps_to_mechanism_unsupported(softhsm: Any) -> None:
    """The same restriction enforced by SoftHSM itself at C_SignInit (our early check skipped)."""
    from pkcs11.mechanisms import Mechanism

    _rsa_key_restricted_to_pkcs1(softhsm)
    signer = _signer(softhsm, softhsm.uri(object="pkcs1-only"))
    _raises(Reason.HSM_MECHANISM_UNSUPPORTED, signer._c_sign, b"\x00" * 32, Mechanism.RSA_PKCS_PSS,
            (Mechanism.SHA256, __import__("pkcs11").MGF.SHA256, 32))


def test_self_check_catches_mismatched_public_key(softhsm: Any) -> None:
    """A public-key object that does not belong to the private key must never yield a bundle."""
    from pkcs11.constants import Attribute, ObjectClass
    from pkcs11.util.ec import decode_ec_public_key

    _keygen(softhsm, "victim", "ec-p256", key_id="%77")
    stranger = ec.generate_private_key(ec.SECP256R1()).public_key()
    opened = open_token(parse_uri(softhsm.uri()), rw=True)
    with PKCS11_LOCK:
        opened.session.get_key(object_class=ObjectClass.PUBLIC_KEY, label="victim").destroy()
        attrs = decode_ec_public_key(spki_der(stranger))
        attrs.update({Attribute.TOKEN: True, Attribute.LABEL: "victim", Attribute.ID: b"\x77", Attribute.VERIFY: True})
        opened.session.create_object(attrs)
    signer = _signer(softhsm, softhsm.uri(object="victim"))
    _raises(Reason.HSM_SELF_CHECK_FAILED, signer.sign_digest, hashlib.sha256(b"x").digest(), "sha256")


# ----------------------------------------------------------------- signing


@pytest.mark.parametrize("key_type", ["ec-p256", "ec-p384", "rsa-2048", "ed25519"])
def test_signatures_verify_on_host(shared_softhsm: Any, key_type: str) -> None:
    signer = _signer(shared_softhsm, shared_softhsm.key(key_type))  # read-only: shared store
    public = signer.public_key()
    message = b"airseal in-process signing test"
    if key_type == "ed25519":
        public.verify(signer.sign_message(message), message)
        return
    digest = hashlib.new(signer.hash_name, message).digest()
    signature = signer.sign_digest(digest, signer.hash_name)
    algorithm = hashes.SHA384() if key_type == "ec-p384" else hashes.SHA256()
    if isinstance(public, ec.EllipticCurvePublicKey):
        public.verify(signature, message, ec.ECDSA(algorithm))
    else:
        public.verify(signature, message, padding.PKCS1v15(), algorithm)


def test_rsa_pss_parameters(shared_softhsm: Any) -> None:
    signer = _signer(shared_softhsm, shared_softhsm.key("rsa-2048"), rsa_pss=True)
    digest = hashlib.sha256(b"pss").digest()
    signature = signer.sign_digest(digest, "sha256")
    signer.public_key().verify(
        signature, digest, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        utils.Prehashed(hashes.SHA256()),
    )


def test_rsa_pss_needs_rsa(softhsm: Any) -> None:
    _keygen(softhsm, "ec", "ec-p256")
    _raises(Reason.HSM_KEY_UNUSABLE, _signer, softhsm, softhsm.uri(object="ec"), rsa_pss=True)


def test_concurrent_signing_shares_one_session(softhsm: Any) -> None:
    _keygen(softhsm, "mt", "ec-p256")
    signer = _signer(softhsm, softhsm.uri(object="mt"))
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                message = f"{n}-{i}".encode()
                signature = signer.sign_digest(hashlib.sha256(message).digest(), "sha256")
                signer.public_key().verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_public_key_for_uri_needs_no_pin(softhsm: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    key = _keygen(softhsm, "pub", "ed25519")
    close_all()
    monkeypatch.delenv("AIRSEAL_PKCS11_PIN")
    public = public_key_for_uri(softhsm.uri(object="pub"))
    assert isinstance(public, ed25519.Ed25519PublicKey)
    assert key_hint(public) == key_hint(key.public_key)


def test_public_key_for_uri_missing_key(softhsm: Any) -> None:
    _raises(Reason.HSM_KEY_NOT_FOUND, public_key_for_uri, softhsm.uri(object="ghost"))


def test_public_key_for_uri_rejects_bad_uri() -> None:
    _raises(Reason.HSM_URI_INVALID, public_key_for_uri, "pkcs11:bogus=1")


# ----------------------------------------------------------------- import


def _pem(key: Any, fmt: Any, password: bytes | None = None) -> bytes:
    enc = serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc)


IMPORT_CASES = {
    "rsa-pkcs1": (lambda: rsa.generate_private_key(65537, 2048), serialization.PrivateFormat.TraditionalOpenSSL, None),
    "rsa-pkcs8": (lambda: rsa.generate_private_key(65537, 3072), serialization.PrivateFormat.PKCS8, None),
    "ec-sec1": (lambda: ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.TraditionalOpenSSL, None),
    "ec-sec1-encrypted": (lambda: ec.generate_private_key(ec.SECP384R1()), serialization.PrivateFormat.TraditionalOpenSSL, b"pass phrase"),
    "ec-pkcs8-encrypted": (lambda: ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8, b"pass phrase"),
    "ed25519-pkcs8": (lambda: ed25519.Ed25519PrivateKey.generate(), serialization.PrivateFormat.PKCS8, None),
}


@pytest.mark.parametrize("case", list(IMPORT_CASES))
def test_import_pem(softhsm: Any, case: str) -> None:
    from pkcs11.constants import Attribute, ObjectClass

    from hsm.importer import import_key

    make, fmt, password = IMPORT_CASES[case]
    key = make()
    uri = parse_uri(softhsm.uri(object=f"imp-{case}"))
    opened = open_token(uri, rw=True)
    asked: list[int] = []

    def passphrase() -> bytes:
        asked.append(1)
        assert password is not None
        return password

    imported = import_key(opened, uri, _pem(key, fmt, password), passphrase)
    assert bool(asked) == (password is not None)
    assert spki_der(imported.public_key) == spki_der(key.public_key())
    with PKCS11_LOCK:
        priv = opened.session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=f"imp-{case}")
        assert priv[Attribute.SENSITIVE] and not priv[Attribute.EXTRACTABLE]
    signer = _signer(softhsm, softhsm.uri(object=f"imp-{case}"))
    if signer.prehashed:
        digest = hashlib.new(signer.hash_name, b"m").digest()
        signer.sign_digest(digest, signer.hash_name)  # self-checked against the PEM's public key
    else:
        key.public_key().verify(signer.sign_message(b"m"), b"m")


def test_import_wrong_passphrase(softhsm: Any) -> None:
    from hsm.importer import import_key

    pem = _pem(ec.generate_private_key(ec.SECP256R1()), serialization.PrivateFormat.PKCS8, b"right")
    uri = parse_uri(softhsm.uri(object="x"))
    with pytest.raises(InputError) as info:
        import_key(open_token(uri, rw=True), uri, pem, lambda: b"wrong")
    assert info.value.reason is Reason.KEY_MALFORMED


def test_import_garbage(softhsm: Any) -> None:
    from hsm.importer import import_key

    uri = parse_uri(softhsm.uri(object="x"))
    with pytest.raises(InputError):
        import_key(open_token(uri, rw=True), uri, b"-----BEGIN NOTHING-----\n", lambda: b"")


def test_uri_display_drops_pin_for_any_uri() -> None:
    uri = Pkcs11Uri(token="t", pin_value="hunter2")
    assert "hunter2" not in uri.display()


def test_pin_file_not_utf8_does_not_leak(tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_bytes(b"12\xff34")
    with pytest.raises(HsmError) as info:
        read_pin(parse_uri(f"pkcs11:token=t?pin-source={pin_file}"), "t")
    assert info.value.reason is Reason.HSM_PIN_MISSING
    assert "\\xff" not in str(info.value) and "0xff" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
