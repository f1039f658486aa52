"""Atomic, durable file replacement: one implementation for bundles, trust state and packs.

A temporary file in the target's directory (so the rename stays on one filesystem) is written,
fsynced and renamed over the target; readers see the old file or the new one, never a mix, and
a failure leaves the target untouched and no temporary file behind. Leaf module: stdlib only,
and `tempfile` is imported only when something is written (verify never writes).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO, Iterator


def fsync_dir(directory: Path) -> None:
    """Make a rename in `directory` durable. Best effort: not every platform allows it."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: Path, *, mode: int = 0o644, sync_dir: bool = True) -> Iterator[BinaryIO]:
    """Yield a binary file; when the block ends normally it replaces `path` durably.

    `sync_dir=False` leaves the directory fsync to a caller that writes many files into one
    directory. OSError (creating, writing, renaming) propagates for the caller to translate.
    """
    import tempfile

    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if sync_dir:
        fsync_dir(directory)
