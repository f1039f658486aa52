"""A TUF repository simulator for the trust tests, built with `tuf.api.metadata`.

`TufRepo` keeps real, signed metadata (ed25519 keys from securesystemslib's CryptoSigner) for
the four top-level roles and publishes it as files, in the flat layout of a mirrored TUF site:

    <out>/N.root.json  <out>/timestamp.json  <out>/V.snapshot.json  <out>/V.targets.json
    <out>/targets/<sha256>.trusted_root.json

`copy_split()` writes the `metadata/` + `targets/` layout instead; `serve_directory()` serves
either from a loopback `http.server` (127.0.0.1, a free port). Attacks are staged by calling
the publishing methods with unusual arguments (old versions, past expiry, wrong signers), or by
editing the published files directly; the repository never validates what it is asked to sign.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import shutil
from collections.abc import Iterable, Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

from securesystemslib.signer import CryptoSigner, Signer
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from tests.support.loopback import serve

ROLES = ("root", "timestamp", "snapshot", "targets")
TRUSTED_ROOT = "trusted_root.json"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


class TufRepo:
    """A signed TUF repository that publishes into a directory."""

    def __init__(
        self,
        out: Path,
        trusted_root: bytes,
        *,
        now: dt.datetime | None = None,
        expiry_days: int = 30,
        consistent_snapshot: bool = True,
        hashes_in_meta: bool = True,
    ) -> None:
        self.out = Path(out)
        (self.out / "targets").mkdir(parents=True, exist_ok=True)
        self.now = now or utcnow()
        self.expiry = dt.timedelta(days=expiry_days)
        self.hashes_in_meta = hashes_in_meta
        self.signers: dict[str, list[Signer]] = {role: [] for role in ROLES}
        self.root = Metadata(Root(expires=self.now + self.expiry, consistent_snapshot=consistent_snapshot))
        for role in ROLES:
            self.add_key(role)
        self.target_data: dict[str, bytes] = {TRUSTED_ROOT: trusted_root}
        self.targets = Metadata(Targets(expires=self.now + self.expiry))
        self.snapshot = Metadata(Snapshot(expires=self.now + self.expiry))
        self.timestamp = Metadata(Timestamp(expires=self.now + self.expiry))
        self._published: set[str] = set()
        self.targets_files: dict[int, bytes] = {}
        self.snapshot_files: dict[int, bytes] = {}
        self.root_files: dict[int, bytes] = {}
        self.publish_root()
        self.publish()

    # --- keys and signing --------------------------------------------------------------------

    @property
    def consistent(self) -> bool:
        return bool(self.root.signed.consistent_snapshot)

    def add_key(self, role: str, signer: Signer | None = None) -> Signer:
        signer = signer or CryptoSigner.generate_ed25519()
        self.root.signed.add_key(signer.public_key, role)
        self.signers[role].append(signer)
        return signer

    def replace_keys(self, role: str, count: int = 1, threshold: int = 1) -> list[Signer]:
        """Revoke every key of `role` and add `count` fresh ones; returns the old signers."""
        old = self.signers[role]
        for signer in old:
            self.root.signed.revoke_key(signer.public_key.keyid, role)
        self.signers[role] = []
        for _ in range(count):
            self.add_key(role)
        self.root.signed.roles[role].threshold = threshold
        return old

    @staticmethod
    def sign(md: Metadata, signers: Iterable[Signer]) -> bytes:
        md.signatures.clear()
        for signer in signers:
            md.sign(signer, append=True)
        return md.to_bytes(JSONSerializer(compact=False))

    # --- publishing --------------------------------------------------------------------------

    def publish_root(
        self,
        *,
        signers: Iterable[Signer] | None = None,
        expires: dt.datetime | None = None,
    ) -> bytes:
        """Sign the current root (with its own keys unless `signers` is given) and write it."""
        if expires is not None:
            self.root.signed.expires = expires
        data = self.sign(self.root, self.signers["root"] if signers is None else signers)
        version = self.root.signed.version
        self.root_files[version] = data
        (self.out / f"{version}.root.json").write_bytes(data)
        return data

    def rotate_root(
        self,
        *,
        roles: Iterable[str] = ("root",),
        count: int = 1,
        threshold: int = 1,
        sign_with_old: bool = True,
        sign_with_new: bool = True,
        expires: dt.datetime | None = None,
    ) -> bytes:
        """Publish root v+1 with fresh keys for `roles`, signed by old and/or new root keys."""
        old_root_signers = list(self.signers["root"])
        for role in roles:
            self.replace_keys(role, count=count, threshold=threshold)
        self.root.signed.version += 1
        self.root.signed.expires = expires or self.now + self.expiry
        signers: list[Signer] = []
        if sign_with_old:
            signers += old_root_signers
        if sign_with_new:
            signers += [s for s in self.signers["root"] if s not in signers]
        return self.publish_root(signers=signers)

    def bump_root(self, *, expires: dt.datetime | None = None) -> bytes:
        self.root.signed.version += 1
        self.root.signed.expires = expires or self.now + self.expiry
        return self.publish_root()

    def _meta(self, version: int, data: bytes) -> MetaFile:
        if self.hashes_in_meta:
            return MetaFile(version=version, length=len(data), hashes={"sha256": hashlib.sha256(data).hexdigest()})
        return MetaFile(version=version)

    def set_target(self, name: str, data: bytes) -> None:
        self.target_data[name] = data

    def publish_targets(
        self, *, expires: dt.datetime | None = None, signers: Iterable[Signer] | None = None
    ) -> int:
        t = self.targets.signed
        if "targets" in self._published:
            t.version += 1
        self._published.add("targets")
        t.expires = expires or self.now + self.expiry
        t.targets = {
            name: TargetFile.from_data(name, data, ["sha256"]) for name, data in self.target_data.items()
        }
        for name, data in self.target_data.items():
            digest = hashlib.sha256(data).hexdigest()
            fname = f"{digest}.{Path(name).name}" if self.consistent else Path(name).name
            (self.out / "targets" / fname).write_bytes(data)
        data = self.sign(self.targets, self.signers["targets"] if signers is None else signers)
        self.targets_files[t.version] = data
        (self.out / (f"{t.version}.targets.json" if self.consistent else "targets.json")).write_bytes(data)
        return t.version

    def publish_snapshot(
        self,
        *,
        targets_version: int | None = None,
        expires: dt.datetime | None = None,
        signers: Iterable[Signer] | None = None,
    ) -> int:
        s = self.snapshot.signed
        tv = targets_version if targets_version is not None else self.targets.signed.version
        if "snapshot" in self._published:
            s.version += 1
        self._published.add("snapshot")
        s.expires = expires or self.now + self.expiry
        s.meta = {"targets.json": self._meta(tv, self.targets_files[tv])}
        data = self.sign(self.snapshot, self.signers["snapshot"] if signers is None else signers)
        self.snapshot_files[s.version] = data
        (self.out / (f"{s.version}.snapshot.json" if self.consistent else "snapshot.json")).write_bytes(data)
        return s.version

    def publish_timestamp(
        self,
        *,
        snapshot_version: int | None = None,
        version: int | None = None,
        expires: dt.datetime | None = None,
        signers: Iterable[Signer] | None = None,
    ) -> int:
        ts = self.timestamp.signed
        sv = snapshot_version if snapshot_version is not None else self.snapshot.signed.version
        if version is not None:
            ts.version = version
        elif "timestamp" in self._published:
            ts.version += 1
        self._published.add("timestamp")
        ts.expires = expires or self.now + self.expiry
        ts.snapshot_meta = self._meta(sv, self.snapshot_files[sv])
        data = self.sign(self.timestamp, self.signers["timestamp"] if signers is None else signers)
        (self.out / "timestamp.json").write_bytes(data)
        return ts.version

    def publish(self, **expires: dt.datetime) -> None:
        """A normal release: new targets, snapshot and timestamp (optional per-role expiry)."""
        self.publish_targets(expires=expires.get("targets"))
        self.publish_snapshot(expires=expires.get("snapshot"))
        self.publish_timestamp(expires=expires.get("timestamp"))

    # --- files -------------------------------------------------------------------------------

    def target_path(self, name: str = TRUSTED_ROOT) -> Path:
        digest = hashlib.sha256(self.target_data[name]).hexdigest()
        return self.out / "targets" / (f"{digest}.{name}" if self.consistent else name)

    def snapshot_copy(self, dest: Path) -> Path:
        """Freeze the published files as they are now (an old pack an attacker could replay)."""
        shutil.copytree(self.out, dest)
        return dest

    def copy_split(self, dest: Path) -> Path:
        """The repository-checkout layout: metadata/ + targets/."""
        (dest / "metadata").mkdir(parents=True)
        for path in self.out.iterdir():
            if path.is_file():
                shutil.copy2(path, dest / "metadata" / path.name)
        shutil.copytree(self.out / "targets", dest / "targets")
        return dest


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _EndlessHandler(_QuietHandler):
    """Serves the directory, except that `endless_path` streams data without end."""

    endless_path = "/timestamp.json"

    def do_GET(self) -> None:
        if self.path != self.endless_path:
            super().do_GET()
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        chunk = b"{" + b" " * 65535
        with contextlib.suppress(OSError):
            for _ in range(1024):  # at most 64 MiB, then give up
                self.wfile.write(chunk)


@contextlib.contextmanager
def serve_directory(path: Path, *, endless: str | None = None) -> Iterator[str]:
    """Serve `path` on 127.0.0.1 (free port); yields the base URL. `endless`: a path to stream."""
    handler: type[SimpleHTTPRequestHandler] = _QuietHandler
    if endless is not None:
        handler = type("Endless", (_EndlessHandler,), {"endless_path": endless})
    with serve(functools.partial(handler, directory=str(path)), "tuf-repository") as base_url:
        yield base_url
