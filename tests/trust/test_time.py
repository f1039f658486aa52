"""Time rules: the reference-time seam into python-tuf, the grace period, and the stored floor."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from tuf.ngclient import Updater

from tests.support.tuf_simulator import TufRepo
from tests.trust.conftest import run_cli
from verifier._internal.refresh import updater as refresh
from verifier._internal.trustroot import store
from verifier.errors import Reason, TrustRootError

DAY = dt.timedelta(days=1)


def test_seam_sets_python_tufs_reference_time(repo: TufRepo, tmp_path: Path) -> None:
    """Regression guard for tuf upgrades: the private attribute we set must be the one used."""
    mdir = tmp_path / "md"
    mdir.mkdir()
    updater = Updater(str(mdir), "media:/", bootstrap=repo.root_files[1])
    when = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    refresh.set_reference_time(updater, when)
    assert updater._trusted_set.reference_time == when
    with pytest.raises(ValueError):
        refresh.set_reference_time(updater, dt.datetime(2030, 1, 1))


def test_seam_reports_when_tuf_internals_change() -> None:
    class NotAnUpdater:
        pass

    with pytest.raises(RuntimeError, match="reference-time seam"):
        refresh.set_reference_time(NotAnUpdater(), dt.datetime.now(dt.timezone.utc))  # type: ignore[arg-type]


def _sim(repo: TufRepo, tmp_path: Path) -> None:
    root1 = tmp_path / "r1.json"
    root1.write_bytes(repo.root_files[1])
    assert run_cli("trust", "init", "sim", "--root", str(root1)).exit_code == 0


def test_seam_takes_effect_in_a_refresh(repo: TufRepo, tmp_path: Path) -> None:
    """Same media, two reference times: only the seam can make the difference."""
    _sim(repo, tmp_path)
    later = repo.now + 31 * DAY  # everything expires 30 days after repo.now
    with pytest.raises(TrustRootError) as info:
        refresh.refresh_from_media("sim", repo.out, now=later)
    assert info.value.reason is Reason.TUF_EXPIRED
    assert store.current_state("sim") is None
    result = refresh.refresh_from_media("sim", repo.out, now=repo.now)
    assert result.reference_time == repo.now


def test_grace_period_comes_from_the_store_config(repo: TufRepo, tmp_path: Path) -> None:
    _sim(repo, tmp_path)
    now = repo.now + 33 * DAY  # expired 3 days ago
    with pytest.raises(TrustRootError, match="grace period of 0 days"):
        refresh.refresh_from_media("sim", repo.out, now=now)
    assert run_cli("trust", "config", "sim", "--grace-days", "5").exit_code == 0
    result = refresh.refresh_from_media("sim", repo.out, now=now)
    assert result.reference_time == now - 5 * DAY


def test_grace_period_is_capped_at_30_days(repo: TufRepo, tmp_path: Path, home: Path) -> None:
    _sim(repo, tmp_path)
    cfg = home / "trust" / "sim" / "config.json"
    doc = json.loads(cfg.read_text())
    doc["grace_days"] = 400
    cfg.write_text(json.dumps(doc))
    with pytest.raises(TrustRootError, match="grace period of 30 days"):
        refresh.refresh_from_media("sim", repo.out, now=repo.now + 61 * DAY)
    result = refresh.refresh_from_media("sim", repo.out, now=repo.now + 59 * DAY)
    assert any("above the cap" in w for w in result.warnings)
    res = run_cli("trust", "config", "sim", "--grace-days", "31")
    assert res.exit_code == 2


def test_floor_stops_a_rewound_clock_from_replaying_old_media(repo: TufRepo, tmp_path: Path) -> None:
    t0 = repo.now
    old_media = repo.snapshot_copy(tmp_path / "old")  # valid until t0 + 30 days
    _sim(repo, tmp_path)
    # a newer release, accepted at t0 + 35 days (its metadata runs to t0 + 45 days)
    repo.now = t0 + 15 * DAY
    repo.bump_root()
    repo.publish()
    refresh.refresh_from_media("sim", repo.out, now=t0 + 35 * DAY)
    floor = store.current_state("sim").reference_time  # type: ignore[union-attr]
    assert floor == t0 + 35 * DAY
    # the clock is wound back to t0 + 10 days: the new metadata is still judged at the floor...
    repo.now = t0 + 20 * DAY  # a release expiring t0 + 50 days
    repo.bump_root()
    repo.publish()
    result = refresh.refresh_from_media("sim", repo.out, now=t0 + 10 * DAY)
    assert result.reference_time == floor
    assert any("behind the last accepted refresh time" in w for w in result.warnings)
    # ...and a release that had already expired at the floor is refused, although the rewound
    # clock says it is fresh.
    repo.now = t0 - 2 * DAY  # timestamp/snapshot/targets expiring t0 + 28 days, new versions
    repo.publish()
    with pytest.raises(TrustRootError) as info:
        refresh.refresh_from_media("sim", repo.out, now=t0 + 10 * DAY)
    assert info.value.reason is Reason.TUF_EXPIRED
    assert "it never goes back" in info.value.detail and "timestamp v4" in info.value.detail
    # old media is a rollback anyway
    with pytest.raises(TrustRootError) as info:
        refresh.refresh_from_media("sim", old_media, now=t0 + 1 * DAY)
    assert info.value.reason in (Reason.TUF_ROLLBACK, Reason.TUF_EXPIRED)


def test_reference_time_rule() -> None:
    now = dt.datetime(2026, 8, 22, tzinfo=dt.timezone.utc)
    assert refresh.reference_time_for(now, 0, None) == now
    assert refresh.reference_time_for(now, 7, None) == now - 7 * DAY
    assert refresh.reference_time_for(now, 90, None) == now - 30 * DAY
    floor = now - DAY
    assert refresh.reference_time_for(now, 7, floor) == floor
    assert refresh.reference_time_for(now - 10 * DAY, 0, floor) == floor
    with pytest.raises(ValueError):
        refresh.reference_time_for(dt.datetime(2026, 8, 22), 0, None)
