"""airseal verifies keyless bundles that sigstore-python's signing API made against loopback
services, and rejects tampered copies as sigstore-python's own Verifier does.

Producer (provenance of every bundle here):

* sigstore-python 4.5.1 (the ``sigstore`` pin in pyproject.toml): ``SigningContext`` from a
  ``ClientTrustConfig`` (our trusted root + signing config v0.2), ``Signer.sign_artifact``
  (message signature, hashedrekord) and ``Signer.sign_dsse`` (in-toto statement, DSSE);
* Fulcio v1.8.8 (``fulcio serve --ca=ephemeralca``), trusting the loopback OIDC issuer of
  ``tests/support/oidc_issuer.py`` as an ``email`` issuer over plain http; the artifact's
  certificate comes from an RS256 ID token, the statement's from an ES256 one;
* a CT log stand-in (``tests/support/ct_log.py``) for the SCT: sigstore-python demands exactly
  one embedded SCT when it signs and when it verifies, so Fulcio must have a CT log; Fulcio
  checks each SCT against the stand-in's key (``--ct-log-public-key-path``) before embedding it;
* the timestamp authority v2.1.3 (in-memory signer);
* the transparency log, one run each: Rekor v2 = rekor-tiles v2.3.0 (POSIX), where
  sigstore-python logs the DSSE envelope as a hashedrekord 0.0.2 over its PAE; and the real
  Rekor v1 = rekor-server v1.5.4 on Trillian v1.7.3 + MariaDB (hashedrekord and dsse 0.0.1
  entries with SETs).

Every service is stopped before anything is verified: airseal (in-process CLI) and
sigstore-python's Verifier check the bundles offline against the same trusted root, which names
Fulcio's CA chain (from its ``/api/v2/trustBundle``), the CT stand-in's key, the log's key and
the TSA chain.

Checkpoint origins: airseal takes a log's origin to be its base URL without the scheme (host and
port), sigstore-python does not check the origin. The Rekor v2 here is started with
``--hostname=127.0.0.1:PORT`` so its checkpoints carry that origin; the real Rekor v1 runs as in
the cosign interop tests, on port 80 of its own 127.0.0.N (binding it needs root, as in CI;
elsewhere that run skips).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.support import services
from tests.support.ct_log import ct_log
from tests.support.oidc_issuer import oidc_issuer
from verifier.cli.app import main
from verifier.errors import Reason

IDENTITY = "ci@airseal.test"
ARTIFACT = b"airseal: signed by sigstore-python against loopback Fulcio\n"
PREDICATE_TYPE = "https://airseal.test/predicate/v1"
CLIENT_TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"

pytestmark = pytest.mark.filterwarnings(
    # Fulcio's ephemeral CA names its root C=USA: cryptography warns that a country is 2 letters.
    "ignore:Attribute's length must be >= 2 and <= 2:UserWarning"
)


@dataclass
class Signed:
    """What one signing run left on disk (services stopped)."""

    dir: Path
    log: str  # "rekor_v2" or "rekor_v1"
    issuer: str  # the OIDC issuer URL, as in the certificates

    def path(self, name: str) -> Path:
        return self.dir / name


def _start_log(kind: str):
    if kind == "rekor_v2":
        port = services.free_port()
        return services.rekor_v2(origin=f"127.0.0.1:{port}", port=port)
    return services.rekor_v1(address=services.loopback_with_free_port_80(), port=80)


def _sign(issuer, ct, fulcio, tsa, log, out: Path, v2: bool) -> None:
    from sigstore import dsse
    from sigstore.models import ClientTrustConfig
    from sigstore.oidc import IdentityToken
    from sigstore.sign import SigningContext

    root = services.trusted_root(
        tlogs=[log.tlog_entry()],
        timestamp_authorities=[tsa.tsa_entry()],
        certificate_authorities=[fulcio.ca_entry()],
        ctlogs=[ct.ctlog_entry()],
    )
    log_url = {"rekor_v2_url" if v2 else "rekor_v1_url": log.url}
    config = services.signing_config(**log_url, tsa_url=tsa.timestamp_url, fulcio_url=fulcio.url, oidc_url=issuer.url)
    (out / "trusted_root.json").write_text(json.dumps(root, indent=2) + "\n")
    trust = ClientTrustConfig.from_json(
        json.dumps({"mediaType": CLIENT_TRUST_CONFIG_MEDIA_TYPE, "trustedRoot": root, "signingConfig": config})
    )
    context = SigningContext.from_trust_config(trust)

    def token(alg: str) -> IdentityToken:
        return IdentityToken(issuer.mint(IDENTITY, alg=alg, email=IDENTITY, email_verified=True))

    (out / "a.txt").write_bytes(ARTIFACT)
    with context.signer(token("RS256")) as signer:
        (out / "a.txt.sigstore.json").write_text(signer.sign_artifact(ARTIFACT).to_json())
    statement = (
        dsse.StatementBuilder()
        .subjects([dsse.Subject(name="a.txt", digest={"sha256": hashlib.sha256(ARTIFACT).hexdigest()})])
        .predicate_type(PREDICATE_TYPE)
        .predicate({"builder": "airseal tests"})
        .build()
    )
    with context.signer(token("ES256")) as signer:
        (out / "a.txt.intoto.sigstore.json").write_text(signer.sign_dsse(statement).to_json())


@pytest.fixture(scope="module", params=["rekor_v2", "rekor_v1"])
def signed(request, tmp_path_factory) -> Signed:
    """Start the OIDC issuer, the CT stand-in, Fulcio (trusting that issuer, asking that log),
    the TSA and the log; sign; stop them all. What is verified afterwards is only on disk."""
    out = tmp_path_factory.mktemp(request.param)
    try:
        with contextlib.ExitStack() as stack:
            issuer = stack.enter_context(oidc_issuer())
            ct = stack.enter_context(ct_log())
            fulcio = stack.enter_context(services.fulcio(issuer.url, ct.url, ct.public_key_pem))
            tsa = stack.enter_context(services.timestamp_authority())
            log = stack.enter_context(_start_log(request.param))
            _sign(issuer, ct, fulcio, tsa, log, out, v2=request.param == "rekor_v2")
    except services.ServiceUnavailable as exc:
        services.skip_or_fail(str(exc))
    assert len(ct.issued) == 2  # one SCT per certificate: Fulcio really asked the stand-in
    return Signed(out, request.param, issuer.url)


# ----------------------------------------------------------------------------- helpers


def _airseal(signed: Signed, bundle: str, *extra: str, identity: str = IDENTITY, issuer: str | None = None,
             artifact: str = "a.txt", root: str = "trusted_root.json") -> tuple[int, dict]:  # fmt: skip
    args = [
        "verify", "--bundle", str(signed.path(bundle)),
        "--certificate-identity", identity, "--certificate-oidc-issuer", issuer or signed.issuer,
        "--trusted-root", str(signed.path(root)), "--json", *extra, str(signed.path(artifact)),
    ]  # fmt: skip
    result = CliRunner().invoke(main, args)
    return result.exit_code, json.loads(result.stdout)


def _reason(doc: dict) -> str:
    return doc["reason_code"]


def _sigstore_python(signed: Signed, bundle: str, identity: str = IDENTITY, artifact: str = "a.txt") -> None:
    """sigstore-python's Verifier, offline, same trusted root; raises on any failure."""
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier, policy

    verifier = Verifier(trusted_root=TrustedRoot.from_file(str(signed.path("trusted_root.json"))))
    parsed = Bundle.from_json(signed.path(bundle).read_bytes())
    identity_policy = policy.Identity(identity=identity, issuer=signed.issuer)
    if "intoto" in bundle:
        payload_type, payload = verifier.verify_dsse(parsed, identity_policy)
        statement = json.loads(payload)
        digest = hashlib.sha256(signed.path(artifact).read_bytes()).hexdigest()
        if payload_type != "application/vnd.in-toto+json" or statement["subject"][0]["digest"]["sha256"] != digest:
            raise AssertionError("the statement does not name this artifact")
    else:
        verifier.verify_artifact(signed.path(artifact).read_bytes(), parsed, identity_policy)


