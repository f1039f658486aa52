"""explain.py: every tuf exception maps to a reason code, and nothing unrecognised is guessed.

Unit tests drive `explain.translate` directly; the end-to-end tests run a real media refresh
with python-tuf's client made to fail in a way airseal does not know, and check the reported
code, that tuf's exception stays attached as the cause, and that the store is unchanged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tuf.api import exceptions as tuf_exc
from tuf.api.serialization import DeserializationError
from tuf.ngclient.fetcher import FetcherInterface

from tests.support.tuf_simulator import TufRepo
from verifier._internal.limits import DEFAULT_LIMITS
from verifier._internal.refresh import updater
from verifier._internal.refresh.explain import RefreshContext, translate
from verifier._internal.refresh.fetcher import RecordingFetcher
from verifier._internal.trustroot import store
from verifier._internal.trustroot.embedded import embedded_trusted_root_bytes
from verifier.errors import Reason, TrustRootError

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


class _NoFetch(FetcherInterface):
    def _fetch(self, url: str) -> Iterator[bytes]:  # pragma: no cover - never called
        raise AssertionError(url)


def _ctx(kind: str = "media", last: str = "media:/timestamp.json") -> RefreshContext:
    recorder = RecordingFetcher(_NoFetch())
    recorder.last_url = last
    return RefreshContext("sim", kind, "/media/usb", T0, 0, recorder, None)


def _wrapped_refusal() -> tuf_exc.DownloadError:
    ours = TrustRootError(Reason.TUF_MEDIA_UNSAFE, "refusing path '../x' on the media: path traversal")
    try:
        try:
            raise ours
        except TrustRootError as inner:
            raise tuf_exc.DownloadError("Failed to download media:/../x") from inner
    except tuf_exc.DownloadError as exc:
        return exc


MAPPING = [
    ("length", tuf_exc.DownloadLengthMismatchError("too long"), "media", Reason.TUF_OVERSIZED),
    ("http-media", tuf_exc.DownloadHTTPError("absent", 404), "media", Reason.TUF_MEDIA_INCOMPLETE),
    ("http-online", tuf_exc.DownloadHTTPError("absent", 404), "repository", Reason.TUF_FETCH_FAILED),
    ("slow", tuf_exc.SlowRetrievalError(), "repository", Reason.TUF_FETCH_FAILED),
    ("download", tuf_exc.DownloadError("reset by peer"), "repository", Reason.TUF_FETCH_FAILED),
    ("expired", tuf_exc.ExpiredMetadataError("timestamp.json is expired"), "media", Reason.TUF_EXPIRED),
    ("unsigned", tuf_exc.UnsignedMetadataError("timestamp was signed by 0/1 keys"), "media",
     Reason.TUF_UNSIGNED),
    ("ts-rollback", tuf_exc.BadVersionNumberError("New timestamp version 1 must be >= 2"), "media",
     Reason.TUF_ROLLBACK),
    ("sn-rollback", tuf_exc.BadVersionNumberError("New snapshot version must be >= 2, got version 1"),
     "media", Reason.TUF_ROLLBACK),
    ("root-rollback", tuf_exc.BadVersionNumberError("Expected root version 3 instead got version 1"),
     "media", Reason.TUF_ROLLBACK),
    ("mix-and-match", tuf_exc.BadVersionNumberError("Expected snapshot version 2, got 1"), "media",
     Reason.TUF_BAD_METADATA),
    ("hash", tuf_exc.LengthOrHashMismatchError("sha256 mismatch"), "media", Reason.TUF_HASH_MISMATCH),
    ("json", DeserializationError("Failed to deserialize JSON"), "media", Reason.TUF_BAD_METADATA),
    ("wrong-type", tuf_exc.RepositoryError("Expected 'timestamp', got 'snapshot'"), "media",
     Reason.TUF_BAD_METADATA),
    ("not-in-snapshot", tuf_exc.RepositoryError("Snapshot does not contain information for 'targets'"),
     "media", Reason.TUF_BAD_METADATA),
    ("unknown-repository", tuf_exc.RepositoryError("a brand-new refusal"), "media", Reason.TUF_ERROR),
    ("unknown-version", tuf_exc.BadVersionNumberError("Version went sideways"), "media", Reason.TUF_ERROR),
    ("ours", _wrapped_refusal(), "media", Reason.TUF_MEDIA_UNSAFE),
]


@pytest.mark.parametrize("exc,kind,reason", [m[1:] for m in MAPPING], ids=[m[0] for m in MAPPING])
def test_each_tuf_exception_has_its_reason(exc: BaseException, kind: str, reason: Reason) -> None:
    err = translate(exc, _ctx(kind))
    assert isinstance(err, TrustRootError)
    assert err.reason is reason, err


def test_unrecognised_repository_error_is_tuf_error_with_tufs_message() -> None:
    err = translate(tuf_exc.RepositoryError("a brand-new refusal"), _ctx())
    assert err.reason is Reason.TUF_ERROR and err.reason.value == "trustroot.tuf_error"
    assert err.detail.startswith("TUF refused the refresh: a brand-new refusal")
    assert "timestamp.json" in err.detail and "/media/usb" in err.detail
    assert err.context == {"tuf_error": "RepositoryError", "file": "timestamp.json"}


def test_unrecognised_version_message_is_not_called_a_rollback() -> None:
    err = translate(tuf_exc.BadVersionNumberError("Version went sideways"), _ctx())
    assert err.reason is Reason.TUF_ERROR
    assert "rollback" not in err.detail and "Version went sideways" in err.detail


def test_empty_tuf_message_names_the_exception() -> None:
    err = translate(tuf_exc.RepositoryError(), _ctx())
    assert err.reason is Reason.TUF_ERROR and "RepositoryError" in err.detail


def test_updater_caps_come_from_limits() -> None:
    cfg = updater.UPDATER_CONFIG
    assert (cfg.root_max_length, cfg.timestamp_max_length) == (
        DEFAULT_LIMITS.tuf_root_max_bytes,
        DEFAULT_LIMITS.tuf_timestamp_max_bytes,
    )
    assert (cfg.snapshot_max_length, cfg.targets_max_length) == (
        DEFAULT_LIMITS.tuf_snapshot_max_bytes,
        DEFAULT_LIMITS.tuf_targets_max_bytes,
    )
    assert (cfg.max_root_rotations, cfg.max_delegations) == (
        DEFAULT_LIMITS.tuf_max_root_rotations,
        DEFAULT_LIMITS.tuf_max_delegations,
    )
    assert RecordingFetcher(_NoFetch()).record_cap == DEFAULT_LIMITS.max_tuf_record_bytes
    assert updater.reference_time_for(T0, 10_000, None) == T0 - dt.timedelta(days=DEFAULT_LIMITS.max_grace_days)


# --- end to end: a real refresh over media ------------------------------------------------------


def _digest(base: Path) -> str:
    h = hashlib.sha256()
    for dirpath, dirnames, files in sorted(os.walk(base)):
        dirnames.sort()
        for fname in sorted(files):
            full = Path(dirpath, fname)
            h.update(full.relative_to(base).as_posix().encode() + b"\0" + full.read_bytes())
    return h.hexdigest()


@pytest.fixture
def sim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TufRepo:
    monkeypatch.setenv("AIRSEAL_HOME", str(tmp_path / "home"))
    repo = TufRepo(tmp_path / "repo", embedded_trusted_root_bytes("public-good"))
    store.create_trust("sim", repo.root_files[1], store.TrustConfig(url=None))
    updater.refresh_from_media("sim", repo.out)
    return repo


@pytest.mark.parametrize(
    "raised",
    [tuf_exc.RepositoryError("a brand-new refusal"), tuf_exc.BadVersionNumberError("Version went sideways")],
    ids=["RepositoryError", "BadVersionNumberError"],
)
def test_refresh_reports_unrecognised_refusal_as_tuf_error_with_cause(
    sim: TufRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raised: Exception
) -> None:
    sim.publish()
    before = _digest(tmp_path / "home" / "trust" / "sim")

    def refuse(self: object) -> None:
        raise raised

    monkeypatch.setattr(updater.Updater, "refresh", refuse)
    with pytest.raises(TrustRootError) as info:
        updater.refresh_from_media("sim", sim.out)
    assert info.value.reason is Reason.TUF_ERROR
    assert info.value.detail.startswith(f"TUF refused the refresh: {raised}")
    assert info.value.__cause__ is raised
    assert _digest(tmp_path / "home" / "trust" / "sim") == before


def test_recognised_refusal_keeps_tufs_exception_as_cause(sim: TufRepo) -> None:
    sim.publish()  # timestamp v2 accepted...
    updater.refresh_from_media("sim", sim.out)
    sim.publish_timestamp(version=1)  # ...then v1 offered: a rollback
    with pytest.raises(TrustRootError) as info:
        updater.refresh_from_media("sim", sim.out)
    assert info.value.reason is Reason.TUF_ROLLBACK
    assert isinstance(info.value.__cause__, tuf_exc.BadVersionNumberError)


def test_check_root_bytes_keeps_the_cause() -> None:
    with pytest.raises(TrustRootError) as info:
        updater.check_root_bytes(b"{not json")
    assert info.value.reason is Reason.TUF_BAD_METADATA
    assert isinstance(info.value.__cause__, tuf_exc.RepositoryError)


def test_damaged_state_time_is_a_store_error(sim: TufRepo) -> None:
    state = store.current_state("sim")
    assert state is not None
    path = state.path / store.STATE_FILE
    path.write_text(path.read_text().replace('"reference_time": "', '"reference_time": "yesterday '))
    with pytest.raises(TrustRootError) as info:
        store.current_state("sim")
    assert info.value.reason is Reason.TRUST_STORE_ERROR and "reference_time" in info.value.detail
