"""Fixtures for the loopback Sigstore services (tests/support/services.py).

Each fixture skips, with the reason, when its binary or runtime is absent; CI builds them with
scripts/setup.sh (which runs scripts/services.sh). Scope is the module: a test file starts each
service once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import services


def _run(cm):
    """Start a service for the tests (skipped without it, except in CI: `skip_or_fail`)."""
    try:
        with cm as handle:
            yield handle
    except services.ServiceUnavailable as exc:
        services.skip_or_fail(str(exc))


@pytest.fixture(scope="module")
def rekor_v2() -> Iterator[services.RekorV2]:
    yield from _run(services.rekor_v2())


@pytest.fixture(scope="module")
def rekor_v2_ecdsa() -> Iterator[services.RekorV2]:
    yield from _run(services.rekor_v2(key_type="ecdsa-p256"))


@pytest.fixture(scope="module")
def tsa() -> Iterator[services.TimestampAuthority]:
    yield from _run(services.timestamp_authority())


@pytest.fixture(scope="module")
def rekor_v1() -> Iterator[services.RekorV1]:
    """The real Rekor v1 stack (rekor-server + Trillian + MariaDB), about 4 s to start."""
    yield from _run(services.rekor_v1())


@pytest.fixture(scope="module")
def rekor_v1_mock() -> Iterator[services.RekorV1]:
    yield from _run(services.rekor_v1_mock())


@pytest.fixture(scope="session")
def cosign_bin():
    try:
        return services.tool("cosign")
    except services.ServiceUnavailable as exc:
        services.skip_or_fail(str(exc))


@pytest.fixture(scope="module")
def rekor_v2_port80() -> Iterator[services.RekorV2]:
    """Rekor v2 at http://127.0.0.N (port 80, no port in the URL): the origin every client agrees on."""
    try:
        address = services.loopback_with_free_port_80()
    except services.ServiceUnavailable as exc:
        services.skip_or_fail(str(exc))
    yield from _run(services.rekor_v2(address=address, port=80))


@pytest.fixture(scope="module")
def rekor_v1_port80() -> Iterator[services.RekorV1]:
    """Real Rekor v1 at http://127.0.0.N (port 80), so its checkpoint signer name is the URL's host."""
    try:
        address = services.loopback_with_free_port_80()
    except services.ServiceUnavailable as exc:
        services.skip_or_fail(str(exc))
    yield from _run(services.rekor_v1(address=address, port=80))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here talks to servers on 127.0.0.1 and starts real processes."""
    for item in items:
        if "tests/services/" in str(item.fspath):
            item.add_marker(pytest.mark.loopback)
            item.add_marker(pytest.mark.slow)
