"""`Record`: airseal's base for immutable records, a `typing.NamedTuple` that costs less to define.

Type checkers see `typing.NamedTuple` itself (fields, constructor, `_replace`, `_asdict`). At
run time the class statement goes to `collections.namedtuple` directly. Why: every module here
has postponed annotations, so each field's annotation is a string, and `typing.NamedTuple`
turns each string into a `ForwardRef`, which compiles it: about 57,000 instructions a field.
The records on the path of one cold `airseal verify` have about 170 fields; moving them to
`Record` saved 18.9 M instructions (about 4 ms of a start-up of about 75 ms), all spent on type
information nothing reads at run time. The annotations are kept, as strings, in `__annotations__`, so
`typing.get_type_hints` still resolves them.

What a class statement may hold is what `typing.NamedTuple` allows: annotated fields (those
with a default after those without), methods, properties, class-level constants without an
annotation, and a docstring. `tests/unit/verifier/test_record.py` holds the two to the same
behaviour.
"""

from __future__ import annotations

import collections
from typing import TYPE_CHECKING, Any

_NAMEDTUPLE_OWN = frozenset(("__annotations__", "__module__", "__qualname__", "__slots__"))
"""Class-body names the metaclass consumes instead of copying onto the record."""

_RESERVED = frozenset(("__new__", "__init__", "__getnewargs__", "_make", "_fields", "_field_defaults", "_replace", "_asdict", "_source"))
"""Names a record may not redefine, as `typing.NamedTuple` refuses them."""


class _RecordMeta(type):
    def __new__(mcls, typename: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> Any:
        if not bases:  # the `Record` base itself
            return super().__new__(mcls, typename, bases, namespace)
        if bases != (_RecordBase,):
            raise TypeError(f"{typename}: a Record derives from Record alone")
        annotations: dict[str, Any] = namespace.get("__annotations__", {})
        fields = tuple(annotations)
        defaults = [namespace[name] for name in fields if name in namespace]
        defaulted = fields[len(fields) - len(defaults) :]
        if any(name not in namespace for name in defaulted):
            raise TypeError(f"{typename}: a field without a default follows one with a default")
        # mypy checks a namedtuple() call as a class definition and wants literal arguments.
        record = collections.namedtuple(typename, fields, defaults=defaults, module=namespace["__module__"])  # type: ignore[misc]
        record.__qualname__ = namespace["__qualname__"]
        record.__annotations__ = annotations
        for name, value in namespace.items():
            if name in _RESERVED:
                raise AttributeError(f"{typename}: a Record cannot redefine {name}")
            if name not in _NAMEDTUPLE_OWN and name not in annotations:
                setattr(record, name, value)
        return record


class _RecordBase(metaclass=_RecordMeta):
    pass


if TYPE_CHECKING:
    from typing import NamedTuple as Record
else:
    Record = _RecordBase

__all__ = ["Record"]
