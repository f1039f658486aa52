"""VirtualSigstore: a private, fully offline Sigstore for tests.

Mints, with `cryptography` only (no network, no mocked crypto):

* a Fulcio-like CA (self-signed root + intermediate) issuing short-lived code-signing leaves with
  the Fulcio issuer extensions and a *real* embedded SCT (precertificate flow) from a CT log key;
* a Rekor-v1-like log (ECDSA P-256): RFC 6962 Merkle tree, `hashedrekord 0.0.1`, `dsse 0.0.1`,
  `intoto 0.0.2` bodies, inclusion proofs, signed-note checkpoints and SETs;
* Rekor-v2-like logs (Ed25519 and ECDSA variants): `hashedrekord 0.0.2` bodies, C2SP signed-note
  checkpoints with optional witness cosignature lines, no integrated time;
* RFC 3161 timestamps through `tests.support.tsa` (a real `openssl ts` authority), when present;
* `trusted_root()`: the protobuf-JSON trusted root for all of the above.

Bundles are plain JSON dicts (`sign_artifact`, `attest`). Faults are injected either while
minting (a `Faults` value: the logs then sign the faulty data, so only the intended check fails)
or afterwards by mutating a `copy.deepcopy` of the dict with the helpers at the bottom.
A second instance (`VirtualSigstore(name="untrusted")`) is the "untrusted" Sigstore.

Default identity/issuer/time are module constants; every time is tz-aware UTC.
"""

from __future__ import annotations

import base64
import copy
import datetime as _dt
import hashlib
import json
import os
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from tests.support._merkle import MerkleTree, leaf_hash, node_hash

UTC = _dt.timezone.utc

DEFAULT_TIME = _dt.datetime(2026, 6, 1, 12, 0, 0, tzinfo=UTC)
"""Signing time used unless `at=` is given (in the past of the verifier clock, after every start)."""
TRUST_START = _dt.datetime(2020, 1, 1, tzinfo=UTC)
DEFAULT_IDENTITY = "https://github.com/airseal-test/repo/.github/workflows/release.yml@refs/heads/main"
DEFAULT_ISSUER = "https://token.actions.githubusercontent.com"
DEFAULT_EMAIL = "signer@example.com"

MEDIA_TYPES = {
    "0.1": "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "0.2": "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "0.3-legacy": "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "0.3": "application/vnd.dev.sigstore.bundle.v0.3+json",
}
TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"

OID_ISSUER_V1 = ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
OID_ISSUER_V2 = ObjectIdentifier("1.3.6.1.4.1.57264.1.8")
OID_OTHERNAME_SAN = ObjectIdentifier("1.3.6.1.4.1.57264.1.7")
OID_SCT_LIST = ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")


# --------------------------------------------------------------------------------------------
# encoding helpers


def b64(data: bytes) -> str:
    """Standard, padded base64 text."""
    return base64.b64encode(data).decode("ascii")


