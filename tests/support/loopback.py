"""One way to serve a test HTTP handler on 127.0.0.1: a free port, a daemon thread, a clean stop.

Used by the in-process stand-ins (the RFC 3161 responder, the TUF repository server, the OIDC
issuer and the CT log for Fulcio); the real Sigstore services run as processes
(`tests/support/services.py`).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """A request handler that keeps the test output clean and answers JSON in one call."""

    def send_json(self, doc: Any, status: int = 200) -> None:
        raw = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextlib.contextmanager
def serve(handler: Callable[..., http.server.BaseHTTPRequestHandler], name: str) -> Iterator[str]:
    """Serve `handler` on a free 127.0.0.1 port until the block ends; yields `http://127.0.0.1:PORT`."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
