"""Shared VirtualSigstore instances for the verify tests (session scope: minting is cheap,
but TSA creation runs openssl)."""

from __future__ import annotations

import pytest

from tests.support.virtual_sigstore import VirtualSigstore


@pytest.fixture(scope="session")
def vs() -> VirtualSigstore:
    """The trusted instance."""
    return VirtualSigstore("virtual")


@pytest.fixture(scope="session")
def untrusted() -> VirtualSigstore:
    """A second, independent Sigstore that no trusted root in these tests names."""
    return VirtualSigstore("untrusted")


@pytest.fixture(scope="session")
def trusted_root(vs: VirtualSigstore) -> dict:
    return vs.trusted_root()


@pytest.fixture(scope="session")
def has_tsa(vs: VirtualSigstore) -> bool:
    return vs.tsa_available()


@pytest.fixture()
def need_tsa(has_tsa: bool) -> None:
    if not has_tsa:
        pytest.skip("tests/support/tsa.py needs openssl and faketime")
