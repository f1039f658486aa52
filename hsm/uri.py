"""RFC 7512 `pkcs11:` URIs: parse and format. Pure: no pkcs11 import, no I/O.

A URI names a module (query `module-path` / `module-name`), a token (path attributes
`token`, `serial`, `model`, `manufacturer`, `slot-*`, `library-*`) and an object (`object`
label, `id` bytes, `type`). Values are percent-decoded; `+` is a literal plus (RFC 7512
section 2.3, unlike HTML forms). Attributes outside the RFC's list are refused rather than
ignored, so a typo such as `lable=` cannot silently select a different key.

A PIN can travel in a URI (`pin-value`); `display()` and `str()` always drop it, and the
dataclass repr hides it, so a URI that airseal prints never carries a PIN.
"""

from __future__ import annotations

import dataclasses
import re
import string
from dataclasses import dataclass
from typing import NoReturn

from verifier.errors import HsmError, Reason

SCHEME = "pkcs11:"

# Path attribute name -> dataclass field; this order (token first, id last) is the format order.
_PATH_ATTRS: dict[str, str] = {
    "token": "token",
    "manufacturer": "manufacturer",
    "serial": "serial",
    "model": "model",
    "library-manufacturer": "library_manufacturer",
    "library-description": "library_description",
    "library-version": "library_version",
    "slot-id": "slot_id",
    "slot-description": "slot_description",
    "slot-manufacturer": "slot_manufacturer",
    "object": "object",
    "type": "type",
    "id": "id",
}
_QUERY_ATTRS: dict[str, str] = {
    "module-name": "module_name",
    "module-path": "module_path",
    "pin-source": "pin_source",
    "pin-value": "pin_value",
}
OBJECT_TYPES = frozenset({"public", "private", "cert", "secret-key", "data"})

# RFC 7512 section 2.3 grammar: characters a value may carry without percent-encoding.
_UNRESERVED = string.ascii_letters + string.digits + "-._~"
_RES_AVAIL = ":[]@!$'()*+,="
_PATH_SAFE = frozenset(_UNRESERVED + _RES_AVAIL + "&")
_QUERY_SAFE = frozenset(_UNRESERVED + _RES_AVAIL + "/?|")
_PCT = re.compile(r"%[0-9A-Fa-f]{2}")
_VERSION = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,9})?$")


@dataclass(frozen=True)
class Pkcs11Uri:
    """A parsed `pkcs11:` URI. Every field is optional; `None` means "not given"."""

    token: str | None = None
    manufacturer: str | None = None
    serial: str | None = None
    model: str | None = None
    library_manufacturer: str | None = None
    library_description: str | None = None
    library_version: str | None = None
    slot_id: int | None = None
    slot_description: str | None = None
    slot_manufacturer: str | None = None
    object: str | None = None
    id: bytes | None = None
    """CKA_ID: raw bytes, shown percent-encoded byte by byte."""
    type: str | None = None
    module_path: str | None = None
    module_name: str | None = None
    pin_source: str | None = None
    pin_value: str | None = dataclasses.field(default=None, repr=False)
    """A PIN inside the URI. Works, but the CLI warns: it ends up in shell history."""

    def format(self) -> str:
        """The full URI, including `pin-value` if present. Never print this: use display()."""
        return _format(self, include_pin=True)

    def display(self) -> str:
        """The URI without `pin-value`: the only form airseal prints or logs."""
        return _format(self, include_pin=False)

    def __str__(self) -> str:
        return self.display()

    def without_pin(self) -> Pkcs11Uri:
        return dataclasses.replace(self, pin_value=None)

    def token_part(self) -> Pkcs11Uri:
        """Only the attributes that pick a module and token (drops object selection and PIN)."""
        return dataclasses.replace(self, object=None, id=None, type=None, pin_value=None)


def parse_uri(text: str) -> Pkcs11Uri:
    """Parse an RFC 7512 URI.

    Raises:
        HsmError: `hsm.uri_invalid` for anything that is not a well-formed pkcs11: URI with
            known attributes. The message never repeats a `pin-value`.
    """
    if not isinstance(text, str) or text[: len(SCHEME)].lower() != SCHEME:
        _bad("a PKCS#11 URI starts with 'pkcs11:', e.g. pkcs11:token=release;object=signing-key")
    rest = text[len(SCHEME) :]
    path, _, query = rest.partition("?")
    if "#" in rest:
        _bad("a PKCS#11 URI has no fragment ('#'); percent-encode it as %23")
    values: dict[str, object] = {}
    if path:
        for part in path.split(";"):
            name, value = _split_attr(part, _PATH_ATTRS, _PATH_SAFE, "path")
            values[_PATH_ATTRS[name]] = _convert(name, value)
    if query:
        for part in query.split("&"):
            name, value = _split_attr(part, _QUERY_ATTRS, _QUERY_SAFE, "query")
            values[_QUERY_ATTRS[name]] = _text(name, value)
    duplicate = _find_duplicate(path, query)
    if duplicate:
        _bad(f"attribute {duplicate!r} appears more than once")
    return Pkcs11Uri(**values)  # type: ignore[arg-type]