def _tampered_copy(signed: Signed, bundle: str, name: str, change) -> str:
    doc = json.loads(signed.path(bundle).read_text())
    change(doc)
    signed.path(name).write_text(json.dumps(doc))
    return name


def _strip_tlog_entries(doc: dict) -> None:
    doc["verificationMaterial"]["tlogEntries"] = []


def _flip_b64(value: str, byte: int = 10) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[byte] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


# ----------------------------------------------------------------------------- accepted

BUNDLES = ["a.txt.sigstore.json", "a.txt.intoto.sigstore.json"]


@pytest.mark.parametrize("bundle", BUNDLES)
def test_airseal_verifies_what_sigstore_python_signed(signed: Signed, bundle: str) -> None:
    code, doc = _airseal(signed, bundle)
    assert code == 0, doc
    assert doc["verified"] is True
    assert doc["signer"]["identity"] == IDENTITY and doc["signer"]["issuer"] == signed.issuer
    _sigstore_python(signed, bundle)  # the producer's own verifier agrees


@pytest.mark.parametrize("bundle", BUNDLES)
def test_the_sct_is_checked(signed: Signed, bundle: str) -> None:
    """The embedded SCT counts: without the CT log in the trusted root airseal rejects unless
    told --min-scts 0."""
    root = json.loads(signed.path("trusted_root.json").read_text())
    root["ctlogs"] = []
    signed.path("no_ctlog_root.json").write_text(json.dumps(root))
    code, doc = _airseal(signed, bundle, root="no_ctlog_root.json")
    assert code == 1 and _reason(doc) == Reason.SCT_THRESHOLD_NOT_MET.value, doc
    code, doc = _airseal(signed, bundle, "--min-scts", "0", root="no_ctlog_root.json")
    assert code == 0, doc


