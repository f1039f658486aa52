"""Fixtures for the hsm tests; the machinery and the reasons behind it are in softhsm_support."""

from tests.hsm.softhsm_support import _module_softhsm, shared_softhsm, softhsm  # noqa: F401  (re-exported fixtures)
from tests.hsm.tokens_support import any_token, opencryptoki, tpm2  # noqa: F401  (re-exported fixtures)


def pytest_collection_modifyitems(items: list) -> None:  # type: ignore[type-arg]
    """A software TPM listens on loopback TCP: tests using the token backends may use sockets."""
    import pytest

    for item in items:
        if {"tpm2", "opencryptoki", "any_token"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.loopback)
