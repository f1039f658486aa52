"""verifier._internal.tsa.verify: RFC 3161 timestamps against a real `openssl ts` authority and the conformance data.

Spec §3 Step 2 and §5 rows 34–39. Tokens come from `tests.support.tsa` (openssl ts -reply under
faketime; openssl cms -sign or a Python signer for profiles openssl ts refuses and for fault
injection). Each negative test asserts the reason code and the context an operator would read.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.tsa import TimestampAuthority, entry_to_certificate_authority, serve_tsa
from verifier._internal.timefmt import iso
from verifier._internal.tsa import verify as tsa_mod
from verifier._internal.tsa.verify import MAX_TIMESTAMPS, VerifiedTimestamp, verify_signed_timestamp, verify_timestamps
from verifier.errors import InputError, Reason, VerificationError

pytestmark = pytest.mark.skipif(
    shutil.which("openssl") is None or shutil.which("faketime") is None,
    reason="needs the openssl and faketime commands (test TSA)",
)

UTC = dt.timezone.utc
AT = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
SIG = b"\x30\x45" + bytes(range(69))  # stands in for the bundle's raw signature bytes
SECOND = dt.timedelta(seconds=1)


# ------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> TimestampAuthority:
    return TimestampAuthority.create(tmp_path_factory.mktemp("tsa"))


@pytest.fixture(scope="module")
def other_tsa(tsa: TimestampAuthority, tmp_path_factory: pytest.TempPathFactory) -> TimestampAuthority:
    """Same names and URI as `tsa`, its own keys, never in the trusted root."""
    return tsa.untrusted_twin(tmp_path_factory.mktemp("untrusted"))


@pytest.fixture(scope="module")
def make_tsa(tmp_path_factory: pytest.TempPathFactory) -> Any:
    def make(**options: Any) -> TimestampAuthority:
        return TimestampAuthority.create(tmp_path_factory.mktemp("tsa"), **options)

    return make


def _rejects(reason: Reason, der: bytes, authorities: Any, signature: bytes = SIG) -> VerificationError:
    with pytest.raises(VerificationError) as info:
        verify_signed_timestamp(der, signature, authorities)
    err = info.value
    assert err.reason is reason, f"{err.reason} ({err.detail}) != {reason}"
    assert err.check == "tsa"
    return err


def _mutate_token(der: bytes, fn: Any) -> bytes:
    """Re-encode a TimeStampResp after `fn(signed_data)` edits its SignedData in place."""
    from asn1crypto import tsp

    resp = tsp.TimeStampResp.load(der)
    signed_data = resp["time_stamp_token"]["content"]
    fn(signed_data)
    return resp.dump(force=True)


# ------------------------------------------------------------------------------- positive


@pytest.mark.parametrize("embed_cert", [True, False], ids=["embedded-cert", "no-embedded-cert"])
def test_verifies_with_and_without_embedded_cert(tsa: TimestampAuthority, embed_cert: bool) -> None:
    der = tsa.timestamp(SIG, at=AT, embed_cert=embed_cert)
    result = verify_signed_timestamp(der, SIG, [tsa.certificate_authority()])
    assert result == VerifiedTimestamp(
        time=AT,
        authority_uri=tsa.uri,
        authority_name=tsa.common_name,
        hash_algorithm="sha256",
        signer_subject=tsa.leaf_cert.subject.rfc4514_string(),
        authority_operator=None,
    )
    assert result.time.tzinfo is not None and result.time.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    "options",
    [
        {"key_type": "ec384"},
        {"key_type": "rsa"},
        {"key_type": "rsa-pss"},
        {"key_type": "ed25519"},
        {"engine": "cms"},
        {"engine": "python"},
        {"intermediate": True},
        {"intermediate": True, "intermediate_eku": None},
        {"intermediate": True, "intermediate_eku": (ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,)},
    ],
    ids=["p384", "rsa-pkcs1", "rsa-pss", "ed25519", "openssl-cms", "python-cms", "intermediate",
         "intermediate-no-eku", "intermediate-any-eku"],
)
@pytest.mark.parametrize("embed_cert", [True, False], ids=["embedded", "not-embedded"])
def test_signature_algorithms_and_chain_shapes(make_tsa: Any, options: dict[str, Any], embed_cert: bool) -> None:
    authority = make_tsa(**options)
    der = authority.timestamp(SIG, at=AT, embed_cert=embed_cert)
    assert verify_signed_timestamp(der, SIG, [authority.certificate_authority()]).time == AT


@pytest.mark.parametrize("hash_name", ["sha256", "sha384", "sha512"])
def test_sha2_imprints(tsa: TimestampAuthority, hash_name: str) -> None:
    der = tsa.timestamp(SIG, at=AT, hash_name=hash_name)
    assert verify_signed_timestamp(der, SIG, [tsa.certificate_authority()]).hash_algorithm == hash_name


def test_first_trusted_authority_that_verifies_wins(tsa: TimestampAuthority, other_tsa: TimestampAuthority) -> None:
    der = tsa.timestamp(SIG, at=AT)
    other = other_tsa.certificate_authority(uri="https://other.test/tsa")
    result = verify_signed_timestamp(der, SIG, [other, tsa.certificate_authority()])
    assert result.authority_uri == tsa.uri


def test_trusted_root_without_leaf_uses_embedded_signer(tsa: TimestampAuthority) -> None:
    """Root lists only CA certs: the embedded signer is chained to it (spec Step 2 item 5)."""
    der = tsa.timestamp(SIG, at=AT, embed_cert=True)
    result = verify_signed_timestamp(der, SIG, [tsa.certificate_authority(include_leaf=False)])
    assert result.signer_subject == tsa.leaf_cert.subject.rfc4514_string()


def test_embedded_untrusted_intermediate_may_complete_the_path(make_tsa: Any) -> None:
    """Certificates in the token are usable as untrusted intermediates."""
    authority = make_tsa(intermediate=True, engine="python")
    assert authority.intermediate_cert is not None
    der = authority.python_timestamp(SIG, at=AT, extra_certs=[authority.intermediate_cert])
    entry = authority.trusted_root_entry(include_leaf=False)
    entry["certChain"]["certificates"] = entry["certChain"]["certificates"][-1:]  # root only
    assert verify_signed_timestamp(der, SIG, [entry_to_certificate_authority(entry)]).time == AT


def test_validfor_ends_are_inclusive(tsa: TimestampAuthority) -> None:
    der = tsa.timestamp(SIG, at=AT)
    at_start = tsa.certificate_authority(valid_from=AT, valid_until=AT + dt.timedelta(days=1))
    at_end = tsa.certificate_authority(valid_from=AT - dt.timedelta(days=1), valid_until=AT)
    assert verify_signed_timestamp(der, SIG, [at_start]).time == AT
    assert verify_signed_timestamp(der, SIG, [at_end]).time == AT


def test_certificate_validity_ends_are_inclusive(make_tsa: Any) -> None:
    nb, na = AT - dt.timedelta(days=1), AT + dt.timedelta(days=1)
    authority = make_tsa(leaf_not_before=nb, leaf_not_after=na)
    for when in (nb, na):
        der = authority.timestamp(SIG, at=when)
        assert verify_signed_timestamp(der, SIG, [authority.certificate_authority()]).time == when


def test_chain_expired_now_but_valid_at_gentime(make_tsa: Any) -> None:
    """Only genTime matters (conformance rekor2-timestamp-with-expired-cert-chain)."""
    start, end = dt.datetime(2021, 1, 1, tzinfo=UTC), dt.datetime(2021, 1, 2, tzinfo=UTC)
    authority = make_tsa(
        intermediate=True, root_not_before=start, root_not_after=end, leaf_not_before=start, leaf_not_after=end
    )
    when = start + dt.timedelta(hours=12)
    der = authority.timestamp(SIG, at=when)
    assert verify_signed_timestamp(der, SIG, [authority.certificate_authority()]).time == when


# ------------------------------------------------------------------------------- row 34: imprint


def test_imprint_mismatch(tsa: TimestampAuthority) -> None:
    der = tsa.timestamp(b"the artifact, not the signature", at=AT)
    err = _rejects(Reason.TSA_IMPRINT_MISMATCH, der, [tsa.certificate_authority()])
    assert err.context["expected"] != err.context["hashed_message"]
    assert err.context["hash_algorithm"] == "sha256"


# ------------------------------------------------------------------------------- row 35: untrusted


@pytest.mark.parametrize("embed_cert", [True, False], ids=["embedded-cert", "no-embedded-cert"])
def test_untrusted_tsa(tsa: TimestampAuthority, other_tsa: TimestampAuthority, embed_cert: bool) -> None:
    der = other_tsa.timestamp(SIG, at=AT, embed_cert=embed_cert)
    err = _rejects(Reason.TSA_UNTRUSTED, der, [tsa.certificate_authority()])
    assert err.context["authority_uri"] == tsa.uri


@pytest.mark.parametrize("embed_cert", [True, False], ids=["embedded-cert", "no-embedded-cert"])
def test_untrusted_tsa_when_root_lists_no_leaf(
    tsa: TimestampAuthority, other_tsa: TimestampAuthority, embed_cert: bool
) -> None:
    der = other_tsa.timestamp(SIG, at=AT, embed_cert=embed_cert)
    _rejects(Reason.TSA_UNTRUSTED, der, [tsa.certificate_authority(include_leaf=False)])


def test_no_embedded_cert_and_no_leaf_in_root_is_untrusted(tsa: TimestampAuthority) -> None:
    der = tsa.timestamp(SIG, at=AT, embed_cert=False)
    _rejects(Reason.TSA_UNTRUSTED, der, [tsa.certificate_authority(include_leaf=False)])


def test_no_authorities_is_untrusted(tsa: TimestampAuthority) -> None:
    _rejects(Reason.TSA_UNTRUSTED, tsa.timestamp(SIG, at=AT), [])


def test_embedded_signer_must_equal_listed_leaf(tsa: TimestampAuthority) -> None:
    """A second leaf under the same trusted CA is not the TSA leaf the root pins."""
    sibling = tsa.sibling()
    der = sibling.timestamp(SIG, at=AT, embed_cert=True)
    err = _rejects(Reason.TSA_UNTRUSTED, der, [tsa.certificate_authority()])
    assert "leaf" in err.detail
    # Without the leaf pinned, the same sibling chains to the trusted CA and verifies.
    assert verify_signed_timestamp(der, SIG, [tsa.certificate_authority(include_leaf=False)]).time == AT


def test_sibling_without_embedded_cert_is_untrusted(tsa: TimestampAuthority) -> None:
    der = tsa.sibling().timestamp(SIG, at=AT, embed_cert=False)
    _rejects(Reason.TSA_UNTRUSTED, der, [tsa.certificate_authority()])


# ------------------------------------------------------------------------------- row 36: validity


@pytest.mark.parametrize("side", ["before-start", "after-end"])
def test_gentime_outside_validfor(tsa: TimestampAuthority, side: str) -> None:
    der = tsa.timestamp(SIG, at=AT)
    if side == "before-start":
        ca = tsa.certificate_authority(valid_from=AT + SECOND)
    else:
        ca = tsa.certificate_authority(valid_from=AT - dt.timedelta(days=1), valid_until=AT - SECOND)
    err = _rejects(Reason.TSA_VALIDITY, der, [ca])
    assert err.context["gen_time"] == iso(AT)
    assert err.context["valid_from"] == iso(ca.valid_for.start)
    assert err.context["valid_until"] == (iso(ca.valid_for.end) if ca.valid_for.end else None)


@pytest.mark.parametrize("which", ["leaf-expired", "leaf-not-yet-valid", "root-expired"])
def test_gentime_outside_certificate_validity(make_tsa: Any, which: str) -> None:
    early = AT - dt.timedelta(days=30)
    options: dict[str, Any] = {
        "leaf-expired": {"leaf_not_before": early, "leaf_not_after": AT - SECOND},
        "leaf-not-yet-valid": {"leaf_not_before": AT + SECOND},
        "root-expired": {"root_not_before": early, "root_not_after": AT - SECOND, "leaf_not_before": early},
    }[which]
    authority = make_tsa(**options)
    der = authority.timestamp(SIG, at=AT)
    err = _rejects(Reason.TSA_VALIDITY, der, [authority.certificate_authority(valid_from=early)])
    assert err.context["gen_time"] == iso(AT)
    assert {"certificate", "valid_from", "valid_until"} <= set(err.context)


def test_same_chain_listed_twice_uses_the_entry_valid_at_gentime(tsa: TimestampAuthority) -> None:
    """Entries are tried in order; an entry whose validFor excludes genTime does not stop the next."""
    der = tsa.timestamp(SIG, at=AT)
    old = tsa.certificate_authority(valid_from=AT - dt.timedelta(days=9), valid_until=AT - SECOND, uri="https://old.test")
    new = tsa.certificate_authority(valid_from=AT, uri="https://new.test")
    assert verify_signed_timestamp(der, SIG, [old, new]).authority_uri == "https://new.test"


def test_validity_outranks_untrusted_from_other_authorities(
    tsa: TimestampAuthority, other_tsa: TimestampAuthority
) -> None:
    """The TSA that signed says more ("not valid then") than the ones that did not."""
    der = tsa.timestamp(SIG, at=AT)
    err = _rejects(
        Reason.TSA_VALIDITY,
        der,
        [other_tsa.certificate_authority(uri="https://o.test"), tsa.certificate_authority(valid_from=AT + SECOND)],
    )
    assert err.context["authority_uri"] == tsa.uri


# ------------------------------------------------------------------------------- row 37: weak hash


def test_sha1_imprint_is_weak(tsa: TimestampAuthority) -> None:
    der = tsa.timestamp(SIG, at=AT, hash_name="sha1")
    err = _rejects(Reason.TSA_WEAK_HASH, der, [tsa.certificate_authority()])
    assert err.context["hash_algorithm"] == "sha1"


def test_sha1_cms_digest_is_weak(make_tsa: Any) -> None:
    authority = make_tsa(engine="python")
    der = authority.python_timestamp(SIG, at=AT, digest_name="sha1")
    _rejects(Reason.TSA_WEAK_HASH, der, [authority.certificate_authority()])


# ------------------------------------------------------------------------------- row 38: leaf profile


@pytest.mark.parametrize(
    "fault",
    [
        {"leaf_eku_critical": False},
        {"leaf_extra_eku": True},
        {"leaf_without_eku": True},
        {"leaf_is_ca": True},
    ],
    ids=["eku-not-critical", "extra-eku", "no-eku", "ca-leaf"],
)
@pytest.mark.parametrize("embed_cert", [True, False], ids=["embedded", "not-embedded"])
def test_leaf_profile_faults_are_untrusted(make_tsa: Any, fault: dict[str, Any], embed_cert: bool) -> None:
    authority = make_tsa(**fault)
    der = authority.timestamp(SIG, at=AT, embed_cert=embed_cert)
    _rejects(Reason.TSA_UNTRUSTED, der, [authority.certificate_authority()])


def test_intermediate_eku_without_timestamping_is_untrusted(make_tsa: Any) -> None:
    authority = make_tsa(intermediate=True, intermediate_eku=(ExtendedKeyUsageOID.CODE_SIGNING,))
    err = _rejects(Reason.TSA_UNTRUSTED, authority.timestamp(SIG, at=AT), [authority.certificate_authority()])
    assert "extendedKeyUsage" in err.detail


# ------------------------------------------------------------------------------- row 39: duplicates, limits


def test_duplicate_token(tsa: TimestampAuthority) -> None:
    der = tsa.timestamp(SIG, at=AT)
    with pytest.raises(VerificationError) as info:
        verify_timestamps([der, der], SIG, [tsa.certificate_authority()])
    assert info.value.reason is Reason.TSA_DUPLICATE
    assert info.value.context == {"index": 1, "first_index": 0}


def test_too_many_timestamps(tsa: TimestampAuthority) -> None:
    with pytest.raises(InputError) as info:
        verify_timestamps([bytes([i]) for i in range(MAX_TIMESTAMPS + 1)], SIG, [tsa.certificate_authority()])
    assert info.value.reason is Reason.INPUT_TOO_LARGE


def test_verify_timestamps_counts_one_per_tsa_and_collects_failures(
    tsa: TimestampAuthority, other_tsa: TimestampAuthority, make_tsa: Any
) -> None:
    second = make_tsa(uri="https://second.test/tsa")
    tokens = [
        tsa.timestamp(SIG, at=AT),
        other_tsa.timestamp(SIG, at=AT),  # untrusted: collected
        tsa.timestamp(SIG, at=AT + SECOND),  # same TSA again: not counted twice
        second.timestamp(SIG, at=AT),
        b"garbage",
    ]
    verified, failures = verify_timestamps(tokens, SIG, [tsa.certificate_authority(), second.certificate_authority()])
    assert [(v.authority_uri, v.time) for v in verified] == [(tsa.uri, AT), (second.uri, AT)]
    assert [(e.reason, e.context["index"]) for e in failures] == [
        (Reason.TSA_UNTRUSTED, 1),
        (Reason.TSA_INVALID, 4),
    ]


def test_verify_timestamps_dedups_by_operator(tsa: TimestampAuthority, make_tsa: Any) -> None:
    second = make_tsa(uri="https://second.test/tsa")
    authorities = [tsa.certificate_authority(operator="op"), second.certificate_authority(operator="op")]
    verified, failures = verify_timestamps(
        [tsa.timestamp(SIG, at=AT), second.timestamp(SIG, at=AT)], SIG, authorities
    )
    assert len(verified) == 1 and failures == []


def test_verify_timestamps_empty(tsa: TimestampAuthority) -> None:
    assert verify_timestamps([], SIG, [tsa.certificate_authority()]) == ([], [])


# ------------------------------------------------------------------------------- malformed / CMS


@pytest.mark.parametrize("der", [b"", b"\x00", b"garbage", b"\x30\x03\x02\x01\x00", b"\x30\x80\x00\x00"])
def test_garbage_is_invalid(tsa: TimestampAuthority, der: bytes) -> None:
    _rejects(Reason.TSA_INVALID, der, [tsa.certificate_authority()])


def test_trailing_bytes_are_invalid(tsa: TimestampAuthority) -> None:
    _rejects(Reason.TSA_INVALID, tsa.timestamp(SIG, at=AT) + b"\x00", [tsa.certificate_authority()])


def test_status_not_granted_from_openssl(tsa: TimestampAuthority) -> None:
    """openssl ts -reply refuses a digest outside its `digests` list with status rejection."""
    der = tsa.timestamp(SIG, at=AT, hash_name="sha224")
    err = _rejects(Reason.TSA_INVALID, der, [tsa.certificate_authority()])
    assert err.context["status"] == "rejection"
    assert err.context["fail_info"] == ["bad_alg"]


@pytest.mark.parametrize("status", ["rejection", "waiting", "revocation_warning"])
def test_status_not_granted(make_tsa: Any, status: str) -> None:
    authority = make_tsa(engine="python")
    der = authority.python_timestamp(SIG, at=AT, status=status)
    err = _rejects(Reason.TSA_INVALID, der, [authority.certificate_authority()])
    assert err.context["status"] == status


def test_tampered_tstinfo_fails_message_digest(tsa: TimestampAuthority) -> None:
    from asn1crypto import cms, tsp

    def later_gen_time(signed_data: Any) -> None:
        tst = tsp.TSTInfo.load(bytes(signed_data["encap_content_info"]["content"]))
        tst["gen_time"] = AT + dt.timedelta(days=365)
        signed_data["encap_content_info"]["content"] = cms.ParsableOctetString(tst.dump(force=True))

    der = _mutate_token(tsa.timestamp(SIG, at=AT), later_gen_time)
    err = _rejects(Reason.TSA_INVALID, der, [tsa.certificate_authority()])
    assert "message-digest" in err.detail


@pytest.mark.parametrize("embed_cert", [True, False], ids=["embedded", "not-embedded"])
def test_tampered_signature(tsa: TimestampAuthority, embed_cert: bool) -> None:
    def flip(signed_data: Any) -> None:
        si = signed_data["signer_infos"][0]
        sig = bytearray(si["signature"].native)
        sig[-1] ^= 0x01
        si["signature"] = bytes(sig)

    der = _mutate_token(tsa.timestamp(SIG, at=AT, embed_cert=embed_cert), flip)
    # With an embedded signer the token is self-inconsistent; without one, the trusted leaf's
    # key does not verify it, so no trusted TSA vouches for it.
    expected = Reason.TSA_INVALID if embed_cert else Reason.TSA_UNTRUSTED
    _rejects(expected, der, [tsa.certificate_authority()])


def test_tampered_signed_attribute(tsa: TimestampAuthority) -> None:
    from asn1crypto import cms

    def new_signing_time(signed_data: Any) -> None:
        for attr in signed_data["signer_infos"][0]["signed_attrs"]:
            if attr["type"].native == "signing_time":
                attr["values"] = [cms.Time({"utc_time": AT + dt.timedelta(days=1)})]

    der = _mutate_token(tsa.timestamp(SIG, at=AT), new_signing_time)
    _rejects(Reason.TSA_INVALID, der, [tsa.certificate_authority()])


@pytest.mark.parametrize(
    "fault",
    [
        {"content_type_attr": None},
        {"content_type_attr": "1.2.840.113549.1.7.1"},
        {"omit_message_digest": True},
        {"message_digest": b"\x00" * 32},
    ],
    ids=["no-content-type", "content-type-data", "no-message-digest", "wrong-message-digest"],
)
def test_signed_attribute_faults(make_tsa: Any, fault: dict[str, Any]) -> None:
    authority = make_tsa(engine="python")
    der = authority.python_timestamp(SIG, at=AT, **fault)
    _rejects(Reason.TSA_INVALID, der, [authority.certificate_authority()])


def test_two_signer_infos_are_invalid(tsa: TimestampAuthority) -> None:
    def duplicate(signed_data: Any) -> None:
        si = signed_data["signer_infos"][0]
        signed_data["signer_infos"] = [si, si.copy()]

    der = _mutate_token(tsa.timestamp(SIG, at=AT), duplicate)
    err = _rejects(Reason.TSA_INVALID, der, [tsa.certificate_authority()])
    assert err.context["signer_infos"] == 2


def test_wrong_econtent_type_is_invalid(tsa: TimestampAuthority) -> None:
    def as_data(signed_data: Any) -> None:
        signed_data["encap_content_info"]["content_type"] = "data"

    der = _mutate_token(tsa.timestamp(SIG, at=AT), as_data)
    _rejects(Reason.TSA_INVALID, der, [tsa.certificate_authority()])


# ------------------------------------------------------------------------------- reuse / cost


def test_trusted_material_is_cached(tsa: TimestampAuthority) -> None:
    ca = tsa.certificate_authority()
    der = tsa.timestamp(SIG, at=AT)
    verify_signed_timestamp(der, SIG, [ca])
    before = tsa_mod._material.cache_info().hits
    verify_signed_timestamp(der, SIG, [tsa.certificate_authority()])  # equal DER, new object
    assert tsa_mod._material.cache_info().hits > before


@pytest.mark.subprocess  # the import set of a fresh interpreter
def test_module_does_not_import_asn1crypto_eagerly() -> None:
    import subprocess
    import sys

    code = "import sys, verifier._internal.tsa.verify; print('asn1crypto.tsp' in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------------- loopback TSA


@pytest.mark.loopback
def test_serve_tsa_round_trip(tsa: TimestampAuthority) -> None:
    import hashlib
    import urllib.request

    from asn1crypto import tsp

    query = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": hashlib.sha256(SIG).digest()},
            "cert_req": True,
        }
    ).dump()
    with serve_tsa(tsa, at=AT) as server:
        request = urllib.request.Request(
            server.url, data=query, headers={"Content-Type": "application/timestamp-query"}, method="POST"
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.headers["Content-Type"] == "application/timestamp-reply"
            der = response.read()
        assert server.requests == [query]
    assert verify_signed_timestamp(der, SIG, [tsa.certificate_authority()]).time == AT


# ------------------------------------------------------------------------------- property


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=2048))
def test_arbitrary_bytes_only_raise_reason_coded_errors(tsa: TimestampAuthority, data: bytes) -> None:
    ca = tsa.certificate_authority()
    try:
        verify_signed_timestamp(data, SIG, [ca])
    except (VerificationError, InputError):
        pass


@pytest.fixture(scope="module")
def good_token(tsa: TimestampAuthority) -> bytes:
    return tsa.timestamp(SIG, at=AT)


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")  # mutated serials
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255))
def test_mutated_token_never_raises_unexpected(
    tsa: TimestampAuthority, good_token: bytes, position: int, value: int
) -> None:
    ca = tsa.certificate_authority()
    mutated = bytearray(good_token)
    mutated[position % len(mutated)] = value
    try:
        result = verify_signed_timestamp(bytes(mutated), SIG, [ca])
    except (VerificationError, InputError):
        return
    # A byte outside the signed content (e.g. in the embedded certificate set) may change
    # without effect; anything that verifies must still say what the TSA signed.
    assert result.time == AT


# ------------------------------------------------------------------------------- conformance data

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CASES = SHARED / "conformance" / "cases"


def _case_inputs(name: str) -> tuple[bytes, bytes, Any]:
    case = CASES / name
    if not case.is_dir():
        pytest.skip(f"conformance case {name} not found under {CASES}")
    bundle = json.loads((case / "bundle.sigstore.json").read_text())
    root_bytes = (case / "trusted_root.json").read_bytes()
    if "messageSignature" in bundle:
        signature = base64.b64decode(bundle["messageSignature"]["signature"])
    else:
        signature = base64.b64decode(bundle["dsseEnvelope"]["signatures"][0]["sig"])
    stamps = bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"]
    der = base64.b64decode(stamps[0]["signedTimestamp"])
    try:
        from verifier._internal.trustroot.load import load_trusted_root
    except ImportError:
        authorities = [entry_to_certificate_authority(e) for e in json.loads(root_bytes)["timestampAuthorities"]]
    else:
        authorities = list(load_trusted_root(root_bytes).timestamp_authorities)
    return der, signature, authorities


needs_shared = pytest.mark.skipif(
    not CASES.is_dir(), reason=f"conformance cases not present at {CASES} (shared folder beside the repo)"
)


@needs_shared
@pytest.mark.shared
@pytest.mark.parametrize(
    "name",
    [
        "rekor2-timestamp-with-embedded-cert",
        "rekor2-timestamp-without-embedded-cert",
        "rekor2-timestamp-with-expired-cert-chain",
        "trust-root-tsa-validity-end-inclusive",
    ],
)
def test_conformance_pass(name: str) -> None:
    der, signature, authorities = _case_inputs(name)
    result = verify_signed_timestamp(der, signature, authorities)
    assert result.time.tzinfo is not None
    if name == "trust-root-tsa-validity-end-inclusive":
        assert result.time == authorities[0].valid_for.end


@needs_shared
@pytest.mark.shared
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("rekor2-timestamp-payload-mismatch_fail", Reason.TSA_IMPRINT_MISMATCH),
        ("rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail", Reason.TSA_UNTRUSTED),
        ("rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail", Reason.TSA_UNTRUSTED),
        ("rekor2-timestamp-outside-trust-root-tsa-validity_fail", Reason.TSA_VALIDITY),
        ("rekor2-timestamp-outside-tsa-cert-validity_fail", Reason.TSA_VALIDITY),
    ],
)
def test_conformance_fail(name: str, reason: Reason) -> None:
    der, signature, authorities = _case_inputs(name)
    _rejects(reason, der, authorities, signature)
