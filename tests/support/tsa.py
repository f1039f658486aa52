"""A real RFC 3161 timestamp authority for tests, backed by the `openssl` command.

`TimestampAuthority.create(workdir, ...)` mints (with `cryptography`) a root CA, optionally an
intermediate, and a TSA signing certificate, writes an `openssl ts` configuration, and then:

- `timestamp(data, at=..., embed_cert=..., hash_name=...)` returns TimeStampResp DER made by
  `openssl ts -query` + `openssl ts -reply`, run under `faketime` when a genTime is chosen;
- `reply(query_der, at=...)` answers an existing TimeStampReq (used by `serve_tsa`);
- `trusted_root_entry(...)` gives the `timestampAuthorities` element of a trusted_root.json;
- `certificate_authority(...)` gives the same entry as a `verifier._internal.trustroot.model`
  `CertificateAuthority` (handy before/without the JSON loader).

`openssl ts -reply` refuses signers whose EKU is not exactly a critical timeStamping, so
authorities built with such profile faults (`leaf_eku_critical=False`, `leaf_extra_eku=True`,
`leaf_without_eku=True`), or with an Ed25519 / RSA-PSS key, sign through the "cms" engine
instead: the TSTInfo is built with asn1crypto and signed by `openssl cms -sign`
(eContentType id-ct-TSTInfo, signed attributes, CAdES signingCertificateV2), then wrapped in
a granted TimeStampResp. Either engine can be forced with `engine=`.

`serve_tsa(authority)` runs a loopback HTTP TSA (POST application/timestamp-query) for
`airseal sign --tsa-url` tests. Test-only: nothing here is imported by the package.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime as _dt
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.loopback import QuietHandler, serve

__all__ = [
    "TimestampAuthority",
    "TsaServer",
    "rfc3339",
    "serve_tsa",
]

UTC = _dt.timezone.utc
_DEFAULT_NOT_BEFORE = _dt.datetime(2020, 1, 1, tzinfo=UTC)
_DEFAULT_NOT_AFTER = _dt.datetime(2040, 1, 1, tzinfo=UTC)
_TST_INFO_OID = "1.2.840.113549.1.9.16.1.4"
_POLICY_OID = "1.3.6.1.4.1.57264.99.1"  # arbitrary test policy (airseal does not check policy)


def rfc3339(when: _dt.datetime) -> str:
    """UTC RFC 3339 with a Z suffix, as protobuf JSON writes timestamps."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _have(tool: str) -> bool:
    return shutil.which(tool) is not None


def _run(args: Sequence[str], *, at: Optional[_dt.datetime] = None, cwd: Optional[Path] = None) -> bytes:
    cmd = list(args)
    env = dict(os.environ)
    env["TZ"] = "UTC"
    if at is not None:
        if at.tzinfo is None:
            raise ValueError("naive datetime")
        if not _have("faketime"):
            raise RuntimeError("faketime is needed to choose a genTime")
        stamp = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        cmd = ["faketime", "-f", stamp, *cmd]  # -f absolute: a frozen clock, so genTime == at
    proc = subprocess.run(cmd, capture_output=True, env=env, cwd=cwd, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def _new_key(key_type: str) -> Any:
    if key_type == "ec":
        return ec.generate_private_key(ec.SECP256R1())
    if key_type == "ec384":
        return ec.generate_private_key(ec.SECP384R1())
    if key_type in ("rsa", "rsa-pss"):
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"unknown key type {key_type!r}")


def _sign_hash(key: Any) -> Optional[hashes.HashAlgorithm]:
    return None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()


def _name(org: str, cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, org), x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _serial() -> int:
    return x509.random_serial_number()