# ----------------------------------------------------------------------------- rejected



@pytest.mark.parametrize("bundle", BUNDLES)
def test_a_changed_artifact_byte_is_rejected(signed: Signed, bundle: str) -> None:
    from sigstore.errors import VerificationError as SigstoreVerificationError

    data = bytearray(ARTIFACT)
    data[0] ^= 0x01
    signed.path("changed.txt").write_bytes(bytes(data))
    code, doc = _airseal(signed, bundle, artifact="changed.txt")
    expected = Reason.DSSE_SUBJECT_MISMATCH if "intoto" in bundle else Reason.ARTIFACT_DIGEST_MISMATCH
    assert code == 1 and _reason(doc) == expected.value, doc
    if "intoto" in bundle:
        # verify_dsse checks the envelope, not which artifact it names: that is the caller's
        # check (here in _sigstore_python), as in sigstore-python's own CLI.
        with pytest.raises(AssertionError, match="does not name this artifact"):
            _sigstore_python(signed, bundle, artifact="changed.txt")
    else:
        with pytest.raises(SigstoreVerificationError):
            _sigstore_python(signed, bundle, artifact="changed.txt")


@pytest.mark.parametrize("bundle", BUNDLES)
def test_a_flipped_signature_bit_is_rejected(signed: Signed, bundle: str) -> None:
    from sigstore.errors import VerificationError as SigstoreVerificationError

    def flip(doc: dict) -> None:
        if "dsseEnvelope" in doc:
            sig = doc["dsseEnvelope"]["signatures"][0]
            sig["sig"] = _flip_b64(sig["sig"])
        else:
            doc["messageSignature"]["signature"] = _flip_b64(doc["messageSignature"]["signature"])

    name = _tampered_copy(signed, bundle, "flipped-" + bundle, flip)
    code, doc = _airseal(signed, name)
    assert code == 1, doc
    # The log entry binds the signature bytes (hashedrekord: the signature; Rekor v1 dsse: the
    # envelope's signatures) and airseal checks the entry before the signature: docs/verify.md.
    assert _reason(doc) == Reason.TLOG_ENTRY_MISMATCH.value, doc
    # Without the log (--min-tlog-entries 0), the RFC 3161 timestamp, over the signature bytes, is next.
    stripped = _tampered_copy(signed, name, "nolog-" + name, _strip_tlog_entries)
    code, doc = _airseal(signed, stripped, "--min-tlog-entries", "0")
    assert code == 1 and _reason(doc) == Reason.TSA_IMPRINT_MISMATCH.value, doc
    with pytest.raises(SigstoreVerificationError):
        _sigstore_python(signed, name)


