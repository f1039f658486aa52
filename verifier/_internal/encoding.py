"""Strict decoding of protobuf-JSON pieces: JSON objects, base64, int64. Leaf module, no I/O.

Stricter than protojson on purpose (docs/verification.md A1): duplicate keys, unknown keys, URL-safe or
unpadded base64 and non-canonical integers are all refused.
"""

from __future__ import annotations

import base64
import binascii
import builtins
import json
import re
from collections.abc import Sequence
from typing import Any

from verifier.errors import AirsealError, InputError, Reason

_B64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_INT_RE = re.compile(r"\A-?(?:0|[1-9][0-9]*)\Z")
_SURROGATE_ESCAPE_RE = re.compile(rb"\\u[dD][89abcdefABCDEF]")
MAX_INT64_DIGITS = 19
"""2**63 - 1 has 19 digits: a longer decimal string is out of range before int() reads it
(and int() refuses more than 4300 digits with a ValueError of its own)."""
MAX_JSON_DEPTH = 64
"""Nesting of any JSON airseal reads; Sigstore's formats nest less than ten deep."""
MAX_JSON_VALUES = 200_000
"""Commas, objects and arrays in one JSON document (an upper bound on its values, counted on the
bytes before parsing so memory stays a small multiple of the input). Real bundles and trusted
roots hold a few hundred; a large SLSA provenance a few thousand."""
SHORTEN_CHARS = 200


class _DuplicateKeyError(ValueError):
    pass


def _pairs_no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKeyError(key)
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def load_json(
    data: bytes | str,
    *,
    what: str,
    reason: Reason = Reason.BUNDLE_MALFORMED_JSON,
    error: type[AirsealError] = InputError,
    max_depth: int = MAX_JSON_DEPTH,
    max_values: int = MAX_JSON_VALUES,
) -> Any:
    """The one strict JSON reader: every JSON document airseal reads goes through here.

    Refuses invalid UTF-8, duplicate keys, NaN/Infinity, trailing data, lone surrogates
    (`\\ud800` escapes, which no UTF-8 text can carry), nesting deeper than `max_depth`, and
    more than `max_values` commas/objects/arrays (counted on the bytes before parsing, so a
    document of millions of tiny values is refused before it costs memory). Raises `error`
    (InputError by default) with `reason`; too many values is `input.too_large`.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    containers = raw.count(b"{") + raw.count(b"[")
    if containers + raw.count(b",") > max_values:
        raise InputError(Reason.INPUT_TOO_LARGE, f"{what} has more than {max_values} JSON values")
    if isinstance(data, str):
        text = data
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(reason, f"{what} is not UTF-8 text") from exc
    try:
        obj = json.loads(text, object_pairs_hook=_pairs_no_duplicates, parse_constant=_reject_constant)
    except _DuplicateKeyError as exc:
        raise error(reason, f"{what} has a duplicate JSON key {shorten(str(exc))!r}") from exc
    except RecursionError as exc:
        raise error(reason, f"{what} nests JSON deeper than {max_depth} levels") from exc
    except ValueError as exc:
        raise error(reason, f"{what} is not valid JSON ({shorten(str(exc), 120)})") from exc
    surrogates = _SURROGATE_ESCAPE_RE.search(raw) is not None
    if containers > max_depth or surrogates:
        _check_tree(obj, what=what, reason=reason, error=error, max_depth=max_depth, surrogates=surrogates)
    return obj


def _check_tree(obj: Any, *, what: str, reason: Reason, error: type[AirsealError], max_depth: int, surrogates: bool) -> None:
    """Depth and lone surrogates, walked without recursion (the value count bounds the walk)."""
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            if depth > max_depth:
                raise error(reason, f"{what} nests JSON deeper than {max_depth} levels")
            for key, item in value.items():
                if surrogates:
                    _check_text(key, what, reason, error)
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            if depth > max_depth:
                raise error(reason, f"{what} nests JSON deeper than {max_depth} levels")
            stack.extend((item, depth + 1) for item in value)
        elif surrogates and isinstance(value, str):
            _check_text(value, what, reason, error)


def _check_text(text: str, what: str, reason: Reason, error: type[AirsealError]) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise error(reason, f"{what} has a string with a lone surrogate (\\u{ord(text[exc.start]):04x})") from exc


def load_json_object(data: bytes, *, what: str, reason: Reason = Reason.BUNDLE_MALFORMED_JSON) -> dict[str, Any]:
    """Parse bytes as one JSON object with `load_json`'s rules."""
    obj = load_json(data, what=what, reason=reason)
    if not isinstance(obj, dict):
        raise InputError(reason, f"{what} must be a JSON object")
    return obj


def shorten(value: Any, max_chars: int = SHORTEN_CHARS) -> str:
    """`value` as text for a message or JSON context, cut to `max_chars` with the original length.

    The one helper for echoing input back: a 1 MB field becomes its first characters and
    "... (1048576 characters)". Unencodable characters (lone surrogates) are escaped.
    """
    text = value if isinstance(value, str) else repr(value)
    if len(text) > max_chars:
        text = f"{text[:max_chars]}... ({len(text)} characters)"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def size_text(nbytes: int) -> str:
    """A byte cap for a person: "16 MiB", "512000 bytes"."""
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if nbytes >= size and nbytes % size == 0:
            return f"{nbytes // size} {unit}"
    return f"{nbytes} bytes"


def check_text(value: str, what: str, reason: Reason = Reason.BUNDLE_MALFORMED_JSON, error: type[AirsealError] = InputError) -> str:
    """Return `value` if it can be written as UTF-8 (no lone surrogates), else raise `error`."""
    _check_text(value, what, reason, error)
    return value


