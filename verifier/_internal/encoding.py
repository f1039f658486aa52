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

from verifier.errors import InputError, Reason

_B64_RE = re.compile(rb"\A(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z")
_INT_RE = re.compile(r"\A-?(?:0|[1-9][0-9]*)\Z")


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


def load_json_object(data: bytes, *, what: str, reason: Reason = Reason.BUNDLE_MALFORMED_JSON) -> dict[str, Any]:
    """Parse bytes as one JSON object, refusing duplicate keys, NaN and trailing data."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(reason, f"{what} is not UTF-8 text") from exc
    try:
        obj = json.loads(text, object_pairs_hook=_pairs_no_duplicates, parse_constant=_reject_constant)
    except _DuplicateKeyError as exc:
        raise InputError(reason, f"{what} has a duplicate JSON key {str(exc)!r}") from exc
    except (ValueError, RecursionError) as exc:
        raise InputError(reason, f"{what} is not valid JSON ({_short(exc)})") from exc
    if not isinstance(obj, dict):
        raise InputError(reason, f"{what} must be a JSON object")
    return obj


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) < 120 else text[:117] + "..."


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
    """Standard alphabet, padded, no whitespace (docs/verification.md A1)."""
    if not isinstance(value, str):
        raise InputError(Reason.BUNDLE_BAD_BASE64, f"{what} must be a base64 string")
    raw = value.encode("ascii", "replace")
    if not _B64_RE.match(raw):
        raise InputError(Reason.BUNDLE_BAD_BASE64, f"{what} is not standard padded base64")
    try:
        return base64.b64decode(raw, validate=True)
    except binascii.Error as exc:  # pragma: no cover - the regexp already guards this
        raise InputError(Reason.BUNDLE_BAD_BASE64, f"{what} is not valid base64") from exc


def decode_int64(value: Any, what: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool):
        raise InputError(Reason.BUNDLE_BAD_INTEGER, f"{what} must be an integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INT_RE.match(value):
        number = int(value)
    else:
        raise InputError(Reason.BUNDLE_BAD_INTEGER, f"{what} must be a decimal integer")
    if number < minimum or number > 2**63 - 1:
        raise InputError(Reason.BUNDLE_BAD_INTEGER, f"{what} is out of range ({number})")
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
    "load_json_object",
    "pae",
]
