"""RFC 7512 URI parsing and formatting (pure: no token needed)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hsm.uri import OBJECT_TYPES, Pkcs11Uri, parse_uri
from verifier.errors import HsmError, Reason

# RFC 7512 section 3.3 examples (the vendor-attribute one is in the refusal tests below).
RFC_EXAMPLES = {
    "pkcs11:": Pkcs11Uri(),
    "pkcs11:object=my-pubkey;type=public": Pkcs11Uri(object="my-pubkey", type="public"),
    "pkcs11:object=my-key;type=private?pin-source=file:/etc/token": Pkcs11Uri(
        object="my-key", type="private", pin_source="file:/etc/token"
    ),
    "pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;"
    "model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial="
    "?pin-source=file:/etc/token_pin": Pkcs11Uri(
        token="The Software PKCS#11 Softtoken",
        manufacturer="Snake Oil, Inc.",
        model="1.0",
        object="my-certificate",
        type="cert",
        id=bytes.fromhex("69953e5cf4bdec91"),
        serial="",
        pin_source="file:/etc/token_pin",
    ),
    "pkcs11:object=my-sign-key;type=private?module-name=mypkcs11": Pkcs11Uri(
        object="my-sign-key", type="private", module_name="mypkcs11"
    ),
    "pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1": Pkcs11Uri(
        object="my-sign-key", type="private", module_path="/mnt/libmypkcs11.so.1"
    ),
    "pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin": Pkcs11Uri(
        token="Software PKCS#11 softtoken", manufacturer="Snake Oil, Inc.", pin_value="the-pin"
    ),
    "pkcs11:slot-description=Sun%20Metaslot": Pkcs11Uri(slot_description="Sun Metaslot"),
    "pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;"
    "library-version=1.23": Pkcs11Uri(
        library_manufacturer="Snake Oil, Inc.", library_description="Soft Token Library", library_version="1.23"
    ),
    "pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert": Pkcs11Uri(
        token="A name with a substring %;", object="my-certificate", type="cert"
    ),
    "pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=cert": Pkcs11Uri(
        token="Name with a small A with acute: \u00e1", object="my-certificate", type="cert"
    ),
}


@pytest.mark.parametrize("text", list(RFC_EXAMPLES))
def test_rfc7512_examples_parse(text: str) -> None:
    assert parse_uri(text) == RFC_EXAMPLES[text]


@pytest.mark.parametrize("text", list(RFC_EXAMPLES))
def test_rfc7512_examples_round_trip(text: str) -> None:
    parsed = parse_uri(text)
    assert parse_uri(parsed.format()) == parsed


def test_plus_is_a_literal_plus_both_ways() -> None:
    uri = parse_uri("pkcs11:object=a+b%2Bc")
    assert uri.object == "a+b+c"
    assert parse_uri(uri.format()).object == "a+b+c"


def test_id_is_bytes_and_hex_case_does_not_matter() -> None:
    uri = parse_uri("pkcs11:id=%01%02%03%Ba%dd%Ef%fe")
    assert uri.id == bytes.fromhex("010203baddeffe")
    assert uri.format() == "pkcs11:id=%01%02%03%BA%DD%EF%FE"


def test_slot_id_is_an_integer() -> None:
    assert parse_uri("pkcs11:slot-id=1391541827").slot_id == 1391541827


def test_attribute_names_are_case_insensitive_scheme_too() -> None:
    assert parse_uri("PKCS11:Token=t;OBJECT=k") == Pkcs11Uri(token="t", object="k")


def test_display_never_carries_pin_value() -> None:
    uri = parse_uri("pkcs11:token=t;object=k?pin-value=s3cret-pin&module-path=/m.so")
    assert uri.pin_value == "s3cret-pin"
    assert "s3cret" not in uri.display()
    assert "s3cret" not in str(uri)
    assert "s3cret" not in repr(uri)
    assert "pin-value=s3cret-pin" in uri.format()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("http://example.com", "starts with 'pkcs11:'"),
        ("pkcs11:vendor-aaa=value-a", "unknown path attribute 'vendor-aaa'"),
        # RFC 7512 3.3's vendor example: airseal refuses vendor attributes instead of ignoring them.
        ("pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a"
         "?pin-source=file:/etc/token_pin&vendor-bbb=value-b", "unknown path attribute"),
        ("pkcs11:token=t?pin-sorce=/x", "unknown query attribute 'pin-sorce'"),
        ("pkcs11:token", "has no '=value'"),
        ("pkcs11:token=a;token=b", "more than once"),
        ("pkcs11:token=a%2", "percent-encoded"),
        ("pkcs11:token=a%zz", "percent-encoded"),
        ("pkcs11:token=a b", "percent-encoded"),
        ("pkcs11:token=%FF%FE", "not UTF-8"),
        ("pkcs11:slot-id=abc", "decimal"),
        ("pkcs11:type=secret", "type must be one of"),
        ("pkcs11:library-version=1.2.3", "library-version"),
        ("pkcs11:token=a#frag", "fragment"),
    ],
)
def test_refusals(text: str, fragment: str) -> None:
    with pytest.raises(HsmError) as info:
        parse_uri(text)
    assert info.value.reason is Reason.HSM_URI_INVALID
    assert fragment in info.value.detail
    assert info.value.exit_code == 5


def test_bad_pin_value_is_not_echoed() -> None:
    with pytest.raises(HsmError) as info:
        parse_uri("pkcs11:token=t?pin-value=sec ret%zz")
    assert "sec" not in str(info.value)


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@st.composite
def uris(draw: st.DrawFn) -> Pkcs11Uri:
    maybe = lambda strat: draw(st.none() | strat)  # noqa: E731
    return Pkcs11Uri(
        token=maybe(_text),
        manufacturer=maybe(_text),
        serial=maybe(_text),
        model=maybe(_text),
        library_manufacturer=maybe(_text),
        library_description=maybe(_text),
        library_version=maybe(st.from_regex(r"\A[0-9]{1,4}(\.[0-9]{1,4})?\Z")),
        slot_id=maybe(st.integers(min_value=0, max_value=2**64 - 1)),
        slot_description=maybe(_text),
        slot_manufacturer=maybe(_text),
        object=maybe(_text),
        id=maybe(st.binary(max_size=20)),
        type=maybe(st.sampled_from(sorted(OBJECT_TYPES))),
        module_path=maybe(_text),
        module_name=maybe(_text),
        pin_source=maybe(_text),
        pin_value=maybe(_text),
    )


@given(uris())
@settings(max_examples=300, deadline=None)
def test_parse_inverts_format(uri: Pkcs11Uri) -> None:
    assert parse_uri(uri.format()) == uri
    assert parse_uri(uri.display()) == uri.without_pin()


_uri_chars = st.sampled_from(list("abcXYZ019-._~:[]@!$'()*+,=&;?/|%# \u00e1") + ["%41", "%3B", "%zz", "token=", "id=", "object=", "slot-id=", "type=cert", "pin-value=", "library-version="])


@given(st.lists(_uri_chars, max_size=25).map("".join))
@settings(max_examples=500, deadline=None)
def test_parse_only_raises_hsm_error_and_format_is_stable(tail: str) -> None:
    for text in ("pkcs11:" + tail, tail):
        try:
            parsed = parse_uri(text)
        except HsmError as err:
            assert err.reason is Reason.HSM_URI_INVALID
            continue
        once = parsed.format()
        assert parse_uri(once).format() == once


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_arbitrary_text_only_raises_hsm_error(text: str) -> None:
    try:
        parse_uri("pkcs11:" + text)
    except HsmError:
        pass
