"""Removable media: export packs, import from packs and both directory layouts, tar safety."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from tuf.api import exceptions as tuf_exc

from tests.support.tuf_simulator import TufRepo
from tests.trust.conftest import run_cli, store_digest
from verifier._internal.limits import DEFAULT_LIMITS
from verifier._internal.refresh import media as _media
from verifier._internal.refresh.fetcher import MediaFetcher
from verifier._internal.trustroot import store
from verifier.errors import Reason, TrustRootError


def _tar(out: Path, members: dict[str, bytes], *, extra: list[tarfile.TarInfo] = ()) -> Path:  # type: ignore[assignment]
    with tarfile.open(out, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for info in extra:
            tar.addfile(info)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_export_then_import_into_another_store(sim_trust: TufRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sim_trust.rotate_root()
    sim_trust.publish()
    assert run_cli("trust", "import", "sim", str(sim_trust.out)).exit_code == 0
    pack = tmp_path / "usb" / "sim.tar.gz"
    pack.parent.mkdir()
    res = run_cli("trust", "export", "sim", str(pack))
    assert res.exit_code == 0, res.stderr
    assert "roots v1..v2" in res.stdout
    with tarfile.open(pack) as tar:
        names = sorted(tar.getnames())
    digest = store.current_state("sim").trusted_root_target_hash  # type: ignore[union-attr]
    assert names == [
        "MANIFEST.json",
        "metadata/1.root.json",
        "metadata/2.root.json",
        "metadata/2.snapshot.json",
        "metadata/2.targets.json",
        "metadata/timestamp.json",
        f"targets/{digest}.trusted_root.json",
    ]
    # the air-gapped side: a different store, bootstrapped from root v1 only
    monkeypatch.setenv("AIRSEAL_HOME", str(tmp_path / "airgap"))
    root1 = tmp_path / "r1.json"
    root1.write_bytes(sim_trust.root_files[1])
    assert run_cli("trust", "init", "sim", "--root", str(root1)).exit_code == 0
    res = run_cli("trust", "import", "sim", str(pack))
    assert res.exit_code == 0, res.stderr
    assert "root v2" in res.stdout
    assert store.resolve_trusted_root("sim").data == sim_trust.target_data["trusted_root.json"]
    # and it can pass the same media on (re-export is identical in content)
    again = tmp_path / "again.tar.gz"
    assert run_cli("trust", "export", "sim", str(again)).exit_code == 0
    with tarfile.open(again) as tar:
        assert sorted(tar.getnames()) == names


def test_export_default_name_and_before_refresh(tmp_path: Path) -> None:
    res = run_cli("trust", "export", str(tmp_path / "x.tar.gz"))
    assert res.exit_code == 4 and "nothing to export for 'public-good'" in res.stderr
    assert not (tmp_path / "x.tar.gz").exists()
    assert run_cli("trust", "export", "a", "b", "c").exit_code == 2


@pytest.mark.parametrize("layout", ["flat", "split", "tar_with_top_dir"])
def test_import_layouts(layout: str, repo: TufRepo, tmp_path: Path) -> None:
    root1 = tmp_path / "r1.json"
    root1.write_bytes(repo.root_files[1])
    assert run_cli("trust", "init", "sim", "--root", str(root1)).exit_code == 0
    if layout == "flat":
        source = repo.out
    elif layout == "split":
        source = repo.copy_split(tmp_path / "checkout")
    else:
        source = _tar(tmp_path / "mirror.tar.gz", {f"mirror/{k}": v for k, v in _files(repo.out).items()})
    res = run_cli("trust", "import", "sim", str(source))
    assert res.exit_code == 0, res.stderr


def test_damaged_pack_is_reported_against_its_manifest(sim_trust: TufRepo, tmp_path: Path, home: Path) -> None:
    pack = tmp_path / "p.tar.gz"
    assert run_cli("trust", "export", "sim", str(pack)).exit_code == 0
    with tarfile.open(pack) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    members["metadata/timestamp.json"] = members["metadata/timestamp.json"].replace(b'"version"', b'"version" ')
    damaged = _tar(tmp_path / "damaged.tar.gz", members)
    before = store_digest(home)
    res = run_cli("trust", "import", "sim", str(damaged))
    assert res.exit_code == 4 and "[trustroot.tuf_hash_mismatch]" in res.stderr
    assert "metadata/timestamp.json" in res.stderr and "MANIFEST.json" in res.stderr
    del members["metadata/timestamp.json"]
    res = run_cli("trust", "import", "sim", str(_tar(tmp_path / "short.tar.gz", members)))
    assert res.exit_code == 4 and "[trustroot.tuf_media_incomplete]" in res.stderr
    assert "metadata/timestamp.json (listed in the pack's MANIFEST.json)" in res.stderr
    assert store_digest(home) == before


def _info(name: str, kind: bytes, **kw: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    for k, v in kw.items():
        setattr(info, k, v)
    return info


@pytest.mark.parametrize(
    ("members", "extra", "reason", "fragment"),
    [
        ({"/etc/passwd": b"x"}, [], Reason.TUF_MEDIA_UNSAFE, "not a plain relative path"),
        ({"metadata/../../x.json": b"x"}, [], Reason.TUF_MEDIA_UNSAFE, "path traversal"),
        ({"a\\b.json": b"x"}, [], Reason.TUF_MEDIA_UNSAFE, "not a plain relative path"),
        ({}, [_info("timestamp.json", tarfile.LNKTYPE, linkname="etc/passwd")], Reason.TUF_MEDIA_UNSAFE, "is a link"),
        ({}, [_info("timestamp.json", tarfile.SYMTYPE, linkname="../../x")], Reason.TUF_MEDIA_UNSAFE, "is a link"),
        ({}, [_info("dev", tarfile.CHRTYPE)], Reason.TUF_MEDIA_UNSAFE, "special file"),
        ({}, [_info("fifo", tarfile.FIFOTYPE)], Reason.TUF_MEDIA_UNSAFE, "special file"),
        ({"big.json": b"x" * 2048}, [], Reason.TUF_OVERSIZED, "cap 1024"),
    ],
)
def test_read_pack_refuses_unsafe_members(
    members: dict[str, bytes], extra: list[tarfile.TarInfo], reason: Reason, fragment: str, tmp_path: Path
) -> None:
    pack = _tar(tmp_path / "p.tar.gz", members, extra=extra)
    with pytest.raises(TrustRootError) as info:
        _media.read_pack(pack, DEFAULT_LIMITS._replace(max_pack_member_bytes=1024))
    assert info.value.reason is reason
    assert fragment in info.value.detail


def test_read_pack_caps(tmp_path: Path) -> None:
    pack = _tar(tmp_path / "p.tar.gz", {f"f{i}": b"0123456789" for i in range(5)})
    with pytest.raises(TrustRootError, match="more than 3 members"):
        _media.read_pack(pack, DEFAULT_LIMITS._replace(max_pack_members=3))
    with pytest.raises(TrustRootError, match="uncompressed"):
        _media.read_pack(pack, DEFAULT_LIMITS._replace(max_pack_total_bytes=25))
    with pytest.raises(TrustRootError, match="packs are capped"):
        _media.read_pack(pack, DEFAULT_LIMITS._replace(max_pack_bytes=10))
    not_tar = tmp_path / "n.tar.gz"
    not_tar.write_bytes(b"hello")
    with pytest.raises(TrustRootError) as info:
        _media.read_pack(not_tar)
    assert info.value.reason is Reason.TUF_FETCH_FAILED


def test_media_fetcher_serves_only_plain_relative_paths(repo: TufRepo) -> None:
    fetcher = MediaFetcher(_media.DirectorySource(repo.out))
    assert fetcher.download_bytes("media:/1.root.json", 1 << 20) == repo.root_files[1]
    with pytest.raises(tuf_exc.DownloadHTTPError) as missing:
        fetcher.download_bytes("media:/2.root.json", 1 << 20)
    assert missing.value.status_code == 404
    for url in ("media:/../repo/1.root.json", "media:/targets/..%2F..%2Fetc%2Fpasswd", "file:///etc/passwd"):
        with pytest.raises(tuf_exc.DownloadError) as info:
            fetcher.download_bytes(url, 1 << 20)
        assert isinstance(info.value.__cause__, TrustRootError)
        assert info.value.__cause__.reason is Reason.TUF_MEDIA_UNSAFE


def test_import_missing_source(tmp_path: Path) -> None:
    res = run_cli("trust", "import", str(tmp_path / "nowhere"))
    assert res.exit_code == 4 and "no such directory or pack" in res.stderr


def test_incomplete_media_lists_everything_missing(repo: TufRepo, tmp_path: Path) -> None:
    root1 = tmp_path / "r1.json"
    root1.write_bytes(repo.root_files[1])
    assert run_cli("trust", "init", "sim", "--root", str(root1)).exit_code == 0
    repo.rotate_root()
    repo.rotate_root()
    repo.rotate_root()
    repo.publish()
    for name in ("2.root.json", "3.root.json"):
        (repo.out / name).unlink()
    repo.target_path().unlink()
    res = run_cli("trust", "import", "sim", str(repo.out), "--json")
    assert res.exit_code == 4
    missing = json.loads(res.stdout)["context"]["missing"]
    assert [m.split(" ")[0] for m in missing] == ["2.root.json", "3.root.json", f"targets/{repo.target_path().name}"]
