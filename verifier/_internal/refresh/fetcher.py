"""python-tuf fetchers: reading media as if it were a repository, and recording what was served.

Owns:

* `MediaFetcher`, a `tuf.ngclient.fetcher.FetcherInterface` whose "downloads" of
  `media:/<relative path>` are reads from a media source; an absent file is an HTTP 404, so
  python-tuf's own rules decide everything that follows;
* `RecordingFetcher`, which wraps any fetcher and keeps (capped) copies of what it served, so
  explain.py can name the file, role and version behind a refusal afterwards.

Must not judge metadata (python-tuf does) or translate errors (explain.py does); the only
error raised here of our own is the refusal of a URL that is not on the media.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import unquote

from tuf.api import exceptions as tuf_exc
from tuf.ngclient.fetcher import FetcherInterface

from verifier._internal.limits import DEFAULT_LIMITS
from verifier._internal.refresh.media import MediaSource, check_relpath
from verifier.errors import Reason, TrustRootError

MEDIA_URL_PREFIX = "media:/"
ROLE_FILE_RE = re.compile(r"^(?:(\d+)\.)?(root|timestamp|snapshot|targets)\.json$")
"""`[N.]role.json`: group 1 the version (consistent snapshots), group 2 the role."""


def file_of(url: str) -> str:
    """The file name at the end of a URL."""
    return unquote(url.rsplit("/", 1)[-1])


class MediaFetcher(FetcherInterface):
    """Serves `media:/<relative path>` URLs from a directory or pack; absent files are 404s."""

    def __init__(self, source: MediaSource) -> None:
        self.source = source

    def _fetch(self, url: str) -> Iterator[bytes]:
        """The file's chunks.

        Raises:
            TrustRootError: `trustroot.tuf_media_unsafe` for a URL off the media or an unsafe
                path (python-tuf wraps it in a DownloadError; explain.py unwraps it).
            tuf.api.exceptions.DownloadHTTPError: 404 when the file is not on the media.
        """
        if not url.startswith(MEDIA_URL_PREFIX):
            raise TrustRootError(Reason.TUF_MEDIA_UNSAFE, f"refusing non-media URL {url!r}")
        rel = check_relpath(unquote(url[len(MEDIA_URL_PREFIX):]))
        chunks = self.source.chunks(rel)
        if chunks is None:
            raise tuf_exc.DownloadHTTPError(f"{rel} is not on the media", 404)
        return chunks


class RecordingFetcher(FetcherInterface):
    """Wraps a fetcher and remembers what it served, to explain a refusal afterwards."""

    def __init__(self, inner: FetcherInterface, record_cap: int = DEFAULT_LIMITS.max_tuf_record_bytes) -> None:
        self.inner = inner
        self.record_cap = record_cap
        self.bodies: dict[str, bytes] = {}
        self.last_url: str | None = None

    @property
    def last_file(self) -> str:
        """The file name of the last URL asked for ("?" before any)."""
        return file_of(self.last_url) if self.last_url else "?"

    def _fetch(self, url: str) -> Iterator[bytes]:
        self.last_url = url
        chunks = self.inner.fetch(url)
        return self._record(url, chunks)

    def _record(self, url: str, chunks: Iterator[bytes]) -> Iterator[bytes]:
        buf = bytearray()
        name = file_of(url)
        for chunk in chunks:
            # keep at most the cap (endless data is python-tuf's to refuse, not ours to hold)
            if len(buf) <= self.record_cap:
                buf += chunk
            yield chunk
        self.bodies[name] = bytes(buf)

    def body_for_role(self, role: str) -> bytes | None:
        """The highest-versioned body served for `role`, or None."""
        best: tuple[int, bytes] | None = None
        for fname, data in self.bodies.items():
            m = ROLE_FILE_RE.match(fname)
            if m and m.group(2) == role:
                version = int(m.group(1) or 0)
                if best is None or version >= best[0]:
                    best = (version, data)
        return best[1] if best else None
