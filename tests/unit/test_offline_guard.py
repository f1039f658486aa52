"""The offline guard in tests/conftest.py: unit tests cannot open sockets unless marked."""

from __future__ import annotations

import socket
import urllib.error
import urllib.request

import pytest

from tests.conftest import _REAL_SOCKET, OfflineGuard, SocketBlockedError


def _take(guard: OfflineGuard) -> list[str]:
    """What the guard recorded, cleared so that this test's own teardown check passes."""
    attempts = list(guard.attempts)
    guard.attempts.clear()
    return attempts


def test_socket_constructor_is_blocked(offline_guard: OfflineGuard) -> None:
    with pytest.raises(SocketBlockedError, match="loopback"):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    assert len(_take(offline_guard)) == 1


def test_create_connection_and_getaddrinfo_are_blocked(offline_guard: OfflineGuard) -> None:
    with pytest.raises(SocketBlockedError):
        socket.create_connection(("127.0.0.1", 9))
    with pytest.raises(SocketBlockedError):
        socket.getaddrinfo("example.com", 443)
    assert len(_take(offline_guard)) == 2


def test_http_client_is_blocked(offline_guard: OfflineGuard) -> None:
    """The path library code takes (urllib -> http.client -> socket.create_connection)."""
    with pytest.raises((SocketBlockedError, urllib.error.URLError)):
        urllib.request.urlopen("http://127.0.0.1:9/", timeout=1)
    assert _take(offline_guard), "urlopen got past the guard"


def test_a_swallowed_attempt_is_still_recorded(offline_guard: OfflineGuard) -> None:
    """Code that catches the error (`except Exception`) does not hide it: the fixture's teardown
    fails the test on any recorded attempt. Checked here by reading the record directly."""
    try:
        socket.socket()
    except Exception:
        pass
    attempts = _take(offline_guard)
    assert len(attempts) == 1 and attempts[0].startswith("socket.socket")


def test_subclassing_socket_during_a_test_still_works(offline_guard: OfflineGuard) -> None:
    """Modules that subclass socket.socket at import time must still import under the guard."""

    class Mine(socket.socket):
        pass

    with pytest.raises(SocketBlockedError):
        Mine()
    _take(offline_guard)


def test_guard_is_on_during_a_test(offline_guard: OfflineGuard) -> None:
    assert offline_guard.active
    assert socket.socket is not _REAL_SOCKET
    assert socket.getaddrinfo.__name__ == "refuse"


@pytest.mark.loopback
def test_loopback_marker_opts_out(offline_guard: OfflineGuard) -> None:
    """Runs after the guarded tests above: the real functions are back and usable."""
    assert not offline_guard.active
    assert socket.socket is _REAL_SOCKET
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
            conn, _ = server.accept()
            with conn:
                client.sendall(b"ping")
                assert conn.recv(4) == b"ping"
