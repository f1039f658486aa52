"""The one reader of a bounded input file: bundle, key, trusted root, predicate, policy.

Opens without blocking and refuses anything but a regular file before reading a byte, so a
FIFO with no writer (or a device, or a directory) given as `--bundle`, `--key` or
`--trusted-root` is an error at once instead of a hang; reads at most one byte more than the
cap, so an oversized file is refused without being read whole.
"""

from __future__ import annotations

import os
import stat

from verifier._internal.encoding import shorten, size_text
from verifier.errors import AirsealError, InputError, Reason

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)


def read_input_file(
    path: str | os.PathLike[str],
    *,
    what: str,
    reason: Reason,
    max_bytes: int,
    error: type[AirsealError] = InputError,
) -> bytes:
    """The bytes of the regular file `path`, at most `max_bytes` of them.

    Raises:
        `error` with `reason`: the file cannot be opened or read, or is not a regular file.
        InputError: `input.too_large` when it holds more than `max_bytes`.
    """
    shown = shorten(os.fspath(path))
    try:
        fd = os.open(path, _FLAGS)
    except OSError as exc:
        raise error(reason, f"cannot read {what} {shown!r}: {exc.strerror or exc}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "a FIFO" if stat.S_ISFIFO(st.st_mode) else "not a regular file"
            raise error(reason, f"cannot read {what} {shown!r}: it is {kind}; give a regular file")
        if st.st_size > max_bytes:
            raise InputError(Reason.INPUT_TOO_LARGE, f"{what} {shown!r} is larger than {size_text(max_bytes)}")
        chunks: list[bytes] = []
        total = 0
        while total <= max_bytes:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise error(reason, f"cannot read {what} {shown!r}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    if total > max_bytes:
        raise InputError(Reason.INPUT_TOO_LARGE, f"{what} {shown!r} is larger than {size_text(max_bytes)}")
    return b"".join(chunks)


__all__ = ["read_input_file"]