@dataclass
class TimestampAuthority:
    """One test TSA: keys, certificates and an `openssl ts` configuration in `workdir`."""

    __test__ = False  # not a pytest test class

    workdir: Path
    organization: str
    common_name: str
    uri: str
    root_cert: x509.Certificate
    intermediate_cert: Optional[x509.Certificate]
    leaf_cert: x509.Certificate
    leaf_key: Any
    engine: str
    """"ts" (openssl ts -reply), "cms" (asn1crypto TSTInfo + openssl cms -sign) or "python"
    (asn1crypto + cryptography; see `python_timestamp`)."""
    key_type: str = "ec"
    issuer_key: Any = field(default=None, repr=False)
    """Private key of the CA that issued the leaf (for `sibling()`)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _serial_counter: int = 1

    # ------------------------------------------------------------------ construction

    @classmethod
    def create(
        cls,
        workdir: Optional[Path] = None,
        *,
        organization: str = "airseal.test",
        common_name: str = "airseal test TSA",
        uri: str = "http://tsa.airseal.test/api/v1/timestamp",
        key_type: str = "ec",
        intermediate: bool = False,
        leaf_eku_critical: bool = True,
        leaf_extra_eku: bool = False,
        leaf_without_eku: bool = False,
        leaf_is_ca: bool = False,
        leaf_not_before: _dt.datetime = _DEFAULT_NOT_BEFORE,
        leaf_not_after: _dt.datetime = _DEFAULT_NOT_AFTER,
        root_not_before: _dt.datetime = _DEFAULT_NOT_BEFORE,
        root_not_after: _dt.datetime = _DEFAULT_NOT_AFTER,
        intermediate_eku: Optional[Sequence[x509.ObjectIdentifier]] = (ExtendedKeyUsageOID.TIME_STAMPING,),
        engine: Optional[str] = None,
    ) -> TimestampAuthority:
        """Mint a TSA. Defaults give a conforming leaf (EKU = critical timeStamping only).

        Args:
            workdir: where keys/certs/config go (a fresh temp dir if None).
            key_type: "ec" (P-256), "ec384", "rsa", "rsa-pss" (PSS CMS signatures; cms engine),
                "ed25519" (cms engine). The root and intermediate use the same key type.
            intermediate: put an intermediate CA between root and leaf (its EKU from
                `intermediate_eku`; None = no EKU extension).
            leaf_eku_critical / leaf_extra_eku (timeStamping + codeSigning) / leaf_without_eku /
                leaf_is_ca: profile faults the verifier must reject as tsa.untrusted.
            leaf_not_before / leaf_not_after / root_*: certificate validity windows.
            engine: force "ts" or "cms"; default "ts" when openssl ts accepts the leaf.
        """
        if workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix="airseal-tsa-"))
            atexit.register(shutil.rmtree, workdir, True)
        workdir.mkdir(parents=True, exist_ok=True)

        root_key = _new_key(key_type)
        root_name = _name(organization, f"{common_name} root")
        root = (
            x509.CertificateBuilder()
            .subject_name(root_name)
            .issuer_name(root_name)
            .public_key(root_key.public_key())
            .serial_number(_serial())
            .not_valid_before(root_not_before)
            .not_valid_after(root_not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(_ca_key_usage(), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
            .sign(root_key, _sign_hash(root_key))
        )
        issuer_cert, issuer_key = root, root_key
        inter: Optional[x509.Certificate] = None
        if intermediate:
            inter_key = _new_key(key_type)
            builder = (
                x509.CertificateBuilder()
                .subject_name(_name(organization, f"{common_name} intermediate"))
                .issuer_name(root.subject)
                .public_key(inter_key.public_key())
                .serial_number(_serial())
                .not_valid_before(root_not_before)
                .not_valid_after(root_not_after)
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(_ca_key_usage(), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(inter_key.public_key()), critical=False)
                .add_extension(
                    x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), critical=False
                )
            )
            if intermediate_eku is not None:
                builder = builder.add_extension(x509.ExtendedKeyUsage(list(intermediate_eku)), critical=False)
            inter = builder.sign(root_key, _sign_hash(root_key))
            issuer_cert, issuer_key = inter, inter_key

        leaf_key = _new_key(key_type)
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(organization, common_name))
            .issuer_name(issuer_cert.subject)
            .public_key(leaf_key.public_key())
            .serial_number(_serial())
            .not_valid_before(leaf_not_before)
            .not_valid_after(leaf_not_after)
            .add_extension(x509.BasicConstraints(ca=leaf_is_ca, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=leaf_is_ca,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(leaf_key.public_key()), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False
            )
        )
        if not leaf_without_eku:
            ekus = [ExtendedKeyUsageOID.TIME_STAMPING]
            if leaf_extra_eku:
                ekus.append(ExtendedKeyUsageOID.CODE_SIGNING)
            builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=leaf_eku_critical)
        leaf = builder.sign(issuer_key, _sign_hash(issuer_key))

        openssl_ts_ok = (
            leaf_eku_critical
            and not leaf_extra_eku
            and not leaf_without_eku
            and not leaf_is_ca
            and key_type in ("ec", "ec384", "rsa")
        )
        chosen = engine or ("ts" if openssl_ts_ok else "python" if key_type == "ed25519" else "cms")
        if chosen not in ("ts", "cms", "python"):
            raise ValueError("engine must be 'ts', 'cms' or 'python'")
        if chosen == "cms" and key_type == "ed25519":
            raise ValueError("openssl 3.0 cms cannot sign with Ed25519; use engine='python'")

        tsa = cls(
            workdir=workdir,
            organization=organization,
            common_name=common_name,
            uri=uri,
            root_cert=root,
            intermediate_cert=inter,
            leaf_cert=leaf,
            leaf_key=leaf_key,
            engine=chosen,
            key_type=key_type,
            issuer_key=issuer_key,
        )
        tsa._write_files()
        return tsa

    def untrusted_twin(self, workdir: Optional[Path] = None, **overrides: Any) -> TimestampAuthority:
        """A second, independent TSA with the same names and URI but its own keys: not in any root."""
        options: dict[str, Any] = {
            "organization": self.organization,
            "common_name": self.common_name,
            "uri": self.uri,
            "key_type": self.key_type,
            "intermediate": self.intermediate_cert is not None,
        }
        options.update(overrides)
        if workdir is None and not overrides.get("workdir"):
            workdir = Path(tempfile.mkdtemp(prefix="airseal-tsa-untrusted-"))
            atexit.register(shutil.rmtree, workdir, True)
        return TimestampAuthority.create(workdir, **options)

    def sibling(self, workdir: Optional[Path] = None) -> TimestampAuthority:
        """Another conforming TSA leaf (new key, same subject) issued by this TSA's CA.

        It chains to the same trusted root, but is not the leaf the trusted root pins.
        """
        if workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix="airseal-tsa-sibling-"))
            atexit.register(shutil.rmtree, workdir, True)
        workdir.mkdir(parents=True, exist_ok=True)
        key = _new_key(self.key_type)
        old = self.leaf_cert
        leaf = (
            x509.CertificateBuilder()
            .subject_name(old.subject)
            .issuer_name(old.issuer)
            .public_key(key.public_key())
            .serial_number(_serial())
            .not_valid_before(old.not_valid_before_utc)
            .not_valid_after(old.not_valid_after_utc)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(self.issuer_key, _sign_hash(self.issuer_key))
        )
        twin = TimestampAuthority(
            workdir=workdir,
            organization=self.organization,
            common_name=self.common_name,
            uri=self.uri,
            root_cert=self.root_cert,
            intermediate_cert=self.intermediate_cert,
            leaf_cert=leaf,
            leaf_key=key,
            engine=self.engine,
            key_type=self.key_type,
            issuer_key=self.issuer_key,
        )
        twin._write_files()
        return twin

    def _write_files(self) -> None:
        d = self.workdir
        pem = serialization.Encoding.PEM
        (d / "root.pem").write_bytes(self.root_cert.public_bytes(pem))
        (d / "leaf.pem").write_bytes(self.leaf_cert.public_bytes(pem))
        (d / "leaf.key").write_bytes(
            self.leaf_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        chain = b"".join(c.public_bytes(pem) for c in self.ca_certificates)
        (d / "chain.pem").write_bytes(chain)
        (d / "serial").write_text("01\n")
        (d / "openssl-tsa.cnf").write_text(
            "\n".join(
                [
                    "[ tsa ]",
                    "default_tsa = tsa_config",
                    "",
                    "[ tsa_config ]",
                    f"serial = {d / 'serial'}",
                    "crypto_device = builtin",
                    f"signer_cert = {d / 'leaf.pem'}",
                    f"certs = {d / 'chain.pem'}",
                    f"signer_key = {d / 'leaf.key'}",
                    "signer_digest = sha256",
                    f"default_policy = {_POLICY_OID}",
                    "digests = sha1, sha256, sha384, sha512",
                    "accuracy = secs:1",
                    "clock_precision_digits = 0",
                    "ordering = no",
                    "tsa_name = no",
                    "ess_cert_id_chain = no",
                    "ess_cert_id_alg = sha256",
                    "",
                ]
            )
        )

    # ------------------------------------------------------------------ material

    @property
    def ca_certificates(self) -> tuple[x509.Certificate, ...]:
        """Intermediate (if any) then root."""
        return tuple(c for c in (self.intermediate_cert, self.root_cert) if c is not None)

    def chain(self, *, include_leaf: bool = True) -> tuple[x509.Certificate, ...]:
        """Trusted-root order: leaf (optional), intermediates, root last."""
        return ((self.leaf_cert,) if include_leaf else ()) + self.ca_certificates

    def trusted_root_entry(
        self,
        *,
        valid_from: Optional[_dt.datetime] = None,
        valid_until: Optional[_dt.datetime] = None,
        include_leaf: bool = True,
        uri: Optional[str] = None,
        operator: Optional[str] = None,
    ) -> dict[str, Any]:
        """The `timestampAuthorities[]` JSON element (protobuf JSON) for this TSA.

        `valid_from` defaults to the root's notBefore; `valid_until` None = open-ended.
        """
        start = valid_from or self.root_cert.not_valid_before_utc
        valid_for: dict[str, str] = {"start": rfc3339(start)}
        if valid_until is not None:
            valid_for["end"] = rfc3339(valid_until)
        entry: dict[str, Any] = {
            "subject": {"organization": self.organization, "commonName": self.common_name},
            "uri": uri or self.uri,
            "certChain": {
                "certificates": [
                    {"rawBytes": base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode("ascii")}
                    for c in self.chain(include_leaf=include_leaf)
                ]
            },
            "validFor": valid_for,
        }
        if operator is not None:
            entry["operator"] = operator
        return entry

    def certificate_authority(self, **entry_options: Any) -> Any:
        """`trusted_root_entry(**entry_options)` as a `verifier._internal.trustroot.model.CertificateAuthority`."""
        return entry_to_certificate_authority(self.trusted_root_entry(**entry_options))

    # ------------------------------------------------------------------ signing

    def timestamp(
        self,
        data_or_signature: bytes,
        *,
        at: Optional[_dt.datetime] = None,
        embed_cert: bool = True,
        hash_name: str = "sha256",
    ) -> bytes:
        """TimeStampResp DER over Hash_{hash_name}(data_or_signature); genTime = `at` (else now)."""
        if self.engine == "python":
            return self.python_timestamp(data_or_signature, at=at, embed_cert=embed_cert, hash_name=hash_name)
        if self.engine == "cms":
            return self._cms_timestamp(data_or_signature, at=at, embed_cert=embed_cert, hash_name=hash_name)
        with tempfile.TemporaryDirectory(dir=self.workdir) as tmp:
            t = Path(tmp)
            (t / "data").write_bytes(data_or_signature)
            args = ["openssl", "ts", "-query", "-data", str(t / "data"), f"-{hash_name}", "-no_nonce"]
            if embed_cert:
                args.append("-cert")
            _run([*args, "-out", str(t / "req.tsq")])
            return self.reply((t / "req.tsq").read_bytes(), at=at)

    def reply(self, query_der: bytes, *, at: Optional[_dt.datetime] = None) -> bytes:
        """Answer a DER TimeStampReq with `openssl ts -reply` (what an HTTP TSA does)."""
        with self._lock, tempfile.TemporaryDirectory(dir=self.workdir) as tmp:
            t = Path(tmp)
            (t / "req.tsq").write_bytes(query_der)
            _run(
                [
                    "openssl", "ts", "-reply",
                    "-config", str(self.workdir / "openssl-tsa.cnf"),
                    "-queryfile", str(t / "req.tsq"),
                    "-out", str(t / "resp.tsr"),
                ],
                at=at,
            )
            return (t / "resp.tsr").read_bytes()

    def _cms_timestamp(
        self, data: bytes, *, at: Optional[_dt.datetime], embed_cert: bool, hash_name: str
    ) -> bytes:
        from asn1crypto import cms, tsp

        tst = self._tst_info(data, at=at, hash_name=hash_name)
        with tempfile.TemporaryDirectory(dir=self.workdir) as tmp:
            t = Path(tmp)
            (t / "tst.der").write_bytes(tst.dump())
            args = [
                "openssl", "cms", "-sign", "-binary", "-nodetach", "-cades", "-nosmimecap",
                "-in", str(t / "tst.der"),
                "-econtent_type", _TST_INFO_OID,
                "-signer", str(self.workdir / "leaf.pem"),
                "-inkey", str(self.workdir / "leaf.key"),
                "-outform", "DER",
                "-out", str(t / "token.der"),
            ]
            key_type = self.key_type
            if key_type != "ed25519":
                args += ["-md", "sha256"]
            if key_type == "rsa-pss":
                args += ["-keyopt", "rsa_padding_mode:pss", "-keyopt", "rsa_pss_saltlen:32"]
            if not embed_cert:
                args.append("-nocerts")
            _run(args, at=at)
            token = cms.ContentInfo.load((t / "token.der").read_bytes())
        resp = tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token})
        return resp.dump()


    def _tst_info(self, data: bytes, *, at: Optional[_dt.datetime], hash_name: str, **overrides: Any) -> Any:
        import hashlib

        from asn1crypto import tsp

        gen_time = (at or _dt.datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        with self._lock:
            self._serial_counter += 1
            serial = self._serial_counter
        fields: dict[str, Any] = {
            "version": "v1",
            "policy": _POLICY_OID,
            "message_imprint": {
                "hash_algorithm": {"algorithm": hash_name},
                "hashed_message": hashlib.new(hash_name, data).digest(),
            },
            "serial_number": serial,
            "gen_time": gen_time,
            "accuracy": {"seconds": 1},
            "ordering": False,
        }
        fields.update(overrides)
        return tsp.TSTInfo(fields)

    def python_timestamp(
        self,
        data_or_signature: bytes,
        *,
        at: Optional[_dt.datetime] = None,
        embed_cert: bool = True,
        hash_name: str = "sha256",
        digest_name: Optional[str] = None,
        content_type_attr: Optional[str] = _TST_INFO_OID,
        message_digest: Optional[bytes] = None,
        omit_message_digest: bool = False,
        extra_certs: Sequence[x509.Certificate] = (),
        status: str = "granted",
    ) -> bytes:
        """TimeStampResp built and signed in Python (asn1crypto + cryptography): a fault injector.

        The CMS signature is always valid for what is encoded, so these faults isolate the
        structural checks: `digest_name` (SignerInfo digest, default sha256; sha512 for
        Ed25519), `content_type_attr` (None omits the attribute), `message_digest` (override
        the signed message-digest value), `omit_message_digest`, `extra_certs` (more
        certificates in the token), `status` (e.g. "rejection" adds no token).
        """
        import hashlib

        from asn1crypto import algos, cms, tsp
        from asn1crypto import x509 as asn1_x509

        if status not in ("granted", "granted_with_mods"):
            status_info = tsp.PKIStatusInfo({"status": status, "status_string": ["refused by test TSA"]}).dump()
            return _der_sequence(status_info)  # TimeStampResp without a token
        tst_der = self._tst_info(data_or_signature, at=at, hash_name=hash_name).dump()
        key = self.leaf_key
        if digest_name is None:
            digest_name = "sha512" if isinstance(key, ed25519.Ed25519PrivateKey) else "sha256"
        leaf_der = self.leaf_cert.public_bytes(serialization.Encoding.DER)
        leaf_asn1 = asn1_x509.Certificate.load(leaf_der)
        attrs: list[dict[str, Any]] = []
        if content_type_attr is not None:
            attrs.append({"type": "content_type", "values": [content_type_attr]})
        signing_time = (at or _dt.datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        attrs.append({"type": "signing_time", "values": [cms.Time({"utc_time": signing_time})]})
        if not omit_message_digest:
            digest = message_digest if message_digest is not None else hashlib.new(digest_name, tst_der).digest()
            attrs.append({"type": "message_digest", "values": [digest]})
        attrs.append(
            {
                "type": "signing_certificate_v2",
                "values": [{"certs": [{"cert_hash": hashlib.sha256(leaf_der).digest()}]}],
            }
        )
        if isinstance(key, ed25519.Ed25519PrivateKey):
            sig_alg = {"algorithm": "ed25519"}
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            sig_alg = {"algorithm": f"{digest_name}_ecdsa"}
        else:
            sig_alg = {"algorithm": f"{digest_name}_rsa"}
        signer_info = cms.SignerInfo(
            {
                "version": "v1",
                "sid": cms.SignerIdentifier(
                    {
                        "issuer_and_serial_number": {
                            "issuer": leaf_asn1.issuer,
                            "serial_number": leaf_asn1.serial_number,
                        }
                    }
                ),
                "digest_algorithm": {"algorithm": digest_name},
                "signed_attrs": attrs,
                "signature_algorithm": algos.SignedDigestAlgorithm(sig_alg),
                "signature": b"",
            }
        )
        to_sign = b"\x31" + signer_info["signed_attrs"].dump()[1:]
        if isinstance(key, ed25519.Ed25519PrivateKey):
            sig = key.sign(to_sign)
        elif isinstance(key, ec.EllipticCurvePrivateKey):
            sig = key.sign(to_sign, ec.ECDSA(_hash_by_name(digest_name)))
        else:
            from cryptography.hazmat.primitives.asymmetric import padding

            sig = key.sign(to_sign, padding.PKCS1v15(), _hash_by_name(digest_name))
        signer_info["signature"] = sig
        certs = [leaf_asn1] if embed_cert else []
        certs += [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in extra_certs]
        signed_data: dict[str, Any] = {
            "version": "v3",
            "digest_algorithms": [{"algorithm": digest_name}],
            "encap_content_info": {
                "content_type": _TST_INFO_OID,
                "content": cms.ParsableOctetString(tst_der),
            },
            "signer_infos": [signer_info],
        }
        if certs:
            signed_data["certificates"] = certs
        token = cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})
        return tsp.TimeStampResp({"status": {"status": status}, "time_stamp_token": token}).dump()


def _der_sequence(content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        length = bytes([n])
    else:
        raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return b"\x30" + length + content


def _hash_by_name(name: str) -> hashes.HashAlgorithm:
    return {
        "sha1": hashes.SHA1(),
        "sha256": hashes.SHA256(),
        "sha384": hashes.SHA384(),
        "sha512": hashes.SHA512(),
    }[name]


def _ca_key_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def entry_to_certificate_authority(entry: dict[str, Any]) -> Any:
    """Build a `CertificateAuthority` model object from one `timestampAuthorities[]` JSON element.

    Minimal and test-only (no strictness): the real loader is `verifier._internal.trustroot.load`.
    """
    from verifier._internal.trustroot.model import CertificateAuthority, ValidityPeriod

    def when(text: Optional[str]) -> Optional[_dt.datetime]:
        if not text:
            return None
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)

    ders = tuple(base64.b64decode(c["rawBytes"]) for c in entry["certChain"]["certificates"])
    valid_for = entry.get("validFor", {})
    start = when(valid_for.get("start"))
    if start is None:
        raise ValueError("validFor.start missing")
    return CertificateAuthority(
        uri=entry.get("uri", ""),
        subject_common_name=entry.get("subject", {}).get("commonName", ""),
        subject_organization=entry.get("subject", {}).get("organization", ""),
        chain=tuple(x509.load_der_x509_certificate(d) for d in ders),
        chain_der=ders,
        valid_for=ValidityPeriod(start=start, end=when(valid_for.get("end"))),
        operator=entry.get("operator"),
    )


# ---------------------------------------------------------------------- HTTP TSA


@dataclass
class TsaServer:
    """A running loopback TSA: POST application/timestamp-query to `url`."""

    url: str
    authority: TimestampAuthority
    requests: list[bytes] = field(default_factory=list)
    """Raw TimeStampReq bodies received, in order."""


@contextlib.contextmanager
def serve_tsa(
    authority: TimestampAuthority,
    *,
    at: Optional[_dt.datetime] = None,
    path: str = "/api/v1/timestamp",
) -> Iterator[TsaServer]:
    """Run an HTTP TSA on 127.0.0.1 (ephemeral port) answering with `authority.reply()`.

    Replies 200 `application/timestamp-reply` for POSTs to `path` with Content-Type
    `application/timestamp-query`; 415 for another content type, 404 for another path,
    400 when openssl cannot parse the query. `at` fixes the genTime of every reply.
    """
    server_info = TsaServer(url="", authority=authority)

    class Handler(QuietHandler):
        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != path:
                self.send_error(404)
                return
            ctype = self.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            if ctype != "application/timestamp-query":
                self.send_error(415)
                return
            server_info.requests.append(body)
            try:
                answer = authority.reply(body, at=at)
            except RuntimeError:
                self.send_error(400)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    with serve(Handler, "airseal-test-tsa") as base_url:
        server_info.url = base_url + path
        yield server_info