def _find_duplicate(path: str, query: str) -> str | None:
    seen: set[str] = set()
    names = [p.partition("=")[0].lower() for p in path.split(";") if p]
    names += [p.partition("=")[0].lower() for p in query.split("&") if p]
    for name in names:
        if name in seen:
            return name
        seen.add(name)
    return None


def _split_attr(part: str, known: dict[str, str], safe: frozenset[str], where: str) -> tuple[str, bytes]:
    if "=" not in part:
        _bad(f"{where} attribute {_shown(part)!r} has no '=value'")
    name, _, raw = part.partition("=")
    name = name.lower()
    if name not in known:
        allowed = ", ".join(known)
        _bad(f"unknown {where} attribute {_shown(name)!r}; known: {allowed}")
    if name == "pin-value":
        # Validate without ever echoing the value.
        if not _well_formed(raw, safe):
            _bad("pin-value is not correctly percent-encoded")
        return name, _pct_decode(raw)
    if not _well_formed(raw, safe):
        _bad(f"{name}: value {_shown(raw)!r} has a character that must be percent-encoded (%XX)")
    return name, _pct_decode(raw)


def _well_formed(raw: str, safe: frozenset[str]) -> bool:
    stripped = _PCT.sub("", raw)
    return all(ch in safe for ch in stripped)


def _pct_decode(raw: str) -> bytes:
    out = bytearray()
    i = 0
    while i < len(raw):
        if raw[i] == "%":
            out.append(int(raw[i + 1 : i + 3], 16))
            i += 3
        else:
            out += raw[i].encode("ascii")
            i += 1
    return bytes(out)


def _text(name: str, value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        _bad(f"{name}: value is not UTF-8 after percent-decoding")


def _convert(name: str, value: bytes) -> object:
    if name == "id":
        return value
    text = _text(name, value)
    if name == "slot-id":
        if not text.isascii() or not text.isdigit() or len(text) > 20:
            _bad(f"slot-id must be a decimal number, got {_shown(text)!r}")
        return int(text)
    if name == "type" and text not in OBJECT_TYPES:
        _bad(f"type must be one of {', '.join(sorted(OBJECT_TYPES))}, got {_shown(text)!r}")
    if name == "library-version" and not _VERSION.match(text):
        _bad(f"library-version must look like 2 or 2.40, got {_shown(text)!r}")
    return text


def _format(uri: Pkcs11Uri, *, include_pin: bool) -> str:
    path: list[str] = []
    for name, field in _PATH_ATTRS.items():
        value = getattr(uri, field)
        if value is None:
            continue
        if name == "id":
            encoded = "".join(f"%{b:02X}" for b in value)
        elif name == "slot-id":
            encoded = str(value)
        else:
            encoded = _pct_encode(value.encode("utf-8"), _PATH_SAFE - {";", "?"})
        path.append(f"{name}={encoded}")
    query: list[str] = []
    for name, field in _QUERY_ATTRS.items():
        value = getattr(uri, field)
        if value is None or (name == "pin-value" and not include_pin):
            continue
        query.append(f"{name}={_pct_encode(value.encode('utf-8'), _QUERY_SAFE - {'&'})}")
    text = SCHEME + ";".join(path)
    if query:
        text += "?" + "&".join(query)
    return text


def _pct_encode(value: bytes, safe: frozenset[str]) -> str:
    # '=' stays literal only after the first one, which parse splits on; we encode it anyway
    # so that formatted URIs read unambiguously. '%' is always encoded.
    out = []
    for b in value:
        ch = chr(b)
        if b < 0x80 and ch in safe and ch not in "=%":
            out.append(ch)
        else:
            out.append(f"%{b:02X}")
    return "".join(out)


def _shown(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _bad(message: str) -> NoReturn:
    raise HsmError(Reason.HSM_URI_INVALID, f"bad PKCS#11 URI: {message}")


__all__ = ["OBJECT_TYPES", "Pkcs11Uri", "SCHEME", "parse_uri"]
