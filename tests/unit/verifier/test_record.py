"""`Record` behaves as `typing.NamedTuple` does, without compiling its annotations."""

from __future__ import annotations

import pickle
import sys
from typing import Any, NamedTuple, Optional, get_type_hints

import pytest

from verifier._internal.record import Record


class Point(Record):
    """A point."""

    x: int
    y: Optional[int] = None
    label: str = "p"

    SCALE = 10
    """A class constant, not a field (no annotation)."""

    def scaled(self) -> int:
        return self.x * self.SCALE

    @property
    def is_origin(self) -> bool:
        return self.x == 0 and not self.y


class PointNT(NamedTuple):
    """A point."""

    x: int
    y: Optional[int] = None
    label: str = "p"


def test_fields_defaults_and_docs_match_typing_namedtuple() -> None:
    assert Point._fields == PointNT._fields
    assert Point._field_defaults == PointNT._field_defaults
    assert Point.__doc__ == PointNT.__doc__
    assert Point.__qualname__ == "Point" and Point.__module__ == __name__
    assert Point.__annotations__ == {"x": "int", "y": "Optional[int]", "label": "str"}
    assert get_type_hints(Point) == get_type_hints(PointNT)


def test_instances_are_tuples_with_the_namedtuple_methods() -> None:
    p = Point(3)
    assert p == (3, None, "p") == PointNT(3)
    assert hash(p) == hash((3, None, "p"))
    assert p._replace(y=4) == Point(3, 4)
    assert p._asdict() == {"x": 3, "y": None, "label": "p"}
    assert Point._make([1, 2, "q"]) == Point(1, 2, "q")
    assert repr(p) == "Point(x=3, y=None, label='p')"
    assert p.scaled() == 30 and not p.is_origin and Point(0).is_origin
    assert "SCALE" not in Point._fields
    with pytest.raises(AttributeError):
        p.x = 5  # type: ignore[misc]
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]


def test_pickles_by_name() -> None:
    p = Point(1, 2, "r")
    assert pickle.loads(pickle.dumps(p)) == p
    assert type(pickle.loads(pickle.dumps(p))) is Point


def test_a_field_without_default_after_one_with_is_refused() -> None:
    with pytest.raises(TypeError, match="follows one with a default"):

        class Bad(Record):
            a: int = 1
            b: int


@pytest.mark.parametrize("name", ["_replace", "_asdict", "_make", "__new__", "_fields"])
def test_namedtuple_machinery_cannot_be_redefined(name: str) -> None:
    with pytest.raises(AttributeError, match=name):
        type(Record)("Bad", (Record,), {"__module__": __name__, "__qualname__": "Bad", "__annotations__": {"a": "int"}, name: lambda self: None})


def test_only_record_as_base() -> None:
    with pytest.raises(TypeError, match="Record alone"):
        type(Record)("Bad", (Record, dict), {"__module__": __name__, "__qualname__": "Bad", "__annotations__": {}})


def test_defining_a_record_compiles_nothing() -> None:
    """The point of `Record`: typing.NamedTuple compiles each string annotation (ForwardRef)."""
    compiled: list[Any] = []
    active = [True]

    def hook(event: str, args: tuple[Any, ...]) -> None:
        # namedtuple's own constructor (`lambda _cls, ...`) is evaluated by both; skip it
        if not active[0] or event != "compile":
            return
        source = args[0].decode("utf-8", "replace") if isinstance(args[0], bytes) else str(args[0])
        if not source.startswith("lambda _cls"):
            compiled.append(source)

    sys.addaudithook(hook)
    try:

        class Cheap(Record):
            a: Optional[int]
            b: tuple[str, ...] = ()

        assert compiled == []

        class Costly(NamedTuple):
            a: Optional[int]
            b: tuple[str, ...] = ()

        assert compiled, "typing.NamedTuple compiled nothing: Record's reason to exist is gone"
    finally:
        active[0] = False  # audit hooks cannot be removed
