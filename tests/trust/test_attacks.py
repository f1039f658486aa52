"""The TUF attack suite, run through the CLI (`airseal trust import`) against a real, signed
repository from tests/support/tuf_simulator.py.

Every attack must be refused with exit 4, its own reason code and a message naming what was
wrong, and must leave the stored state byte-for-byte unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner

from tests.support.tuf_simulator import TRUSTED_ROOT, TufRepo
from tests.trust.conftest import run_cli, store_digest

PAST = dt.timedelta(days=1)


def _advance(repo: TufRepo) -> None:
    """Publish and import a normal release, so the store trusts newer versions than v1."""
    repo.publish()
    res = run_cli("trust", "import", "sim", str(repo.out))
    assert res.exit_code == 0, res.stderr


def timestamp_rollback(repo: TufRepo, tmp: Path) -> Path:
    old = repo.snapshot_copy(tmp / "old-media")
    _advance(repo)
    return old


def snapshot_rollback(repo: TufRepo, tmp: Path) -> Path:
    _advance(repo)
    repo.publish_timestamp(snapshot_version=1)
    return repo.out


def targets_rollback(repo: TufRepo, tmp: Path) -> Path:
    _advance(repo)
    repo.publish_snapshot(targets_version=1)
    repo.publish_timestamp()
    return repo.out


def root_rollback(repo: TufRepo, tmp: Path) -> Path:
    repo.bump_root()
    _advance(repo)
    (repo.out / "3.root.json").write_bytes(repo.root_files[1])
    return repo.out


def freeze_timestamp(repo: TufRepo, tmp: Path) -> Path:
    repo.publish_timestamp(expires=repo.now - PAST)
    return repo.out


def freeze_snapshot(repo: TufRepo, tmp: Path) -> Path:
    repo.publish_snapshot(expires=repo.now - PAST)
    repo.publish_timestamp()
    return repo.out


def freeze_targets(repo: TufRepo, tmp: Path) -> Path:
    repo.publish_targets(expires=repo.now - PAST)
    repo.publish_snapshot()
    repo.publish_timestamp()
    return repo.out


def freeze_root(repo: TufRepo, tmp: Path) -> Path:
    repo.bump_root(expires=repo.now - PAST)
    repo.publish()
    return repo.out


def mix_and_match_hashes(repo: TufRepo, tmp: Path) -> Path:
    repo.publish()
    (repo.out / "2.snapshot.json").write_bytes(repo.snapshot_files[1])
    return repo.out


def mix_and_match_versions(repo: TufRepo, tmp: Path) -> Path:
    repo.hashes_in_meta = False  # the timestamp names a version only, as Sigstore's does
    repo.publish()
    (repo.out / "2.snapshot.json").write_bytes(repo.snapshot_files[1])
    return repo.out


def bad_signature(repo: TufRepo, tmp: Path) -> Path:
    repo.publish()
    doc = json.loads((repo.out / "timestamp.json").read_bytes())
    sig = doc["signatures"][0]["sig"]
    doc["signatures"][0]["sig"] = ("0" if sig[0] != "0" else "1") + sig[1:]
    (repo.out / "timestamp.json").write_text(json.dumps(doc))
    return repo.out


def wrong_key(repo: TufRepo, tmp: Path) -> Path:
    repo.publish_timestamp(signers=[CryptoSigner.generate_ed25519()])
    return repo.out


def threshold_unmet(repo: TufRepo, tmp: Path) -> Path:
    repo.add_key("timestamp")
    repo.root.signed.roles["timestamp"].threshold = 2
    repo.bump_root()
    repo.publish_timestamp(signers=repo.signers["timestamp"][:1])
    return repo.out


def rotation_new_keys_only(repo: TufRepo, tmp: Path) -> Path:
    repo.rotate_root(sign_with_old=False)
    repo.publish()
    return repo.out


def rotation_old_keys_only(repo: TufRepo, tmp: Path) -> Path:
    repo.rotate_root(sign_with_new=False)
    repo.publish()
    return repo.out


def missing_root_in_chain(repo: TufRepo, tmp: Path) -> Path:
    repo.rotate_root()
    repo.rotate_root(roles=("root", "timestamp"))
    repo.publish()
    (repo.out / "2.root.json").unlink()
    return repo.out


def missing_snapshot(repo: TufRepo, tmp: Path) -> Path:
    repo.publish()
    (repo.out / "2.snapshot.json").unlink()
    return repo.out


def tampered_target(repo: TufRepo, tmp: Path) -> Path:
    doc = json.loads(repo.target_data[TRUSTED_ROOT])
    doc["tlogs"] = doc["tlogs"][:1]
    repo.set_target(TRUSTED_ROOT, json.dumps(doc).encode())
    repo.publish()
    path = repo.target_path()
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))
    return repo.out


def oversized_root(repo: TufRepo, tmp: Path) -> Path:
    (repo.out / "2.root.json").write_bytes(b"{" + b" " * 600_000 + b"}")
    return repo.out


def endless_timestamp_file(repo: TufRepo, tmp: Path) -> Path:
    (repo.out / "timestamp.json").write_bytes(b"{" + b" " * (4 << 20))
    return repo.out


def target_name_traversal(repo: TufRepo, tmp: Path) -> Path:
    """A signed targets role that names only '../../escape.json': nothing is written for it."""
    repo.target_data = {"../../escape.json": b"{}"}
    repo.publish()
    return repo.out


def tar_path_traversal(repo: TufRepo, tmp: Path) -> Path:
    repo.publish()
    out = tmp / "evil.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(repo.out.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=path.relative_to(repo.out).as_posix())
        evil = tmp / "evil.json"
        evil.write_text("{}")
        tar.add(evil, arcname="../../evil.json")
    return out


def tar_symlink(repo: TufRepo, tmp: Path) -> Path:
    repo.publish()
    out = tmp / "link.tar.gz"
    with tarfile.open(out, "w:gz") as tar:
        for path in sorted(repo.out.rglob("*")):
            if path.is_file() and path.name != "timestamp.json":
                tar.add(path, arcname=path.relative_to(repo.out).as_posix())
        info = tarfile.TarInfo("timestamp.json")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    return out


def directory_symlink(repo: TufRepo, tmp: Path) -> Path:
    repo.publish()
    outside = tmp / "outside.json"
    outside.write_bytes((repo.out / "timestamp.json").read_bytes())
    (repo.out / "timestamp.json").unlink()
    os.symlink(outside, repo.out / "timestamp.json")
    return repo.out


ATTACKS: dict[str, tuple[Callable[[TufRepo, Path], Path], str, tuple[str, ...]]] = {
    "timestamp_rollback": (timestamp_rollback, "trustroot.tuf_rollback",
                           ("timestamp rollback", "offers timestamp v1", "already trusts v2")),
    "snapshot_rollback": (snapshot_rollback, "trustroot.tuf_rollback",
                          ("snapshot rollback", "names snapshot v1", "already trusts snapshot v2")),
    "targets_rollback": (targets_rollback, "trustroot.tuf_rollback",
                         ("targets rollback", "lists targets v1", "already trusts targets v2")),
    "root_rollback": (root_rollback, "trustroot.tuf_rollback",
                      ("root rollback", "3.root.json holding root v1", "already trusts root v2")),
    "freeze_timestamp": (freeze_timestamp, "trustroot.tuf_expired", ("timestamp v2", "expired on")),
    "freeze_snapshot": (freeze_snapshot, "trustroot.tuf_expired", ("snapshot v2", "expired on")),
    "freeze_targets": (freeze_targets, "trustroot.tuf_expired", ("targets v2", "expired on")),
    "freeze_root": (freeze_root, "trustroot.tuf_expired", ("root v2", "expired on")),
    "mix_and_match_hashes": (mix_and_match_hashes, "trustroot.tuf_hash_mismatch",
                             ("2.snapshot.json", "timestamp v2 records")),
    "mix_and_match_versions": (mix_and_match_versions, "trustroot.tuf_bad_metadata",
                               ("mix-and-match", "names snapshot v2", "holds v1")),
    "bad_signature": (bad_signature, "trustroot.tuf_unsigned",
                      ("timestamp v2", "0 of the timestamp keys of trusted root v1", "NOT met")),
    "wrong_key": (wrong_key, "trustroot.tuf_unsigned", ("timestamp v2", "0 of the timestamp keys")),
    "threshold_unmet": (threshold_unmet, "trustroot.tuf_unsigned",
                        ("timestamp v2", "1 of the timestamp keys of trusted root v2", "threshold 2 NOT met")),
    "rotation_new_keys_only": (rotation_new_keys_only, "trustroot.tuf_unsigned",
                               ("root v2", "0 of the root keys of trusted root v1", "signed only by new keys")),
    "rotation_old_keys_only": (rotation_old_keys_only, "trustroot.tuf_unsigned",
                               ("root v2", "root keys of the new root v2 itself signed, threshold 1 NOT met")),
    "missing_root_in_chain": (missing_root_in_chain, "trustroot.tuf_media_incomplete",
                              ("2.root.json", "root version 2 is missing from the chain v1 -> v3")),
    "missing_snapshot": (missing_snapshot, "trustroot.tuf_media_incomplete",
                         ("2.snapshot.json", "snapshot v2, named by the timestamp")),
    "tampered_target": (tampered_target, "trustroot.tuf_hash_mismatch",
                        ("trusted_root.json", "targets v2 records")),
    "oversized_root": (oversized_root, "trustroot.tuf_oversized", ("2.root.json", "root metadata")),
    "endless_timestamp_file": (endless_timestamp_file, "trustroot.tuf_oversized",
                               ("timestamp.json", "timestamp metadata")),
    "target_name_traversal": (target_name_traversal, "trustroot.tuf_bad_metadata",
                              ("does not list trusted_root.json",)),
    "tar_path_traversal": (tar_path_traversal, "trustroot.tuf_media_unsafe", ("../../evil.json", "traversal")),
    "tar_symlink": (tar_symlink, "trustroot.tuf_media_unsafe", ("timestamp.json", "is a link")),
    "directory_symlink": (directory_symlink, "trustroot.tuf_media_unsafe", ("timestamp.json", "symbolic link")),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_refused_and_store_unchanged(attack: str, sim_trust: TufRepo, home: Path, tmp_path: Path) -> None:
    stage, reason, fragments = ATTACKS[attack]
    media = stage(sim_trust, tmp_path)
    before = store_digest(home)
    shown_before = run_cli("trust", "show", "sim", "--json").stdout

    res = run_cli("trust", "import", "sim", str(media))

    assert res.exit_code == 4, (res.output, res.stderr)
    assert f"[{reason}]" in res.stderr, res.stderr
    first_line = res.stderr.splitlines()[0]
    for fragment in fragments:
        assert fragment in first_line, (fragment, first_line)
    assert "Traceback" not in res.stderr
    assert store_digest(home) == before
    assert run_cli("trust", "show", "sim", "--json").stdout == shown_before
    assert not list((home / "trust").glob(".staging-*"))
    assert not list(home.rglob("escape.json")) and not list(home.rglob("evil.json"))


def test_attack_json_error_shape(sim_trust: TufRepo, tmp_path: Path) -> None:
    media = freeze_timestamp(sim_trust, tmp_path)
    res = run_cli("trust", "import", "sim", str(media), "--json")
    assert res.exit_code == 4
    doc = json.loads(res.stdout)
    assert doc["ok"] is False and doc["reason_code"] == "trustroot.tuf_expired"
    assert doc["context"]["role"] == "timestamp"


def test_good_rotation_with_new_keys_and_threshold_is_accepted(sim_trust: TufRepo) -> None:
    sim_trust.rotate_root(roles=("root", "timestamp", "snapshot", "targets"), count=3, threshold=2)
    sim_trust.rotate_root(roles=("root",), count=2, threshold=2)
    sim_trust.publish()
    res = run_cli("trust", "import", "sim", str(sim_trust.out))
    assert res.exit_code == 0, res.stderr
    assert "root v3 (was v1)" in res.output
    assert json.loads(run_cli("trust", "show", "sim", "--json").stdout)["root_version"] == 3


def test_fast_forward_recovery(sim_trust: TufRepo, home: Path) -> None:
    # A compromised timestamp key publishes v100; the client accepts it (it is validly signed).
    sim_trust.publish_timestamp(version=100)
    assert run_cli("trust", "import", "sim", str(sim_trust.out)).exit_code == 0
    # The repository's real timestamp v3 now looks like a rollback...
    sim_trust.publish_timestamp(version=3)
    res = run_cli("trust", "import", "sim", str(sim_trust.out))
    assert res.exit_code == 4 and "already trusts v100" in res.stderr
    # ...until the repository rotates the timestamp key: the stale v100 no longer verifies under
    # the new root, so the client forgets it and accepts v3 (TUF spec 5.3.11).
    sim_trust.rotate_root(roles=("timestamp",))
    sim_trust.publish_timestamp(version=3)
    res = run_cli("trust", "import", "sim", str(sim_trust.out))
    assert res.exit_code == 0, res.stderr
    shown = json.loads(run_cli("trust", "show", "sim", "--json").stdout)
    assert (shown["root_version"], shown["timestamp_version"]) == (2, 3)