def b64d(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def jcs(obj: Any) -> bytes:
    """RFC 8785 canonical JSON for the value shapes used here (strings, ints, lists, dicts)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def der_tlv(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(content)) + content


def der_utf8(text: str) -> bytes:
    return der_tlv(0x0C, text.encode("utf-8"))


def der_ia5(text: str) -> bytes:
    return der_tlv(0x16, text.encode("ascii"))


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def _ts(when: _dt.datetime) -> int:
    if when.tzinfo is None:
        raise ValueError("naive datetime")
    return int(when.timestamp())


def rfc3339(when: _dt.datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def spki_der(public_key: Any) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_pem(public_key: Any) -> bytes:
    return public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def cert_der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


# --------------------------------------------------------------------------------------------
# keys


_HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
_PROTO_HASH = {"sha256": "SHA2_256", "sha384": "SHA2_384", "sha512": "SHA2_512"}

KEY_KINDS = ("ecdsa-p256", "ecdsa-p384", "ecdsa-p521", "rsa-pkcs1", "rsa-pss", "ed25519", "ecdsa-secp256k1")


@dataclass
class SigningKey:
    """A private key plus the Sigstore registry facts about it (hash, keyDetails)."""

    kind: str
    private: Any

    @classmethod
    def generate(cls, kind: str = "ecdsa-p256") -> SigningKey:
        if kind == "ecdsa-p256":
            priv: Any = ec.generate_private_key(ec.SECP256R1())
        elif kind == "ecdsa-p384":
            priv = ec.generate_private_key(ec.SECP384R1())
        elif kind == "ecdsa-p521":
            priv = ec.generate_private_key(ec.SECP521R1())
        elif kind == "ecdsa-secp256k1":
            priv = ec.generate_private_key(ec.SECP256K1())
        elif kind in ("rsa-pkcs1", "rsa-pss"):
            priv = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif kind == "ed25519":
            priv = ed25519.Ed25519PrivateKey.generate()
        else:
            raise ValueError(f"unknown key kind {kind!r}")
        return cls(kind, priv)

    @property
    def public_key(self) -> Any:
        return self.private.public_key()

    @property
    def spki_der(self) -> bytes:
        return spki_der(self.public_key)

    def public_key_pem(self) -> bytes:
        return public_pem(self.public_key)

    @property
    def hint(self) -> str:
        """`publicKey.hint`: b64(SHA-256(SPKI DER)) (what sigstore clients write)."""
        return b64(hashlib.sha256(self.spki_der).digest())

    @property
    def hash_name(self) -> str:
        """Hash used for messages/hashedrekord: P-384→sha384, P-521→sha512, else sha256."""
        return {"ecdsa-p384": "sha384", "ecdsa-p521": "sha512"}.get(self.kind, "sha256")

    @property
    def key_details(self) -> str:
        return {
            "ecdsa-p256": "PKIX_ECDSA_P256_SHA_256",
            "ecdsa-p384": "PKIX_ECDSA_P384_SHA_384",
            "ecdsa-p521": "PKIX_ECDSA_P521_SHA_512",
            "rsa-pkcs1": "PKIX_RSA_PKCS1V15_2048_SHA256",
            "rsa-pss": "PKIX_RSA_PSS_2048_SHA256",
            "ed25519": "PKIX_ED25519",
            "ecdsa-secp256k1": "PKIX_ECDSA_SECP256K1_SHA_256",  # not a Sigstore type
        }[self.kind]

    def digest(self, data: bytes) -> bytes:
        return hashlib.new(self.hash_name, data).digest()

    def sign(self, data: bytes) -> bytes:
        """Sign a message the way Sigstore clients do (ECDSA with the key's hash, DER)."""
        if self.kind.startswith("ecdsa"):
            return self.private.sign(data, ec.ECDSA(_HASHES[self.hash_name]()))
        if self.kind == "rsa-pkcs1":
            return self.private.sign(data, padding.PKCS1v15(), hashes.SHA256())
        if self.kind == "rsa-pss":
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
            return self.private.sign(data, pss, hashes.SHA256())
        return self.private.sign(data)  # Ed25519 pure

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a precomputed digest (ECDSA/RSA); Ed25519 signs the given bytes as a message."""
        if self.kind.startswith("ecdsa"):
            return self.private.sign(digest, ec.ECDSA(Prehashed(_HASHES[self.hash_name]())))
        if self.kind == "rsa-pkcs1":
            return self.private.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
        if self.kind == "rsa-pss":
            pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
            return self.private.sign(digest, pss, Prehashed(hashes.SHA256()))
        return self.private.sign(digest)


def _ecdsa_sha256(priv: Any, data: bytes) -> bytes:
    return priv.sign(data, ec.ECDSA(hashes.SHA256()))


# --------------------------------------------------------------------------------------------
# CT log + SCT


@dataclass
class CTLog:
    """A CT log key that issues RFC 6962 v1 SCTs over precertificate TBS bytes."""

    base_url: str
    private: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    @property
    def spki_der(self) -> bytes:
        return spki_der(self.private.public_key())

    @property
    def log_id(self) -> bytes:
        return hashlib.sha256(self.spki_der).digest()

    @staticmethod
    def signed_input(tbs: bytes, issuer_key_hash: bytes, timestamp_ms: int, extensions: bytes = b"") -> bytes:
        """The RFC 6962 digitally-signed struct for a precert entry (spec Step 5 byte layout)."""
        return (
            b"\x00\x00"
            + struct.pack(">Q", timestamp_ms)
            + b"\x00\x01"
            + issuer_key_hash
            + len(tbs).to_bytes(3, "big")
            + tbs
            + struct.pack(">H", len(extensions))
            + extensions
        )

    def sct(
        self,
        tbs: bytes,
        issuer_key_hash: bytes,
        timestamp_ms: int,
        extensions: bytes = b"",
        *,
        bad_signature: bool = False,
    ) -> bytes:
        """One serialized SCT (v1)."""
        signed = self.signed_input(tbs, issuer_key_hash, timestamp_ms, extensions)
        if bad_signature:
            signed = signed + b"tampered"
        sig = _ecdsa_sha256(self.private, signed)
        return (
            b"\x00"
            + self.log_id
            + struct.pack(">Q", timestamp_ms)
            + struct.pack(">H", len(extensions))
            + extensions
            + b"\x04\x03"
            + struct.pack(">H", len(sig))
            + sig
        )


def sct_list_extension_value(scts: Sequence[bytes]) -> bytes:
    """DER OCTET STRING wrapping the TLS-encoded SignedCertificateTimestampList."""
    body = b"".join(struct.pack(">H", len(s)) + s for s in scts)
    return der_tlv(0x04, struct.pack(">H", len(body)) + body)


def parse_sct_list(ext_value: bytes) -> list[bytes]:
    """Inverse of `sct_list_extension_value` (for self-checks)."""
    assert ext_value[0] == 0x04
    # skip DER header
    if ext_value[1] & 0x80:
        n = ext_value[1] & 0x7F
        off = 2 + n
    else:
        off = 2
    data = ext_value[off:]
    total = struct.unpack(">H", data[:2])[0]
    data = data[2 : 2 + total]
    out = []
    while data:
        n = struct.unpack(">H", data[:2])[0]
        out.append(data[2 : 2 + n])
        data = data[2 + n :]
    return out


# --------------------------------------------------------------------------------------------
# Fulcio-like CA


@dataclass
class LeafOptions:
    """How to shape a Fulcio leaf (defaults = a well-formed Fulcio certificate)."""

    san: str = "uri"
    """"uri", "email", "othername" (username identity), or "none"."""
    extra_sans: list[x509.GeneralName] = field(default_factory=list)
    """More SAN entries after the identity (e.g. a second URI or an email)."""
    key_usage: bool = True
    key_usage_digital_signature: bool = True
    eku: Optional[list[ObjectIdentifier]] = field(default_factory=lambda: [ExtendedKeyUsageOID.CODE_SIGNING])
    issuer_v1: Optional[bytes] = None
    """Raw value of .1.1; None = the issuer's UTF-8 bytes; b"" = omit the extension."""
    issuer_v8: Optional[bytes] = None
    """Raw DER value of .1.8; None = UTF8String(issuer); b"" = omit the extension."""
    sct: str = "valid"
    """"valid", "none" (no SCT extension), "bad_signature", "unknown_log" (from a foreign CT key),
    or several joined with "+" for a multi-SCT list (e.g. "bad_signature+valid")."""
    sct_extensions: bytes = b""
    not_before: Optional[_dt.datetime] = None
    not_after: Optional[_dt.datetime] = None
    is_ca: bool = False
    extra_extensions: list[tuple[x509.ExtensionType, bool]] = field(default_factory=list)


@dataclass
class FulcioCA:
    """Root (self-signed, CA) + intermediate, issuing code-signing leaves."""

    name: str
    root_key: Any = None
    root: x509.Certificate = None  # type: ignore[assignment]
    intermediate_key: Any = None
    intermediate: x509.Certificate = None  # type: ignore[assignment]

    @classmethod
    def create(
        cls,
        name: str,
        *,
        root: Optional[tuple[Any, x509.Certificate]] = None,
        not_before: _dt.datetime = TRUST_START,
        not_after: _dt.datetime = _dt.datetime(2040, 1, 1, tzinfo=UTC),
    ) -> FulcioCA:
        """New CA; pass `root=(key, cert)` to hang a new intermediate under an existing root."""
        if root is None:
            root_key = ec.generate_private_key(ec.SECP384R1())
            root_name = x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{name}.dev"),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"{name}-root"),
                ]
            )
            root_cert = (
                x509.CertificateBuilder()
                .subject_name(root_name)
                .issuer_name(root_name)
                .public_key(root_key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(TRUST_START)
                .not_valid_after(_dt.datetime(2045, 1, 1, tzinfo=UTC))
                .add_extension(x509.BasicConstraints(ca=True, path_length=1), critical=True)
                .add_extension(_ku(cert_sign=True), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
                .sign(root_key, hashes.SHA384())
            )
        else:
            root_key, root_cert = root
        inter_key = ec.generate_private_key(ec.SECP384R1())
        inter_name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"{name}.dev"),
                x509.NameAttribute(NameOID.COMMON_NAME, f"{name}-intermediate-{os.urandom(2).hex()}"),
            ]
        )
        inter = (
            x509.CertificateBuilder()
            .subject_name(inter_name)
            .issuer_name(root_cert.subject)
            .public_key(inter_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_ku(cert_sign=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(inter_key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
            )
            .sign(root_key, hashes.SHA384())
        )
        return cls(name, root_key, root_cert, inter_key, inter)

    def rogue_intermediate(self) -> FulcioCA:
        """A new intermediate signed by this (trusted) root but not listed in the trusted root."""
        return FulcioCA.create(self.name + "-rogue", root=(self.root_key, self.root))

    @property
    def chain(self) -> list[x509.Certificate]:
        """Intermediate first, root last (trusted-root `certChain` order)."""
        return [self.intermediate, self.root]

    def issue_leaf(
        self,
        public_key: Any,
        *,
        identity: str,
        issuer: str,
        at: _dt.datetime,
        ctlog: CTLog,
        foreign_ctlog: Optional[CTLog] = None,
        options: Optional[LeafOptions] = None,
    ) -> x509.Certificate:
        """A Fulcio-style leaf valid [at-2min, at+8min] with an embedded SCT."""
        o = options or LeafOptions()
        nb = o.not_before or (at - _dt.timedelta(minutes=2))
        na = o.not_after or (nb + _dt.timedelta(minutes=10))
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.intermediate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(nb)
            .not_valid_after(na)
        )
        if o.key_usage:
            b = b.add_extension(
                x509.KeyUsage(
                    digital_signature=o.key_usage_digital_signature,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=not o.key_usage_digital_signature,
                    key_cert_sign=o.is_ca,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        if o.eku is not None:
            b = b.add_extension(x509.ExtendedKeyUsage(o.eku), critical=False)
        if o.is_ca:
            b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        b = b.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(self.intermediate_key.public_key()), critical=False
        )
        first: list[x509.GeneralName] = []
        if o.san == "uri":
            first = [x509.UniformResourceIdentifier(identity)]
        elif o.san == "email":
            first = [x509.RFC822Name(identity)]
        elif o.san == "othername":
            first = [x509.OtherName(OID_OTHERNAME_SAN, der_utf8(identity))]
        if first or o.extra_sans:
            b = b.add_extension(x509.SubjectAlternativeName(first + list(o.extra_sans)), critical=True)
        v1 = issuer.encode("utf-8") if o.issuer_v1 is None else o.issuer_v1
        if v1:
            b = b.add_extension(x509.UnrecognizedExtension(OID_ISSUER_V1, v1), critical=False)
        v8 = der_utf8(issuer) if o.issuer_v8 is None else o.issuer_v8
        if v8:
            b = b.add_extension(x509.UnrecognizedExtension(OID_ISSUER_V2, v8), critical=False)
        for ext, crit in o.extra_extensions:
            b = b.add_extension(ext, critical=crit)
        if o.sct == "none":
            return b.sign(self.intermediate_key, hashes.SHA384())
        precert = b.sign(self.intermediate_key, hashes.SHA384())
        tbs = precert.tbs_certificate_bytes
        ikh = hashlib.sha256(spki_der(self.intermediate_key.public_key())).digest()
        ts_ms = int(nb.timestamp() * 1000) + 250
        scts = []
        for kind in o.sct.split("+"):
            log = foreign_ctlog if (kind == "unknown_log" and foreign_ctlog is not None) else ctlog
            scts.append(log.sct(tbs, ikh, ts_ms, o.sct_extensions, bad_signature=(kind == "bad_signature")))
        b = b.add_extension(x509.UnrecognizedExtension(OID_SCT_LIST, sct_list_extension_value(scts)), critical=False)
        leaf = b.sign(self.intermediate_key, hashes.SHA384())
        if leaf.tbs_precertificate_bytes != tbs:  # pragma: no cover - fixture invariant
            raise AssertionError("precert TBS mismatch: extension order not preserved")
        return leaf


def _ku(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


# --------------------------------------------------------------------------------------------
# transparency logs


@dataclass
class CheckpointOptions:
    """Fault knobs for a checkpoint (signed note)."""

    text_mutator: Optional[Callable[[str], str]] = None
    """Rewrites the note text before it is signed (signature stays valid over the new text)."""
    extension_lines: list[str] = field(default_factory=list)
    """Extra body lines after the root hash (e.g. `Timestamp: …`)."""
    signing_key: Any = None
    """Sign with this private key instead of the log's (keeps the log's hint)."""
    hint: Optional[bytes] = None
    name: Optional[str] = None
    omit_log_signature: bool = False
    witnesses: int = 0
    """Number of random witness cosignature lines to add after the log's line."""
    witnesses_first: bool = False
    duplicate_log_signature: bool = False
    """Two valid lines from the log's key (both must verify)."""


def _note_line(name: str, hint: bytes, sig: bytes) -> str:
    return f"\u2014 {name} {b64(hint + sig)}\n"


def _witness_lines(n: int) -> list[str]:
    return [
        _note_line(f"witness{i}.example.org", os.urandom(4), os.urandom(8) + os.urandom(64)) for i in range(n)
    ]


class _LogBase:
    base_url: str
    private: Any
    tree: MerkleTree

    @property
    def host(self) -> str:
        return self.base_url.split("://", 1)[-1].rstrip("/")

    @property
    def spki_der(self) -> bytes:
        return spki_der(self.private.public_key())

    def seed(self, n: int) -> None:
        for _ in range(n):
            self.tree.append(os.urandom(40))

    rsa_padding: str = "pkcs1v15"
    """RSA log keys: how notes are signed ("pkcs1v15" or "pss"); set it to inject a scheme fault."""

    def _sign_note(self, text: str, key: Any) -> bytes:
        data = text.encode("utf-8")
        if isinstance(key, ed25519.Ed25519PrivateKey):
            return key.sign(data)
        if isinstance(key, rsa.RSAPrivateKey):
            if self.rsa_padding == "pss":
                pss = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)
                return key.sign(data, pss, hashes.SHA256())
            return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return _ecdsa_sha256(key, data)

    def _note(self, text: str, name: str, hint: bytes, opts: CheckpointOptions) -> str:
        if opts.text_mutator is not None:
            text = opts.text_mutator(text)
        key = opts.signing_key if opts.signing_key is not None else self.private
        sig_lines: list[str] = []
        if not opts.omit_log_signature:
            sig_lines.append(
                _note_line(opts.name or name, opts.hint if opts.hint is not None else hint, self._sign_note(text, key))
            )
            if opts.duplicate_log_signature:
                sig_lines.append(_note_line(opts.name or name, opts.hint or hint, self._sign_note(text, key)))
        witness = _witness_lines(opts.witnesses)
        sig_lines = witness + sig_lines if opts.witnesses_first else sig_lines + witness
        return text + "\n" + "".join(sig_lines)

    def _proof(self, index: int, size: int, checkpoint: str) -> dict[str, Any]:
        return {
            "logIndex": str(index),
            "rootHash": b64(self.tree.root(size)),
            "treeSize": str(size),
            "hashes": [b64(h) for h in self.tree.inclusion_proof(index, size)],
            "checkpoint": {"envelope": checkpoint},
        }


class RekorV1Log(_LogBase):
    """Rekor v1: ECDSA P-256 key, shard-local tree, global index offset, SETs."""

    def __init__(self, base_url: str, *, seed: int = 6, global_offset: int = 10_000) -> None:
        self.base_url = base_url
        self.private = ec.generate_private_key(ec.SECP256R1())
        self.tree = MerkleTree()
        self.tree_id = int.from_bytes(os.urandom(7), "big")
        self.global_offset = global_offset
        self.seed(seed)

    @property
    def log_id(self) -> bytes:
        return hashlib.sha256(self.spki_der).digest()

    @property
    def origin_line(self) -> str:
        return f"{self.host} - {self.tree_id}"

    def checkpoint(self, size: int, opts: Optional[CheckpointOptions] = None) -> str:
        opts = opts or CheckpointOptions()
        text = f"{self.origin_line}\n{size}\n{b64(self.tree.root(size))}\n"
        text += "".join(line + "\n" for line in opts.extension_lines)
        return self._note(text, self.host, self.log_id[:4], opts)

    def set_payload(self, body: bytes, integrated_time: int, global_index: int) -> bytes:
        return jcs(
            {
                "body": b64(body),
                "integratedTime": integrated_time,
                "logID": self.log_id.hex(),
                "logIndex": global_index,
            }
        )

    def log(
        self,
        body: bytes,
        kind: str,
        version: str,
        *,
        integrated_time: int,
        trailing: int = 2,
        checkpoint: Optional[CheckpointOptions] = None,
        set_key: Any = None,
        set_payload_mutator: Optional[Callable[[dict[str, Any]], dict[str, Any]]] = None,
    ) -> dict[str, Any]:
        """Append `body`, then `trailing` random leaves; return the bundle's TransparencyLogEntry."""
        index = self.tree.append(body)
        self.seed(trailing)
        size = len(self.tree)
        global_index = self.global_offset + index
        payload_obj = json.loads(self.set_payload(body, integrated_time, global_index))
        if set_payload_mutator is not None:
            payload_obj = set_payload_mutator(payload_obj)
        set_sig = _ecdsa_sha256(set_key or self.private, jcs(payload_obj))
        return {
            "logIndex": str(global_index),
            "logId": {"keyId": b64(self.log_id)},
            "kindVersion": {"kind": kind, "version": version},
            "integratedTime": str(integrated_time),
            "inclusionPromise": {"signedEntryTimestamp": b64(set_sig)},
            "inclusionProof": self._proof(index, size, self.checkpoint(size, checkpoint)),
            "canonicalizedBody": b64(body),
        }

    def trusted_root_entry(self, start: _dt.datetime = TRUST_START, end: Optional[_dt.datetime] = None) -> dict:
        return _tlog_instance(self.base_url, self.spki_der, "PKIX_ECDSA_P256_SHA_256", self.log_id, start, end)


class RekorV2Log(_LogBase):
    """Rekor v2: C2SP signed-note checkpoints; Ed25519, ECDSA P-256 or RSA-2048 key; no SETs.

    RSA keys ("rsa-pkcs1", "rsa-pss") name their scheme in `key_details`; `rsa_padding`
    decides how notes are actually signed (a fault when the two differ).
    """

    def __init__(self, base_url: str, *, key_type: str = "ed25519", seed: int = 9) -> None:
        self.base_url = base_url
        self.key_type = key_type
        if key_type == "ed25519":
            self.private = ed25519.Ed25519PrivateKey.generate()
        elif key_type == "ecdsa":
            self.private = ec.generate_private_key(ec.SECP256R1())
        elif key_type in ("rsa-pkcs1", "rsa-pss"):
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            self.rsa_padding = "pss" if key_type == "rsa-pss" else "pkcs1v15"
        else:
            raise ValueError(key_type)
        self.tree = MerkleTree()
        self.seed(seed)

    @property
    def origin(self) -> str:
        return self.host

    @property
    def key_details(self) -> str:
        return {
            "ed25519": "PKIX_ED25519",
            "ecdsa": "PKIX_ECDSA_P256_SHA_256",
            "rsa-pkcs1": "PKIX_RSA_PKCS1V15_2048_SHA256",
            "rsa-pss": "PKIX_RSA_PSS_2048_SHA256",
        }[self.key_type]

    @property
    def log_id(self) -> bytes:
        """Signed-note key id (spec §2.3)."""
        if self.key_type == "ed25519":
            raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return hashlib.sha256(self.origin.encode() + b"\n" + b"\x01" + raw).digest()
        if self.key_type.startswith("rsa"):
            return hashlib.sha256(self.origin.encode() + b"\n" + b"\xff" + b"PKIX-RSA-PKCS#1v1.5" + self.spki_der).digest()
        return hashlib.sha256(self.spki_der).digest()

    def checkpoint(self, size: int, opts: Optional[CheckpointOptions] = None) -> str:
        opts = opts or CheckpointOptions()
        text = f"{self.origin}\n{size}\n{b64(self.tree.root(size))}\n"
        text += "".join(line + "\n" for line in opts.extension_lines)
        return self._note(text, self.origin, self.log_id[:4], opts)

    def log(
        self,
        body: bytes,
        *,
        logged_body: Optional[bytes] = None,
        trailing: int = 0,
        checkpoint: Optional[CheckpointOptions] = None,
    ) -> dict[str, Any]:
        """Append `logged_body or body`; `canonicalizedBody` is `body`."""
        index = self.tree.append(logged_body if logged_body is not None else body)
        self.seed(trailing)
        size = len(self.tree)
        return {
            "logIndex": str(index),
            "logId": {"keyId": b64(self.log_id)},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
            "inclusionProof": self._proof(index, size, self.checkpoint(size, checkpoint)),
            "canonicalizedBody": b64(body),
        }

    def trusted_root_entry(self, start: _dt.datetime = TRUST_START, end: Optional[_dt.datetime] = None) -> dict:
        return _tlog_instance(self.base_url, self.spki_der, self.key_details, self.log_id, start, end)


def _validity(start: _dt.datetime, end: Optional[_dt.datetime]) -> dict[str, str]:
    out = {"start": rfc3339(start)}
    if end is not None:
        out["end"] = rfc3339(end)
    return out


def _tlog_instance(
    base_url: str, spki: bytes, key_details: str, log_id: bytes, start: _dt.datetime, end: Optional[_dt.datetime]
) -> dict[str, Any]:
    return {
        "baseUrl": base_url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {"rawBytes": b64(spki), "keyDetails": key_details, "validFor": _validity(start, end)},
        "logId": {"keyId": b64(log_id)},
    }


# --------------------------------------------------------------------------------------------
# bodies (spec §3.4)


def hashedrekord_v001(hash_name: str, digest: bytes, sig: bytes, verifier_pem: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": hash_name, "value": digest.hex()}},
            "signature": {"content": b64(sig), "publicKey": {"content": b64(verifier_pem)}},
        },
    }


def dsse_v001(envelope: dict[str, Any], payload: bytes, sig: bytes, verifier_pem: bytes) -> dict[str, Any]:
    return {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {
            "envelopeHash": {"algorithm": "sha256", "value": hashlib.sha256(jcs(envelope)).hexdigest()},
            "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            "signatures": [{"signature": b64(sig), "verifier": b64(verifier_pem)}],
        },
    }


def intoto_v002(envelope: dict[str, Any], payload: bytes, sig: bytes, verifier_pem: bytes) -> dict[str, Any]:
    """Rekor v1 intoto 0.0.2: payload and sig are b64 of the b64 text (double encoding)."""
    return {
        "apiVersion": "0.0.2",
        "kind": "intoto",
        "spec": {
            "content": {
                "envelope": {
                    "payload": b64(b64(payload).encode()),
                    "payloadType": envelope["payloadType"],
                    "signatures": [{"publicKey": b64(verifier_pem), "sig": b64(b64(sig).encode())}],
                },
                "hash": {"algorithm": "sha256", "value": hashlib.sha256(jcs(envelope)).hexdigest()},
                "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
            }
        },
    }


def hashedrekord_v002(
    proto_hash: str, digest: bytes, sig: bytes, key_details: str, *, cert_der_bytes: Optional[bytes], spki: Optional[bytes]
) -> dict[str, Any]:
    verifier: dict[str, Any] = {"keyDetails": key_details}
    if cert_der_bytes is not None:
        verifier["x509Certificate"] = {"rawBytes": b64(cert_der_bytes)}
    else:
        verifier["publicKey"] = {"rawBytes": b64(spki or b"")}
    return {
        "apiVersion": "0.0.2",
        "kind": "hashedrekord",
        "spec": {
            "hashedRekordV002": {
                "data": {"algorithm": proto_hash, "digest": b64(digest)},
                "signature": {"content": b64(sig), "verifier": verifier},
            }
        },
    }


# --------------------------------------------------------------------------------------------
# faults


@dataclass
class Faults:
    """Minting-time faults. The logs/CAs sign whatever the fault produced."""

    leaf: LeafOptions = field(default_factory=LeafOptions)
    ca: Optional[FulcioCA] = None
    """Issue the leaf from this CA instead of the instance's."""
    signing_key: Optional[SigningKey] = None
    """Sign the content with this key instead of the certified/declared one."""
    sign_over: Optional[bytes] = None
    """Message signature over these bytes instead of the artifact (DSSE: over this PAE input)."""
    body_mutator: Optional[Callable[[dict[str, Any]], dict[str, Any]]] = None
    """Rewrite the log body before logging (v1: logged and SET-signed; v2: only the logged leaf)."""
    body_override: Optional[bytes] = None
    """Log these exact bytes as the body (kindVersion from `kind_version`)."""
    kind_version: Optional[tuple[str, str]] = None
    v2_canonicalized_body: Optional[bytes] = None
    """v2: put these bytes in canonicalizedBody (logged leaf stays the reconstruction)."""
    v2_mutated_body_is_canonical: bool = False
    """v2 + `body_mutator`: the mutated body is both logged and put in canonicalizedBody, so
    inclusion verifies and only the reconstruction comparison can catch it."""
    integrated_time: Optional[_dt.datetime] = None
    checkpoint: CheckpointOptions = field(default_factory=CheckpointOptions)
    set_key: Any = None
    set_payload_mutator: Optional[Callable[[dict[str, Any]], dict[str, Any]]] = None
    tsa_over: Optional[bytes] = None
    """Time-stamp these bytes instead of the signature."""
    tsa_at: Optional[_dt.datetime] = None
    tsa_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for `TimestampAuthority.timestamp()` (`embed_cert`, `hash_name`)."""
    tsa_authority: Any = None
    """Time-stamp with this authority instead of the instance's (`make_tsa()`, `tsa.untrusted_twin()`)."""
    chain: str = "leaf"
    """v0.1/0.2 chain contents: "leaf", "leaf+intermediate", "full", "empty"."""
    message_digest: Optional[bool] = True
    """Include `messageSignature.messageDigest`."""
    trailing_leaves: Optional[int] = None
    """Random leaves appended after the entry before the checkpoint (v1 default 2, v2 default 0)."""
    v1_log_kind: Optional[str] = None
    """Log a message signature as "dsse"/"intoto", or DSSE content as "hashedrekord"."""


# --------------------------------------------------------------------------------------------
# the instance


class VirtualSigstore:
    """A private Sigstore: Fulcio CA, CT log, Rekor v1, Rekor v2 (Ed25519 + ECDSA), TSA."""

    def __init__(self, name: str = "virtual", *, with_tsa: bool = True, log_seed: Optional[int] = None) -> None:
        """`log_seed`: random leaves each log starts with (default 6 for v1, 9 for v2; 0 gives
        an empty tree, so the next entry with `Faults(trailing_leaves=0)` is a 1-leaf tree)."""
        self.name = name
        self.ca = FulcioCA.create(name)
        self.ctlog = CTLog(f"https://ctfe.{name}.test/2026")
        self.foreign_ctlog = CTLog(f"https://ctfe.elsewhere-{name}.test")
        v1_seed = 6 if log_seed is None else log_seed
        v2_seed = 9 if log_seed is None else log_seed
        self.rekor_v1 = RekorV1Log(f"https://rekor.{name}.test", seed=v1_seed)
        self.rekor_v2 = RekorV2Log(f"https://log2026-1.rekor.{name}.test", key_type="ed25519", seed=v2_seed)
        self.rekor_v2_ecdsa = RekorV2Log(f"https://log2026-2.rekor.{name}.test", key_type="ecdsa", seed=v2_seed)
        self._tsa: Any = None
        self._with_tsa = with_tsa
        self._keys: dict[str, SigningKey] = {}
        self._extra_logs: dict[str, RekorV2Log] = {}

    # ---- trust material ------------------------------------------------------------------

    @property
    def tsa(self) -> Any:
        """The RFC 3161 authority from `tests.support.tsa` (created lazily; may raise ImportError)."""
        if self._tsa is None:
            from tests.support import tsa as tsa_mod

            self._tsa = _make_tsa(tsa_mod, self.name)
        return self._tsa

    def make_tsa(self, **options: Any) -> Any:
        """Another TSA (e.g. a profile fault: `leaf_eku_critical=False`); not in the trusted root
        unless passed to `trusted_root(extra_tsas=[...])`. Options go to `TimestampAuthority.create`."""
        from tests.support import tsa as tsa_mod

        return _make_tsa(tsa_mod, self.name, **options)

    def tsa_available(self) -> bool:
        try:
            self.tsa  # noqa: B018
        except Exception:
            return False
        return True

    def key(self, kind: str = "ecdsa-p256") -> SigningKey:
        """A cached signing key of this instance (for key-based bundles)."""
        if kind not in self._keys:
            self._keys[kind] = SigningKey.generate(kind)
        return self._keys[kind]

    def public_key_pem(self, kind: str = "ecdsa-p256") -> bytes:
        """PEM SPKI of `self.key(kind)`: what `airseal verify --key` takes for key-based bundles."""
        return self.key(kind).public_key_pem()

    def log_for(self, log: str) -> Any:
        """"v1", "v2" (Ed25519), "v2-ecdsa", or "v2-rsa-pkcs1" / "v2-rsa-pss" (made on first use)."""
        if log in ("v2-rsa-pkcs1", "v2-rsa-pss") and log not in self._extra_logs:
            n = 3 if log == "v2-rsa-pkcs1" else 4
            self._extra_logs[log] = RekorV2Log(f"https://log2026-{n}.rekor.{self.name}.test", key_type=log[3:])
        if log in self._extra_logs:
            return self._extra_logs[log]
        return {"v1": self.rekor_v1, "v2": self.rekor_v2, "v2-ecdsa": self.rekor_v2_ecdsa}[log]

    def trusted_root(
        self,
        *,
        tlogs: Iterable[str] = ("v1", "v2", "v2-ecdsa"),
        ctlogs: bool = True,
        cas: bool = True,
        tsas: Optional[bool] = None,
        tlog_validity: Optional[tuple[_dt.datetime, Optional[_dt.datetime]]] = None,
        ca_validity: Optional[tuple[_dt.datetime, Optional[_dt.datetime]]] = None,
        tsa_entry_options: Optional[dict[str, Any]] = None,
        extra_tsas: Sequence[Any] = (),
    ) -> dict[str, Any]:
        """`application/vnd.dev.sigstore.trustedroot+json;version=0.1` dict for this instance."""
        start, end = tlog_validity or (TRUST_START, None)
        cstart, cend = ca_validity or (TRUST_START, None)
        out: dict[str, Any] = {
            "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
            "tlogs": [self.log_for(t).trusted_root_entry(start, end) for t in tlogs],
            "certificateAuthorities": [],
            "ctlogs": [],
            "timestampAuthorities": [],
        }
        if cas:
            out["certificateAuthorities"].append(
                {
                    "subject": {"organization": f"{self.name}.dev", "commonName": f"{self.name}"},
                    "uri": f"https://fulcio.{self.name}.test",
                    "certChain": {"certificates": [{"rawBytes": b64(cert_der(c))} for c in self.ca.chain]},
                    "validFor": _validity(cstart, cend),
                }
            )
        if ctlogs:
            out["ctlogs"].append(
                _tlog_instance(
                    self.ctlog.base_url, self.ctlog.spki_der, "PKIX_ECDSA_P256_SHA_256", self.ctlog.log_id, TRUST_START, None
                )
            )
        if tsas is None:
            tsas = self._with_tsa and self.tsa_available()
        if tsas:
            out["timestampAuthorities"].append(self.tsa.trusted_root_entry(**(tsa_entry_options or {})))
        for extra in extra_tsas:
            out["timestampAuthorities"].append(extra.trusted_root_entry())
        return out

    # ---- signing ---------------------------------------------------------------------------

    def _certificate(self, public_key: Any, identity: str, issuer: str, at: _dt.datetime, faults: Faults) -> x509.Certificate:
        ca = faults.ca or self.ca
        return ca.issue_leaf(
            public_key,
            identity=identity,
            issuer=issuer,
            at=at,
            ctlog=self.ctlog,
            foreign_ctlog=self.foreign_ctlog,
            options=faults.leaf,
        )

    def _material(
        self,
        *,
        cert: Optional[x509.Certificate],
        key: Optional[SigningKey],
        bundle_version: str,
        faults: Faults,
    ) -> dict[str, Any]:
        if cert is None:
            assert key is not None
            return {"publicKey": {"hint": key.hint}}
        if bundle_version in ("0.1", "0.2"):
            ca = faults.ca or self.ca
            chain = {
                "leaf": [cert],
                "leaf+intermediate": [cert, ca.intermediate],
                "full": [cert, ca.intermediate, ca.root],
                "empty": [],
            }[faults.chain]
            return {"x509CertificateChain": {"certificates": [{"rawBytes": b64(cert_der(c))} for c in chain]}}
        return {"certificate": {"rawBytes": b64(cert_der(cert))}}

    def _timestamps(self, sig: bytes, at: _dt.datetime, faults: Faults) -> dict[str, Any]:
        authority = faults.tsa_authority or self.tsa
        der = authority.timestamp(
            faults.tsa_over if faults.tsa_over is not None else sig, at=faults.tsa_at or at, **faults.tsa_kwargs
        )
        return {"rfc3161Timestamps": [{"signedTimestamp": b64(der)}]}

    def sign_artifact(
        self,
        artifact: bytes,
        *,
        identity: str = DEFAULT_IDENTITY,
        issuer: str = DEFAULT_ISSUER,
        at: _dt.datetime = DEFAULT_TIME,
        log: Optional[str] = "v1",
        tsa: bool = False,
        bundle_version: str = "0.3",
        key_based: bool = False,
        keytype: str = "ecdsa-p256",
        faults: Optional[Faults] = None,
    ) -> dict[str, Any]:
        """A message-signature bundle for `artifact`.

        Args:
            log: "v1" (Rekor v1 hashedrekord 0.0.1), "v2" (Rekor v2 Ed25519 checkpoint), "v2-ecdsa",
                or None (no tlog entry).
            tsa: add one RFC 3161 timestamp over the signature (needs tests/support/tsa.py).
            bundle_version: "0.1", "0.2", "0.3" (new media type) or "0.3-legacy".
            key_based: `publicKey.hint` bundle signed with `self.key(keytype)` (no certificate).
        """
        f = faults or Faults()
        key = self.key(keytype) if key_based else SigningKey.generate("ecdsa-p256")
        cert = None if key_based else self._certificate(key.public_key, identity, issuer, at, f)
        signer = f.signing_key or key
        digest = key.digest(artifact)
        sig = signer.sign(f.sign_over if f.sign_over is not None else artifact)
        vm = self._material(cert=cert, key=key if key_based else None, bundle_version=bundle_version, faults=f)
        content: dict[str, Any] = {"signature": b64(sig)}
        if f.message_digest:
            content = {"messageDigest": {"algorithm": _PROTO_HASH[key.hash_name], "digest": b64(digest)}, **content}
        verifier_pem = cert_pem(cert) if cert is not None else key.public_key_pem()
        entries: list[dict[str, Any]] = []
        if log == "v1":
            if f.v1_log_kind in ("dsse", "intoto"):
                env = {"payload": b64(artifact), "payloadType": "application/octet-stream", "signatures": [{"sig": b64(sig)}]}
                maker = dsse_v001 if f.v1_log_kind == "dsse" else intoto_v002
                body_obj = maker(env, artifact, sig, verifier_pem)
            else:
                body_obj = hashedrekord_v001(key.hash_name, digest, sig, verifier_pem)
            entries.append(self._log_v1(body_obj, at, f))
        elif log is not None and log.startswith("v2"):
            body_obj = hashedrekord_v002(
                _PROTO_HASH[key.hash_name] if key.kind != "ed25519" else "SHA2_512",
                digest if key.kind != "ed25519" else hashlib.sha512(artifact).digest(),
                sig,
                key.key_details if key.kind != "ed25519" else "PKIX_ED25519_PH",
                cert_der_bytes=cert_der(cert) if cert is not None else None,
                spki=key.spki_der,
            )
            entries.append(self._log_v2(self.log_for(log), body_obj, f))
        elif log is not None:
            raise ValueError(f"unknown log {log!r}")
        vm["tlogEntries"] = entries
        if tsa:
            vm["timestampVerificationData"] = self._timestamps(sig, at, f)
        return {"mediaType": MEDIA_TYPES[bundle_version], "verificationMaterial": vm, "messageSignature": content}

    def statement(
        self,
        artifact: bytes,
        *,
        name: str = "artifact.bin",
        predicate_type: str = "https://slsa.dev/provenance/v1",
        algs: Sequence[str] = ("sha256",),
    ) -> dict[str, Any]:
        """An in-toto v1 Statement with one subject for `artifact`."""
        return {
            "_type": STATEMENT_V1,
            "subject": [{"name": name, "digest": {a: hashlib.new(a, artifact).hexdigest() for a in algs}}],
            "predicateType": predicate_type,
            "predicate": {"builder": {"id": f"https://builder.{self.name}.test"}},
        }

    def attest(
        self,
        artifact: bytes,
        *,
        identity: str = DEFAULT_IDENTITY,
        issuer: str = DEFAULT_ISSUER,
        at: _dt.datetime = DEFAULT_TIME,
        log: Optional[str] = "v1",
        kind: str = "dsse",
        tsa: bool = False,
        bundle_version: str = "0.3",
        key_based: bool = False,
        keytype: str = "ecdsa-p256",
        statement: Optional[dict[str, Any] | bytes] = None,
        payload_type: str = INTOTO_PAYLOAD_TYPE,
        keyid: Optional[str] = None,
        faults: Optional[Faults] = None,
    ) -> dict[str, Any]:
        """A DSSE bundle carrying an in-toto statement about `artifact`.

        Args:
            kind: Rekor v1 entry kind, "dsse" (0.0.1) or "intoto" (0.0.2). Ignored for v2 logs.
            statement: replaces the default statement (dict → compact JSON, bytes → as is).
        """
        f = faults or Faults()
        key = self.key(keytype) if key_based else SigningKey.generate("ecdsa-p256")
        cert = None if key_based else self._certificate(key.public_key, identity, issuer, at, f)
        if statement is None:
            statement = self.statement(artifact)
        payload = statement if isinstance(statement, bytes) else json.dumps(statement, separators=(",", ":")).encode()
        signer = f.signing_key or key
        to_sign = f.sign_over if f.sign_over is not None else pae(payload_type, payload)
        sig = signer.sign(to_sign)
        sig_obj: dict[str, Any] = {"sig": b64(sig)}
        if keyid is not None:
            sig_obj["keyid"] = keyid
        envelope = {"payload": b64(payload), "payloadType": payload_type, "signatures": [sig_obj]}
        vm = self._material(cert=cert, key=key if key_based else None, bundle_version=bundle_version, faults=f)
        verifier_pem = cert_pem(cert) if cert is not None else key.public_key_pem()
        entries: list[dict[str, Any]] = []
        if log == "v1":
            lk = f.v1_log_kind or kind
            if lk == "hashedrekord":
                body_obj = hashedrekord_v001(key.hash_name, key.digest(pae(payload_type, payload)), sig, verifier_pem)
            elif lk == "intoto":
                body_obj = intoto_v002(envelope, payload, sig, verifier_pem)
            else:
                body_obj = dsse_v001(envelope, payload, sig, verifier_pem)
            entries.append(self._log_v1(body_obj, at, f))
        elif log is not None and log.startswith("v2"):
            body_obj = hashedrekord_v002(
                _PROTO_HASH[key.hash_name],
                key.digest(pae(payload_type, payload)),
                sig,
                key.key_details,
                cert_der_bytes=cert_der(cert) if cert is not None else None,
                spki=key.spki_der,
            )
            entries.append(self._log_v2(self.log_for(log), body_obj, f))
        elif log is not None:
            raise ValueError(f"unknown log {log!r}")
        vm["tlogEntries"] = entries
        if tsa:
            vm["timestampVerificationData"] = self._timestamps(sig, at, f)
        return {"mediaType": MEDIA_TYPES[bundle_version], "verificationMaterial": vm, "dsseEnvelope": envelope}

    def _log_v1(self, body_obj: dict[str, Any], at: _dt.datetime, f: Faults) -> dict[str, Any]:
        if f.body_mutator is not None:
            body_obj = f.body_mutator(copy.deepcopy(body_obj))
        body = f.body_override if f.body_override is not None else jcs(body_obj)
        kind, version = f.kind_version or (body_obj["kind"], body_obj["apiVersion"])
        return self.rekor_v1.log(
            body,
            kind,
            version,
            integrated_time=_ts(f.integrated_time or at),
            trailing=2 if f.trailing_leaves is None else f.trailing_leaves,
            checkpoint=f.checkpoint,
            set_key=f.set_key,
            set_payload_mutator=f.set_payload_mutator,
        )

    def _log_v2(self, log: RekorV2Log, body_obj: dict[str, Any], f: Faults) -> dict[str, Any]:
        body = jcs(body_obj)
        logged = body
        if f.body_mutator is not None:
            logged = jcs(f.body_mutator(copy.deepcopy(body_obj)))
        if f.body_override is not None:
            body = logged = f.body_override
        canon = f.v2_canonicalized_body if f.v2_canonicalized_body is not None else body
        if f.v2_mutated_body_is_canonical:
            canon = logged
        entry = log.log(canon, logged_body=logged, checkpoint=f.checkpoint, trailing=f.trailing_leaves or 0)
        if f.kind_version is not None:
            entry["kindVersion"] = {"kind": f.kind_version[0], "version": f.kind_version[1]}
        return entry


def _make_tsa(tsa_mod: Any, name: str, **options: Any) -> Any:
    """A `tests.support.tsa.TimestampAuthority` named after this instance."""
    opts: dict[str, Any] = {
        "organization": f"{name}.dev",
        "common_name": f"{name} TSA",
        "uri": f"https://tsa.{name}.test/api/v1/timestamp",
    }
    opts.update(options)
    return tsa_mod.TimestampAuthority.create(**opts)


# --------------------------------------------------------------------------------------------
# post-hoc mutation helpers (operate on a deep copy; return the copy)


def mutated(bundle: dict[str, Any], fn: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    """`fn` mutates a deep copy of `bundle` in place; the copy is returned."""
    out = copy.deepcopy(bundle)
    fn(out)
    return out


def tlog_entry(bundle: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return bundle["verificationMaterial"]["tlogEntries"][i]


def signature_b64(bundle: dict[str, Any]) -> str:
    if "messageSignature" in bundle:
        return bundle["messageSignature"]["signature"]
    return bundle["dsseEnvelope"]["signatures"][0]["sig"]


def flip_b64(text: str, byte_index: int = -1) -> str:
    """Flip one bit of the decoded bytes and re-encode."""
    raw = bytearray(b64d(text))
    raw[byte_index] ^= 0x01
    return b64(bytes(raw))


def body_of(entry: dict[str, Any]) -> dict[str, Any]:
    return json.loads(b64d(entry["canonicalizedBody"]))


def leaf_certificate(bundle: dict[str, Any]) -> x509.Certificate:
    vm = bundle["verificationMaterial"]
    if "certificate" in vm:
        der = b64d(vm["certificate"]["rawBytes"])
    else:
        der = b64d(vm["x509CertificateChain"]["certificates"][0]["rawBytes"])
    return x509.load_der_x509_certificate(der)


def replace_note_signature_lines(envelope: str, lines: Sequence[str]) -> str:
    """Keep the note text, replace the signature block."""
    text, _, _ = envelope.rpartition("\n\n")
    return text + "\n\n" + "".join(lines)


# --------------------------------------------------------------------------------------------
# ecosystem evidence formats (wrappers around bundles)


def github_jsonl(bundles: Sequence[dict[str, Any]], *, blank_lines: bool = False) -> bytes:
    """`gh attestation download` output: one compact bundle per line, trailing newline."""
    sep = "\n\n" if blank_lines else "\n"
    return (sep.join(json.dumps(b, separators=(",", ":")) for b in bundles) + "\n").encode()


def pep740_attestation(bundle: dict[str, Any]) -> dict[str, Any]:
    """A PEP 740 attestation object from a v0.3 certificate DSSE bundle (as pypi-attestations'
    `Attestation.from_bundle` makes it)."""
    vm = bundle["verificationMaterial"]
    env = bundle["dsseEnvelope"]
    return {
        "version": 1,
        "verification_material": {"certificate": vm["certificate"]["rawBytes"], "transparency_entries": vm["tlogEntries"]},
        "envelope": {"statement": env["payload"], "signature": env["signatures"][0]["sig"]},
    }


GITHUB_PUBLISHER = {"kind": "GitHub", "repository": "airseal-test/repo", "workflow": "release.yml", "environment": None}


def pep740_provenance(attestations: Sequence[dict[str, Any]], publisher: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """A PEP 740 provenance object (PyPI's integrity API answer) holding `attestations`."""
    return {"version": 1, "attestation_bundles": [{"publisher": publisher or GITHUB_PUBLISHER, "attestations": list(attestations)}]}


NPM_PUBLISH_PREDICATE = "https://github.com/npm/attestation/tree/main/specs/publish/v0.1"
SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1"


def npm_attestations(items: Sequence[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """npm's attestations response: (predicateType, bundle) pairs."""
    return {"attestations": [{"predicateType": t, "bundle": b} for t, b in items]}


def cosign_bundle(bundle: dict[str, Any]) -> dict[str, Any]:
    """cosign's older `--bundle` file from a message-signature bundle with one Rekor v1 entry."""
    vm = bundle["verificationMaterial"]
    entry = vm["tlogEntries"][0]
    out: dict[str, Any] = {"base64Signature": bundle["messageSignature"]["signature"]}
    der = None
    if "certificate" in vm:
        der = b64d(vm["certificate"]["rawBytes"])
    elif "x509CertificateChain" in vm:
        der = b64d(vm["x509CertificateChain"]["certificates"][0]["rawBytes"])
    if der is not None:
        out["cert"] = b64(cert_pem(x509.load_der_x509_certificate(der)))
    out["rekorBundle"] = {
        "SignedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
        "Payload": {
            "body": entry["canonicalizedBody"],
            "integratedTime": int(entry["integratedTime"]),
            "logIndex": int(entry["logIndex"]),
            "logID": b64d(entry["logId"]["keyId"]).hex(),
        },
    }
    return out


__all__ = [
    "GITHUB_PUBLISHER",
    "NPM_PUBLISH_PREDICATE",
    "SLSA_PROVENANCE_V1",
    "cosign_bundle",
    "github_jsonl",
    "npm_attestations",
    "pep740_attestation",
    "pep740_provenance",
    "CTLog",
    "CheckpointOptions",
    "DEFAULT_EMAIL",
    "DEFAULT_IDENTITY",
    "DEFAULT_ISSUER",
    "DEFAULT_TIME",
    "Faults",
    "FulcioCA",
    "KEY_KINDS",
    "LeafOptions",
    "MEDIA_TYPES",
    "MerkleTree",
    "RekorV1Log",
    "RekorV2Log",
    "SigningKey",
    "TRUSTED_ROOT_MEDIA_TYPE",
    "VirtualSigstore",
    "b64",
    "b64d",
    "body_of",
    "der_ia5",
    "der_utf8",
    "flip_b64",
    "jcs",
    "leaf_certificate",
    "leaf_hash",
    "mutated",
    "node_hash",
    "pae",
    "parse_sct_list",
    "replace",
    "replace_note_signature_lines",
    "signature_b64",
    "tlog_entry",
]
