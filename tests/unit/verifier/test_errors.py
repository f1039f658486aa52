"""`Reason` behaves as the `str`-mixed `enum.Enum` that type checkers see."""

from __future__ import annotations

import copy
import enum
import json
import pickle

import pytest

from verifier.errors import Reason, VerificationError

# Two of Reason's codes as a real enum of the same name: the behaviour to match.
_Twin = enum.Enum("Reason", {"TLOG_NO_PROOF": "tlog.no_proof", "SIGNATURE_INVALID": "signature.invalid"}, type=str)  # type: ignore[misc]


def _same(member: Reason, twin: enum.Enum) -> None:
    assert member.value == twin.value and type(member.value) is str
    assert member.name == twin.name
    assert str(member) == str(twin)
    assert f"{member}" == f"{twin}"
    assert f"{member:>30}" == f"{twin:>30}"
    assert repr(member) == repr(twin)
    assert member == twin.value and hash(member) == hash(twin.value)
    assert json.dumps({"r": member}) == json.dumps({"r": twin})
    assert isinstance(member, str)


def test_members_behave_as_a_str_enum() -> None:
    _same(Reason.TLOG_NO_PROOF, _Twin.TLOG_NO_PROOF)
    _same(Reason.SIGNATURE_INVALID, _Twin.SIGNATURE_INVALID)


def test_lookup_by_code_returns_the_member_and_refuses_unknown_codes() -> None:
    assert Reason("tlog.no_proof") is Reason.TLOG_NO_PROOF
    with pytest.raises(ValueError, match="not a valid Reason"):
        Reason("tlog.nope")
    with pytest.raises(ValueError):
        Reason(["unhashable"])


def test_iteration_is_in_definition_order_with_every_code_once() -> None:
    members = list(Reason)
    assert members[0] is Reason.BUNDLE_MALFORMED_JSON
    assert len(members) == len(Reason) == len({m.value for m in members})
    assert all(isinstance(m, Reason) and m in Reason for m in members)
    assert "tlog.no_proof" not in Reason  # a plain string is not a member


def test_members_survive_pickle_and_copy_as_themselves() -> None:
    member = Reason.TSA_IMPRINT_MISMATCH
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(member, protocol)) is member
    assert copy.copy(member) is member and copy.deepcopy(member) is member
    err = pickle.loads(pickle.dumps(VerificationError(member, "x", context={"k": 1}, check="tsa")))
    assert (type(err), err.reason, err.detail, err.context, err.check) == (VerificationError, member, "x", {"k": 1}, "tsa")


def test_members_are_read_only() -> None:
    with pytest.raises(AttributeError):
        Reason.TLOG_NO_PROOF = "x"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        Reason.TLOG_NO_PROOF.extra = 1  # type: ignore[attr-defined]


def test_a_repeated_code_is_refused_at_definition() -> None:
    with pytest.raises(TypeError, match="repeats the code"):
        type(Reason)("Dup", (str, Reason.__mro__[2]), {"A": "x.y", "B": "x.y"})