class Obj:
    """A view of one JSON object that refuses unknown keys and wrong types.

    `path` names the object in error messages ("verificationMaterial.tlogEntries[0]").
    """

    __slots__ = ("_data", "_reason", "path")

    def __init__(self, data: Any, path: str, allowed: Sequence[str], reason: Reason = Reason.BUNDLE_MALFORMED_JSON):
        if not isinstance(data, dict):
            raise InputError(reason, f"{path} must be a JSON object")
        unknown = sorted(set(data) - set(allowed))
        if unknown:
            raise InputError(reason, f"{path} has unknown field {unknown[0]!r}")
        self._data = data
        self.path = path
        self._reason = reason

    def has(self, key: str) -> bool:
        return self._data.get(key) is not None

    def raw(self, key: str) -> Any:
        return self._data.get(key)

    def _fail(self, key: str, message: str, reason: Reason | None = None) -> InputError:
        return InputError(reason or self._reason, f"{self.path}.{key} {message}")

    def obj(self, key: str, allowed: Sequence[str], *, required: bool = True) -> Obj | None:
        value = self._data.get(key)
        if value is None:
            if required:
                raise self._fail(key, "is missing", Reason.BUNDLE_MISSING_MATERIAL)
            return None
        return Obj(value, f"{self.path}.{key}", allowed, self._reason)

    def str(self, key: str, *, required: bool = True, default: str = "") -> str:
        value = self._data.get(key)
        if value is None:
            if required:
                raise self._fail(key, "is missing", Reason.BUNDLE_MISSING_MATERIAL)
            return default
        if not isinstance(value, str):
            raise self._fail(key, "must be a string")
        return value

    def bytes(self, key: builtins.str, *, required: bool = True) -> builtins.bytes:
        value = self._data.get(key)
        if value is None:
            if required:
                raise self._fail(key, "is missing", Reason.BUNDLE_MISSING_MATERIAL)
            return b""
        return decode_b64(value, f"{self.path}.{key}")

    def int(self, key: builtins.str, *, required: bool = True, default: builtins.int = 0, minimum: builtins.int = 0) -> builtins.int:
        value = self._data.get(key)
        if value is None:
            if required:
                raise self._fail(key, "is missing", Reason.BUNDLE_MISSING_MATERIAL)
            return default
        return decode_int64(value, f"{self.path}.{key}", minimum=minimum)

    def list(self, key: builtins.str, *, max_items: builtins.int | None = None) -> builtins.list[Any]:
        value = self._data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._fail(key, "must be a JSON array")
        if any(item is None for item in value):
            raise self._fail(key, "must not contain null")
        if max_items is not None and len(value) > max_items:
            raise InputError(Reason.INPUT_TOO_LARGE, f"{self.path}.{key} has {len(value)} items (at most {max_items})")
        return value

    def objs(
        self, key: builtins.str, allowed: Sequence[builtins.str], *, max_items: builtins.int | None = None
    ) -> builtins.list[Obj]:
        return [
            Obj(item, f"{self.path}.{key}[{i}]", allowed, self._reason)
            for i, item in enumerate(self.list(key, max_items=max_items))
        ]


def decode_b64(value: Any, what: str) -> bytes:
    """Standard alphabet, padded, no whitespace (docs/verification.md A1).

    Checked with bytes.translate and binascii, never a regular expression over the whole value:
    memory stays a small multiple of the field's size (a 16 MiB field costs a few copies).
    """
    if not isinstance(value, str):
        raise InputError(Reason.BUNDLE_BAD_BASE64, f"{what} must be a base64 string")
    if not value.isascii() or len(value) % 4:
        raise InputError(Reason.BUNDLE_BAD_BASE64, f"{what} is not standard padded base64")
    raw = value.encode("ascii")
    rest = raw.translate(None, _B64_ALPHABET)  # every character outside the alphabet, in order
    if rest not in (b"", b"=", b"==") or not raw.endswith(rest):
        raise InputError(Reason.BUNDLE_BAD_BASE64, f"{what} is not standard padded base64")
    try:
        return base64.b64decode(raw, validate=True)
    except binascii.Error as exc:  # pragma: no cover - the checks above already guard this
        raise InputError(Reason.BUNDLE_BAD_BASE64, f"{what} is not standard padded base64") from exc


def decode_int64(value: Any, what: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool):
        raise InputError(Reason.BUNDLE_BAD_INTEGER, f"{what} must be an integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and len(value.lstrip("-")) > MAX_INT64_DIGITS:
        raise InputError(Reason.BUNDLE_BAD_INTEGER, f"{what} is out of range ({len(value)} characters)")
    elif isinstance(value, str) and _INT_RE.match(value):
        number = int(value)
    else:
        raise InputError(Reason.BUNDLE_BAD_INTEGER, f"{what} must be a decimal integer")
    if number < minimum or number > 2**63 - 1:
        raise InputError(Reason.BUNDLE_BAD_INTEGER, f"{what} is out of range ({shorten(str(number), 40)})")
    return number


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: "DSSEv1" SP len(type) SP type SP len(body) SP body."""
    t = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def canonical_json(obj: Any) -> bytes:
    """RFC 8785 (JCS) for the shapes we sign/compare: strings, ints, lists, objects.

    Python's json with sorted keys and no spaces matches JCS for these, provided strings are
    emitted without ASCII-escaping (JCS keeps non-ASCII as UTF-8) and no floats occur.
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


__all__: list[str] = [
    "Obj",
    "b64",
    "canonical_json",
    "decode_b64",
    "decode_int64",
    "check_text",
    "load_json",
    "load_json_object",
    "shorten",
    "size_text",
    "pae",
]
