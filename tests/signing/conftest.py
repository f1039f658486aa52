"""Fixtures for logged signing: SoftHSM stores (tests/hsm/softhsm_support.py) and the loopback
Sigstore services (tests/services/conftest.py, tests/support/services.py)."""

from __future__ import annotations

import pytest

from tests.hsm.softhsm_support import _module_softhsm, shared_softhsm, softhsm  # noqa: F401  (re-exported fixtures)
from tests.services.conftest import cosign_bin, rekor_v1, rekor_v2, tsa  # noqa: F401  (re-exported fixtures)

SERVICE_MODULES = ("test_logged_signing.py", "test_service_failures.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests that start real services and talk to them on 127.0.0.1 (not the pure ones)."""
    for item in items:
        if "tests/signing/" in str(item.fspath) and item.fspath.basename in SERVICE_MODULES:
            item.add_marker(pytest.mark.loopback)
            item.add_marker(pytest.mark.slow)
