"""Each extra PKCS#11 backend starts, makes a key, signs, and the signature verifies on the host;
and stopping it leaves no process behind. Skips (with the reason) when a backend's packages are
absent: scripts/tokens.sh installs them.

The key templates differ per backend on purpose; tests/hsm/token_capabilities.json says why:
- tpm2-pkcs11 1.9.0 refuses airseal's own templates (public CKA_VERIFY must equal the TPM key's
  `decrypt` bit), so the test uses what pkcs11-tool sends: private CKA_DECRYPT/CKA_DERIVE true.
- openCryptoki 3.8.1's soft token (Debian 12) has no EC mechanisms, so its test uses RSA-2048.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.hsm.tokens_support import (
    Token,
    needs_opencryptoki,
    needs_tpm2,
    opencryptoki_token,
    tpm2_token,
)

pkcs11 = pytest.importorskip("pkcs11")

# swtpm listens on loopback TCP (the fixture probes for a free port), and starting the
# daemons takes a fraction of a second each.
pytestmark = [pytest.mark.loopback, pytest.mark.slow]

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # noqa: E402
from pkcs11 import Attribute, KeyType, Mechanism  # noqa: E402
from pkcs11.util.ec import encode_ecdsa_signature, encode_named_curve_parameters  # noqa: E402

MESSAGE = b"airseal backend smoke test"


def _digest(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SHA256())
    h.update(data)
    return h.finalize()


def _open(tok: Token) -> Any:
    lib = pkcs11.lib(tok.module)
    token = lib.get_token(token_label=tok.label)
    return token


def _ec_point(raw: bytes) -> bytes:
    from asn1crypto.core import OctetString

    return OctetString.load(raw).native if raw[:1] == b"\x04" and raw[1] == len(raw) - 2 else raw


def _children() -> set[int]:
    me = str(os.getpid())
    out = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[1] == me and fields[0] != "Z":
                out.add(int(proc.name))
    return out


@needs_tpm2
def test_tpm2_keygen_sign_verify(tmp_path: Path) -> None:
    before = _children()
    with tpm2_token(tmp_path) as tok:
        assert tok.env["TPM2_PKCS11_TCTI"] == "tabrmd:bus_type=session"
        token = _open(tok)
        assert token.model.startswith("SW")  # swtpm reports vendor strings "SW  " "TPM"
        with token.open(rw=True, user_pin=tok.pin) as session:
            domain = session.create_domain_parameters(
                KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters("secp256r1")}, local=True)
            pub, priv = domain.generate_keypair(
                store=True, label="smoke", id=b"\x01",
                public_template={Attribute.VERIFY: True, Attribute.ENCRYPT: True, Attribute.PRIVATE: False},
                private_template={Attribute.SIGN: True, Attribute.DECRYPT: True, Attribute.DERIVE: True,
                                  Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False})
            digest = _digest(MESSAGE)
            sig = priv.sign(digest, mechanism=Mechanism.ECDSA)
            host = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), _ec_point(pub[Attribute.EC_POINT]))
            host.verify(encode_ecdsa_signature(sig), MESSAGE, ec.ECDSA(hashes.SHA256()))
    assert _children() <= before, "swtpm / dbus-daemon / tpm2-abrmd left running"


@needs_tpm2
def test_tpm2_without_resource_manager_runs_out_of_object_contexts(tmp_path: Path) -> None:
    """Why the fixture runs tpm2-abrmd: talking to swtpm directly, the second key fails."""
    with tpm2_token(tmp_path, resource_manager=False) as tok:
        token = _open(tok)
        with token.open(rw=True, user_pin=tok.pin) as session:
            params = encode_named_curve_parameters("secp256r1")
            made = 0
            with pytest.raises(pkcs11.exceptions.PKCS11Error):
                for i in range(8):
                    domain = session.create_domain_parameters(KeyType.EC, {Attribute.EC_PARAMS: params}, local=True)
                    domain.generate_keypair(
                        store=True, label=f"k{i}",
                        public_template={Attribute.VERIFY: True, Attribute.ENCRYPT: True},
                        private_template={Attribute.SIGN: True, Attribute.DECRYPT: True, Attribute.DERIVE: True})
                    made += 1
            assert made < 8


@needs_opencryptoki
def test_opencryptoki_keygen_sign_verify(tmp_path: Path) -> None:
    before = _children()
    with opencryptoki_token(tmp_path) as tok:
        token = _open(tok)
        assert token.model.startswith("IBM SoftTok")
        with token.open(rw=True, user_pin=tok.pin) as session:
            from hsm.keygen import private_template, public_template

            pub, priv = session.generate_keypair(
                KeyType.RSA, 2048, store=True, label="smoke", id=b"\x01",
                public_template={**public_template("smoke", b"\x01"), Attribute.PUBLIC_EXPONENT: b"\x01\x00\x01"},
                private_template=private_template("smoke", b"\x01"))
            from asn1crypto.algos import DigestInfo

            info = DigestInfo({"digest_algorithm": {"algorithm": "sha256"}, "digest": _digest(MESSAGE)}).dump()
            sig = priv.sign(info, mechanism=Mechanism.RSA_PKCS)
            host = rsa.RSAPublicNumbers(int.from_bytes(pub[Attribute.PUBLIC_EXPONENT], "big"),
                                        int.from_bytes(pub[Attribute.MODULUS], "big")).public_key()
            host.verify(sig, MESSAGE, padding.PKCS1v15(), hashes.SHA256())
    assert _children() <= before, "pkcsslotd left running"
