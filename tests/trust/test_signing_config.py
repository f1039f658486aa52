"""The trust's TUF-verified signing config: stored with the trusted root, carried in packs, and
used by `sign --trust NAME` to choose the log and TSA (fail-closed when absent or altered)."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import pytest

from tests.support.tuf_simulator import TufRepo
from tests.trust.conftest import run_cli
from verifier._internal.trustroot import store

SIGNING_CONFIG = "signing_config.v0.2.json"
CONFIG = {
    "mediaType": "application/vnd.dev.sigstore.signingconfig.v0.2+json",
    "caUrls": [],
    "oidcUrls": [],
    "rekorTlogUrls": [
        {
            "url": "http://127.0.0.1:9/rekor-from-tuf",
            "majorApiVersion": 1,
            "validFor": {"start": "2024-01-01T00:00:00Z"},
            "operator": "test",
        }
    ],
    "rekorTlogConfig": {"selector": "ANY"},
    "tsaUrls": [],
    "tsaConfig": {"selector": "ANY"},
}


def _with_config(repo: TufRepo) -> bytes:
    data = json.dumps(CONFIG).encode()
    repo.set_target(SIGNING_CONFIG, data)
    repo.publish()
    return data


def test_a_listed_signing_config_is_stored_verified_and_packed(sim_trust: TufRepo, tmp_path: Path) -> None:
    data = _with_config(sim_trust)
    assert run_cli("trust", "import", "sim", str(sim_trust.out)).exit_code == 0
    state = store.current_state("sim")
    assert store.read_verified_signing_config(state) == data
    pack = tmp_path / "sim.tar.gz"
    assert run_cli("trust", "export", "sim", str(pack)).exit_code == 0
    with tarfile.open(pack) as tar:
        assert any(name.endswith(SIGNING_CONFIG) for name in tar.getnames())


def test_a_repository_without_one_stores_none(sim_trust: TufRepo) -> None:
    assert store.read_verified_signing_config(store.current_state("sim")) is None


def test_an_altered_stored_config_is_refused(sim_trust: TufRepo) -> None:
    _with_config(sim_trust)
    assert run_cli("trust", "import", "sim", str(sim_trust.out)).exit_code == 0
    state = store.current_state("sim")
    assert state is not None
    (state.path / "targets" / SIGNING_CONFIG).write_text("{}")
    from verifier.cli.sign import _ServiceArgs, _signing_config
    from verifier.errors import Reason, TrustRootError

    with pytest.raises(TrustRootError) as info:
        _signing_config(_ServiceArgs(None, None, "auto", None, None, "sim"))
    assert info.value.reason is Reason.TRUST_STORE_ERROR


def test_sign_trust_without_a_signing_config_names_the_alternatives(sim_trust: TufRepo, tmp_path: Path) -> None:
    artifact = tmp_path / "a.txt"
    artifact.write_bytes(b"a")
    from verifier.cli.sign import _ServiceArgs, _signing_config
    from verifier.errors import InputError, Reason

    args = _ServiceArgs(None, None, "auto", None, None, "sim")

    with pytest.raises(InputError) as info:
        _signing_config(args)
    assert info.value.reason is Reason.SIGNING_NO_SERVICE and "--signing-config" in info.value.detail


def test_sign_trust_uses_the_stored_config(sim_trust: TufRepo) -> None:
    data = _with_config(sim_trust)
    assert run_cli("trust", "import", "sim", str(sim_trust.out)).exit_code == 0
    from verifier.cli.sign import _ServiceArgs, _signing_config

    found = _signing_config(_ServiceArgs(None, None, "auto", None, None, "sim"))
    assert found is not None and found[0] == data and "trust 'sim'" in found[1]
    # explicit services win over the trust's config
    assert _signing_config(_ServiceArgs(None, "http://127.0.0.1:9", "auto", None, None, "sim")) is None