def test_a_changed_statement_is_rejected(signed: Signed) -> None:
    """A DSSE payload changed after signing: the log entry no longer matches; with the log set
    aside (the timestamp covers only the signature bytes) the signature check itself rejects."""
    from sigstore.errors import VerificationError as SigstoreVerificationError

    bundle = "a.txt.intoto.sigstore.json"

    def change_payload(doc: dict) -> None:
        statement = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
        statement["predicate"]["builder"] = "someone else"
        doc["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()

    name = _tampered_copy(signed, bundle, "changed-" + bundle, change_payload)
    code, doc = _airseal(signed, name)
    assert code == 1 and _reason(doc) == Reason.TLOG_ENTRY_MISMATCH.value, doc
    stripped = _tampered_copy(signed, name, "nolog-" + name, _strip_tlog_entries)
    code, doc = _airseal(signed, stripped, "--min-tlog-entries", "0")
    assert code == 1 and _reason(doc) == Reason.SIGNATURE_INVALID.value, doc
    code, doc = _airseal(signed, _tampered_copy(signed, bundle, "nolog-" + bundle, _strip_tlog_entries),
                         "--min-tlog-entries", "0")  # fmt: skip
    assert code == 0, doc  # the untouched envelope, same opt-out: only the payload change is refused
    with pytest.raises(SigstoreVerificationError):
        _sigstore_python(signed, name)


@pytest.mark.parametrize("bundle", BUNDLES)
def test_another_identity_or_issuer_is_rejected(signed: Signed, bundle: str) -> None:
    from sigstore.errors import VerificationError as SigstoreVerificationError

    code, doc = _airseal(signed, bundle, identity="someone@airseal.test")
    assert code == 1 and _reason(doc) == Reason.IDENTITY_MISMATCH.value, doc
    code, doc = _airseal(signed, bundle, issuer="http://127.0.0.1:1")
    assert code == 1 and _reason(doc) == Reason.IDENTITY_MISMATCH.value, doc
    with pytest.raises(SigstoreVerificationError):
        _sigstore_python(signed, bundle, identity="someone@airseal.test")


# ----------------------------------------------------------------------------- the issuer is real


def _request_certificate(fulcio_url: str, token: str) -> tuple[int, object]:
    """POST /api/v2/signingCert with a fresh key's CSR and ``token``: (status, JSON answer)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(x509.Name([])).sign(key, hashes.SHA256())
    body = {
        "credentials": {"oidcIdentityToken": token},
        "certificateSigningRequest": base64.b64encode(csr.public_bytes(serialization.Encoding.PEM)).decode(),
    }
    return services.http_json("POST", fulcio_url + "/api/v2/signingCert", body)


@pytest.fixture(scope="module")
def issuer_and_fulcio() -> Iterator[tuple]:
    """The OIDC issuer and a Fulcio trusting it, without a CT log (certificates without SCTs)."""
    with oidc_issuer() as issuer:
        try:
            with services.fulcio(issuer.url) as fulcio:
                yield issuer, fulcio
        except services.ServiceUnavailable as exc:
            services.skip_or_fail(str(exc))


def test_fulcio_checks_the_tokens_of_the_loopback_issuer(issuer_and_fulcio) -> None:
    """Fulcio verifies each token against the issuer's JWKS (fetched over http from 127.0.0.1):
    a well-signed token gets a certificate, one whose claims changed after signing does not,
    nor does one for another audience."""
    issuer, fulcio = issuer_and_fulcio
    good = issuer.mint(IDENTITY, alg="ES256", email=IDENTITY, email_verified=True)
    status, answer = _request_certificate(fulcio.url, good)
    assert status == 200, answer
    assert "GET /jwks" in issuer.requests

    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["email"] = "someone@airseal.test"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    status, answer = _request_certificate(fulcio.url, f"{header}.{forged_payload}.{signature}")
    assert status == 400 and "identity token" in str(answer), answer  # Fulcio's InvalidArgument

    other_audience = issuer.mint(IDENTITY, alg="RS256", email=IDENTITY, email_verified=True, aud="not-sigstore")
    status, answer = _request_certificate(fulcio.url, other_audience)
    assert status == 400 and "identity token" in str(answer), answer
