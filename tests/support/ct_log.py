"""A Certificate Transparency log stand-in on 127.0.0.1: it answers RFC 6962 ``add-pre-chain``
with a signed SCT, so that Fulcio embeds one in the certificates it issues.

sigstore-python requires exactly one embedded SCT, verified against the trusted root's
``ctlogs``, both when it signs (right after Fulcio answers) and when it verifies; so a Fulcio
run without a CT log cannot serve it. This is not a log: nothing is stored, there is no tree,
no STH and no read API. It only signs what RFC 6962 section 3.2 says an SCT signs:

    digitally-signed struct {
        Version sct_version = v1(0);  SignatureType = certificate_timestamp(0);
        uint64 timestamp (ms);  LogEntryType entry_type = precert_entry(1);
        PreCert { opaque issuer_key_hash[32]; TBSCertificate tbs (poison removed) <1..2^24-1>; }
        CtExtensions extensions <0..2^16-1> (empty);
    }

ECDSA P-256 with SHA-256; log id = SHA-256 of the DER SubjectPublicKeyInfo. The SCT is
checked independently of this file: Fulcio checks it with certificate-transparency-go when
started with ``--ct-log-public-key-path`` (:func:`tests.support.services.fulcio` does), and
sigstore-python checks the embedded one.

Standard library and ``cryptography`` only; the server runs on a thread of the test process.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import hashlib
import json
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.loopback import QuietHandler, serve
from tests.support.services import b64, log_instance

ADD_PRE_CHAIN = "/ct/v1/add-pre-chain"
_CT_POISON = x509.oid.ExtensionOID.PRECERT_POISON


@dataclass
class CTLog:
    url: str  # base URL with the log prefix, what Fulcio's --ct-log-url wants
    key: ec.EllipticCurvePrivateKey
    valid_from: _dt.datetime
    issued: list[dict] = field(default_factory=list)  # every SCT answered, as JSON

    @property
    def public_key_der(self) -> bytes:
        return self.key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def public_key_pem(self) -> bytes:
        return self.key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def log_id(self) -> bytes:
        return hashlib.sha256(self.public_key_der).digest()

    def ctlog_entry(self) -> dict:
        """This log's element of a trusted root's ``ctlogs``."""
        return log_instance(self.url, self.public_key_der, "PKIX_ECDSA_P256_SHA_256", self.log_id, self.valid_from)

    def sct_for_precert_chain(self, chain_der: list[bytes]) -> dict:
        """The add-pre-chain answer for [precertificate, issuer, ...]; ValueError if it is not one."""
        if len(chain_der) < 2:
            raise ValueError("add-pre-chain needs the precertificate and its issuer")
        precert = x509.load_der_x509_certificate(chain_der[0])
        issuer = x509.load_der_x509_certificate(chain_der[1])
        try:
            precert.extensions.get_extension_for_oid(_CT_POISON)
        except x509.ExtensionNotFound:
            raise ValueError("the first certificate carries no CT poison extension") from None
        if x509.ExtendedKeyUsageOID.CERTIFICATE_TRANSPARENCY in _ekus(issuer):
            raise ValueError("precertificate signing certificates are not supported by this stand-in")
        issuer_key_hash = hashlib.sha256(
            issuer.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        ).digest()
        tbs = _tbs_without_poison(precert.tbs_certificate_bytes)
        timestamp = int(time.time() * 1000)
        signed = (
            struct.pack("!BBQH", 0, 0, timestamp, 1)
            + issuer_key_hash
            + len(tbs).to_bytes(3, "big")
            + tbs
            + struct.pack("!H", 0)
        )
        der_sig = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        # DigitallySigned: hash sha256(4), signature ecdsa(3), opaque signature<0..2^16-1>
        digitally_signed = struct.pack("!BBH", 4, 3, len(der_sig)) + der_sig
        answer = {"sct_version": 0, "id": b64(self.log_id), "timestamp": timestamp, "extensions": "",
                  "signature": b64(digitally_signed)}  # fmt: skip
        self.issued.append(answer)
        return answer


# A minimal DER walker: enough to drop one extension from a TBSCertificate (cryptography's
# tbs_precertificate_bytes works from the final certificate, with the SCT list, not from this).
_POISON_OID_DER = bytes.fromhex("060a2b06010401d679020403")  # OID 1.3.6.1.4.1.11129.2.4.3


def _read_tlv(data: bytes, pos: int) -> tuple[int, int, int]:
    """(tag, start of contents, end of contents) of the element at ``pos`` (short tags only)."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def _tlv(tag: int, contents: bytes) -> bytes:
    n = len(contents)
    if n < 0x80:
        return bytes([tag, n]) + contents
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + contents


def _children(data: bytes, start: int, end: int) -> list[bytes]:
    out, pos = [], start
    while pos < end:
        _, cstart, cend = _read_tlv(data, pos)
        out.append(data[pos:cend])
        pos = cend
    return out


def _tbs_without_poison(tbs: bytes) -> bytes:
    """The TBSCertificate with the CT poison extension removed (RFC 6962 section 3.2)."""
    tag, start, end = _read_tlv(tbs, 0)
    fields = _children(tbs, start, end)
    ext_tag, ext_start, ext_end = _read_tlv(fields[-1], 0)
    if ext_tag != 0xA3:  # [3] EXPLICIT Extensions
        raise ValueError("the TBSCertificate has no extensions")
    seq_tag, seq_start, seq_end = _read_tlv(fields[-1], ext_start)
    extensions = _children(fields[-1], seq_start, seq_end)
    kept = [e for e in extensions if not e[_read_tlv(e, 0)[1] :].startswith(_POISON_OID_DER)]
    if len(kept) != len(extensions) - 1:
        raise ValueError("expected exactly one CT poison extension")
    fields[-1] = _tlv(0xA3, _tlv(seq_tag, b"".join(kept)))
    return _tlv(tag, b"".join(fields))


def _ekus(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    try:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return []


def _handler(log: CTLog) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:
            if not self.path.endswith(ADD_PRE_CHAIN):
                self.send_error(404)
                return
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                answer = log.sct_for_precert_chain([base64.b64decode(c) for c in body["chain"]])
            except (ValueError, KeyError, TypeError) as exc:
                self.send_error(400, explain=str(exc))
                return
            self.send_json(answer)

    return Handler


@contextlib.contextmanager
def ct_log(prefix: str = "/test") -> Iterator[CTLog]:
    """Serve the stand-in at ``http://127.0.0.1:PORT<prefix>`` (a free port) until the block ends."""
    key = ec.generate_private_key(ec.SECP256R1())
    valid_from = (_dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=1)).replace(microsecond=0)
    log = CTLog("", key, valid_from)
    with serve(_handler(log), "ct-log") as base_url:
        log.url = base_url + prefix
        yield log
