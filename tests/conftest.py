"""Shared test configuration: where ../shared is, and a guard that unit tests stay offline.

The offline guard
-----------------
An autouse fixture (`offline_guard`) replaces `socket.socket`, `socket.create_connection` and
`socket.getaddrinfo` for the duration of every test. Any use raises `SocketBlockedError`, and
the attempt is also recorded: a test whose code swallowed the exception (an `except Exception`
turning it into a polite "network error") still fails, at teardown. airseal verifies offline;
a test that reaches for the network by accident is a bug in the code or the test.

Opting out (see the markers in pyproject.toml):
- `@pytest.mark.loopback`: the test runs a server on 127.0.0.1 (the TUF simulator, the test
  TSA) and talks to it.
- `@pytest.mark.network`: the test talks to the real internet (skipped unless asked for).
Subprocesses are unaffected: the guard lives in this Python process only.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CONFORMANCE = SHARED / "conformance"
CONFORMANCE_CASES = CONFORMANCE / "cases"

# Imported before any test can patch socket.socket: these modules subclass or capture it at
# import time, and must see the real class (the guard subclass below is also inert when off).
import socketserver  # noqa: E402,F401
import ssl  # noqa: E402,F401

try:  # urllib3 (via sigstore-python, python-tuf) probes IPv6 with a socket at import time
    import urllib3.util.connection  # noqa: F401
except ImportError:  # pragma: no cover
    pass

OPT_OUT_MARKERS = ("loopback", "network")


# ------------------------------------------------------------------------------ fast loop

FAST = os.environ.get("AIRSEAL_FAST_TESTS") == "1"
"""Set by `scripts/test.sh --fast`: property tests run at most FAST_EXAMPLES examples each."""
FAST_EXAMPLES = 25


def _hypothesis_profiles() -> None:
    try:
        from hypothesis import settings
    except ImportError:  # pragma: no cover
        return
    settings.register_profile("fast", max_examples=FAST_EXAMPLES, deadline=None)
    if FAST:
        settings.load_profile("fast")


_hypothesis_profiles()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Fast loop only: cap the example count of tests that set their own @settings (a profile
    only changes defaults, and these tests name max_examples explicitly)."""
    if not FAST:
        return
    from hypothesis import settings

    for item in items:
        test = getattr(item, "obj", None)
        own = getattr(test, "_hypothesis_internal_use_settings", None)
        if own is not None and own.max_examples > FAST_EXAMPLES:
            test._hypothesis_internal_use_settings = settings(own, max_examples=FAST_EXAMPLES)  # type: ignore[union-attr]


def shared_or_skip(*parts: str) -> Path:
    """A path inside ../shared, or skip: a user's checkout has no ../shared (CI does)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared ships only with the development workspace and CI)")
    return path


# ------------------------------------------------------------------------------ offline guard


class SocketBlockedError(RuntimeError):
    """A unit test used a socket; mark it `loopback` (or `network`) if that is the point."""


_REAL_SOCKET = socket.socket


class OfflineGuard:
    """The state of the guard for one test: whether it is on, and what was attempted."""

    def __init__(self) -> None:
        self.active = False
        self.attempts: list[str] = []

    def block(self, what: str) -> SocketBlockedError:
        self.attempts.append(what)
        return SocketBlockedError(
            f"offline guard: {what} in a unit test; mark the test @pytest.mark.loopback if it"
            " talks to a server on 127.0.0.1 (see tests/conftest.py)"
        )


_GUARD = OfflineGuard()


class _GuardedSocket(_REAL_SOCKET):  # type: ignore[misc,valid-type]
    """socket.socket while the guard is on. A class (not a function) so that code subclassing
    socket.socket at import time during a test still imports; inert once the guard is off."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if _GUARD.active:
            raise _GUARD.block(f"socket.socket{args!r}")
        super().__init__(*args, **kwargs)


def _blocked(name: str) -> Any:
    def refuse(*args: Any, **_kwargs: Any) -> Any:
        raise _GUARD.block(f"socket.{name}{args!r}")

    return refuse


@pytest.fixture(autouse=True)
def offline_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[OfflineGuard]:
    """Every test is offline unless marked `loopback` or `network` (module docstring)."""
    if any(request.node.get_closest_marker(name) for name in OPT_OUT_MARKERS):
        yield _GUARD
        return
    _GUARD.attempts.clear()
    monkeypatch.setattr(socket, "socket", _GuardedSocket)
    monkeypatch.setattr(socket, "create_connection", _blocked("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", _blocked("getaddrinfo"))
    _GUARD.active = True
    try:
        yield _GUARD
    finally:
        _GUARD.active = False
    attempts, _GUARD.attempts[:] = list(_GUARD.attempts), []
    assert not attempts, f"offline guard: this test tried to use the network: {attempts}"
