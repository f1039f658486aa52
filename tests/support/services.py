"""Real Sigstore services on loopback for tests: start, wait until they answer, stop.

Each service runs from a binary that ``scripts/services.sh`` built once into
``${AIRSEAL_TOOLS:-~/.cache/airseal-tools}/bin`` (outside git), in a fresh temporary state
directory, on a free 127.0.0.1 port:

* :func:`rekor_v2`: Rekor v2 (rekor-tiles, POSIX storage backend). Its checkpoint signing key is
  made here (Ed25519 by default, or ECDSA P-256); :meth:`RekorV2.tlog_entry` is its trusted-root
  ``tlogs`` element.
* :func:`timestamp_authority`: sigstore/timestamp-authority with its in-memory signer;
  :meth:`TimestampAuthority.tsa_entry` is its ``timestampAuthorities`` element.
* :func:`rekor_v1_mock`: a Rekor v1 stand-in (npm ``@sigstore/mock`` behind
  ``tests/support/services/rekor_v1_mock/server.mjs``); see that file for what it does not do.
* :func:`rekor_v1`: the real Rekor v1 (rekor-server, Trillian, MariaDB).
* :func:`fulcio`: Fulcio with its ephemeral CA, trusting one OIDC issuer (the tests' own,
  ``tests/support/oidc_issuer.py``) and asking a CT log (``tests/support/ct_log.py``) for SCTs;
  :meth:`Fulcio.ca_entry` is its ``certificateAuthorities`` element.

Each is a context manager yielding a handle with ``url`` and helpers; leaving the ``with`` block
stops the process (SIGTERM, then SIGKILL) and removes its state directory. A missing binary
raises :class:`ServiceUnavailable` so that a fixture can turn it into a skip.
:func:`trusted_root` and :func:`signing_config` build the JSON documents that combine them.

Only the standard library and ``cryptography`` are used.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import datetime as _dt
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

HERE = Path(__file__).resolve().parent
REKOR_V1_MOCK_DIR = HERE / "services" / "rekor_v1_mock"

TRUSTED_ROOT_MEDIA_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
SIGNING_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"

# How long a service may take to answer its first request (first start of a Go binary on a
# busy 2-core machine is the slow case).
START_TIMEOUT = 20.0
STOP_TIMEOUT = 5.0


class ServiceUnavailable(RuntimeError):
    """The binary (or runtime) a service needs is not installed: skip, don't fail."""


class ServiceFailed(RuntimeError):
    """The service exited or did not answer in time; the message carries its log's tail."""


# ----------------------------------------------------------------------------- tools


def tools_dir() -> Path:
    return Path(os.environ.get("AIRSEAL_TOOLS") or Path.home() / ".cache" / "airseal-tools")


def skip_or_fail(reason: str) -> None:
    """Skip a test whose service is missing on a user's machine; fail it in CI.

    CI (CI=true) has run scripts/setup.sh, which builds every service: a missing one there is
    a broken install step, and a skip would hide it.
    """
    import pytest

    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI installs every service: see scripts/services.sh)")
    pytest.skip(reason)


def tool(name: str) -> Path:
    """The path of a binary built by scripts/services.sh, or raise ServiceUnavailable."""
    path = tools_dir() / "bin" / name
    if not (path.is_file() and os.access(path, os.X_OK)):
        raise ServiceUnavailable(f"{path} is absent: run `bash scripts/services.sh` to build it")
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loopback_with_free_port_80() -> str:
    """A 127.0.0.N (N >= 2) whose port 80 can be bound now (needs root), for a service whose
    base URL must carry no port: clients differ on whether a checkpoint origin includes the
    port (sigstore-go uses the URL's host name, airseal the host and port), and with port 80
    the URL is ``http://127.0.0.N`` and both read the origin as ``127.0.0.N``."""
    for n in range(2, 255):
        addr = f"127.0.0.{n}"
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((addr, 80))
            except PermissionError:
                raise ServiceUnavailable("binding port 80 needs root (or CAP_NET_BIND_SERVICE)") from None
            except OSError:
                continue
            return addr
    raise ServiceUnavailable("no 127.0.0.N with a free port 80")


def _base_url(address: str, port: int) -> str:
    return f"http://{address}" if port == 80 else f"http://{address}:{port}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _rfc3339(when: _dt.datetime) -> str:
    return when.astimezone(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def log_instance(base_url: str, spki_der: bytes, key_details: str, log_id: bytes, valid_from: _dt.datetime) -> dict:
    """A trusted root's transparency-log element (``tlogs`` or ``ctlogs``) for a log's key."""
    return {
        "baseUrl": base_url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {"rawBytes": b64(spki_der), "keyDetails": key_details, "validFor": {"start": _rfc3339(valid_from)}},
        "logId": {"keyId": b64(log_id)},
    }


# ----------------------------------------------------------------------------- processes


@dataclass
class _Proc:
    process: subprocess.Popen
    log_path: Path
    argv: Sequence[str] = ()
    state_dir: Path | None = None
    name: str = ""

    def log_tail(self, limit: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-limit:]
        except OSError:
            return ""

    def check_alive(self, what: str) -> None:
        if self.process.poll() is not None:
            raise ServiceFailed(
                f"{what} exited with status {self.process.returncode}; log tail:\n{self.log_tail()}"
            )


def _spawn(argv: Sequence[str], state_dir: Path, name: str, stdout: int | IO | None = None) -> _Proc:
    log_path = state_dir / f"{name}.log"
    log = open(log_path, "wb")  # noqa: SIM115 - the child keeps it open; closed in _stop
    process = subprocess.Popen(
        list(argv),
        cwd=state_dir,
        stdin=subprocess.DEVNULL,
        stdout=log if stdout is None else stdout,
        stderr=log,
        start_new_session=True,  # its own process group: no terminal signals, stop it alone
    )
    log.close()  # the child holds its own copy
    return _Proc(process, log_path, list(argv), state_dir, name)


def _stop(proc: _Proc, timeout: float = STOP_TIMEOUT) -> None:
    """Terminate, wait, then kill: only this process, never anything found by name."""
    p = proc.process
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=STOP_TIMEOUT)
    if p.stdout is not None:
        p.stdout.close()


def _wait_http(proc: _Proc, url: str, what: str, timeout: float = START_TIMEOUT) -> bytes:
    """Poll GET url until it answers 2xx; fail early if the process exits."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        proc.check_alive(what)
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return resp.read()
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            last = exc
        time.sleep(0.05)
    raise ServiceFailed(f"{what} did not answer {url} within {timeout}s ({last}); log:\n{proc.log_tail()}")


@contextlib.contextmanager
def _state_dir(prefix: str, keep: bool = False) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def http_json(method: str, url: str, body: object | None = None, timeout: float = 10.0) -> tuple[int, object]:
    """(status, parsed JSON or text) for one request; HTTP errors are returned, not raised."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


class _Restartable:
    """Kill a running service (SIGKILL, as a crash) and start it again with the same command
    line and state: for tests of a service dying in the middle of a batch. The helper's exit
    stops whichever process is current."""

    _proc: _Proc
    _ready_path: str = ""
    url: str

    def kill(self) -> None:
        p = self._proc.process
        if p.poll() is None:
            p.kill()
            p.wait(timeout=STOP_TIMEOUT)

    def restart(self) -> None:
        self.kill()
        old = self._proc
        assert old.state_dir is not None
        self._proc = _spawn(old.argv, old.state_dir, old.name + "-restarted")
        _wait_http(self._proc, self.url + self._ready_path, old.name)


# ----------------------------------------------------------------------------- Rekor v2

KEY_DETAILS = {
    "ed25519": "PKIX_ED25519",
    "ecdsa-p256": "PKIX_ECDSA_P256_SHA_256",
}


def signed_note_key_id(origin: str, public_key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey) -> bytes:
    """The 32-byte log id rekor-tiles puts in ``logId.keyId`` (and whose first 4 bytes are the
    checkpoint signature's key hint).

    Ed25519 follows C2SP signed-note: SHA-256(origin || "\\n" || 0x01 || raw 32-byte key).
    ECDSA keys do not (there is no note signature type for them): SHA-256(DER SPKI).
    """
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(origin.encode() + b"\n" + b"\x01" + raw).digest()
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return hashlib.sha256(der).digest()
    raise TypeError(f"rekor-tiles signs checkpoints with Ed25519 or ECDSA here, not {type(public_key)}")


@dataclass
class RekorV2(_Restartable):
    _ready_path = "/healthz"
    url: str
    origin: str
    key_type: str
    private_key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
    state_dir: Path
    valid_from: _dt.datetime
    _proc: _Proc = field(repr=False)

    @property
    def public_key_der(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def log_id(self) -> bytes:
        return signed_note_key_id(self.origin, self.private_key.public_key())

    def tlog_entry(self) -> dict:
        """This log's element of a trusted root's ``tlogs``."""
        return log_instance(self.url, self.public_key_der, KEY_DETAILS[self.key_type], self.log_id, self.valid_from)

    def tree_size(self) -> int:
        """The size in the log's latest published checkpoint (a file: the POSIX server serves no reads)."""
        path = self.state_dir / "log" / "checkpoint"
        return int(path.read_text().split("\n")[1]) if path.is_file() else 0

    def create_entry(self, request: dict) -> tuple[int, object]:
        """POST a CreateEntryRequest (protobuf JSON) to /api/v2/log/entries."""
        return http_json("POST", self.url + "/api/v2/log/entries", request, timeout=30)

    def log_tail(self) -> str:
        return self._proc.log_tail()


def hashedrekord_v002_request(digest: bytes, signature: bytes, public_key_der: bytes, key_details: str) -> dict:
    """A Rekor v2 CreateEntryRequest for hashedrekord 0.0.2, signed by a bare public key."""
    return {
        "hashedRekordRequestV002": {
            "digest": b64(digest),
            "signature": {
                "content": b64(signature),
                "verifier": {"publicKey": {"rawBytes": b64(public_key_der)}, "keyDetails": key_details},
            },
        }
    }


@contextlib.contextmanager
def rekor_v2(
    key_type: str = "ed25519",
    origin: str | None = None,
    checkpoint_interval: str = "100ms",
    batch_max_age: str = "50ms",
    keep_state: bool = False,
    address: str = "127.0.0.1",
    port: int | None = None,
) -> Iterator[RekorV2]:
    """Run rekor-tiles (POSIX) on loopback.

    ``origin`` is the checkpoint origin (``--hostname``), by default ``address``. sigstore-go
    (cosign) checks a v2 checkpoint against the *host name* of the trusted root's ``baseUrl``
    (no port); airseal takes the base URL without its scheme (host and port). Both agree only
    when the URL has no port: pass ``address=loopback_with_free_port_80(), port=80``.
    """
    binary = tool("rekor-tiles-posix")
    if key_type == "ed25519":
        key = ed25519.Ed25519PrivateKey.generate()
    elif key_type == "ecdsa-p256":
        key = ec.generate_private_key(ec.SECP256R1())
    else:
        raise ValueError(f"key_type must be one of {sorted(KEY_DETAILS)}")
    with _state_dir("airseal-rekor-v2-", keep_state) as state:
        key_path = state / "signer.pem"
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        http_port, grpc_port, metrics_port = port or free_port(), free_port(), free_port()
        origin = origin or address
        argv = [
            str(binary), "serve",
            f"--http-address={address}", f"--http-port={http_port}",
            "--grpc-address=127.0.0.1", f"--grpc-port={grpc_port}",
            f"--http-metrics-port={metrics_port}",
            f"--hostname={origin}",
            f"--storage-dir={state / 'log'}",
            f"--signer-filepath={key_path}",
            f"--checkpoint-interval={checkpoint_interval}",
            f"--batch-max-age={batch_max_age}",
            "--tlog-timeout=5s",
        ]  # fmt: skip
        valid_from = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=1)
        proc = _spawn(argv, state, "rekor-v2")
        try:
            url = _base_url(address, http_port)
            _wait_http(proc, url + "/healthz", "rekor-tiles")
            handle = RekorV2(url, origin, key_type, key, state, valid_from.replace(microsecond=0), proc)
            yield handle
        finally:
            _stop(handle._proc if "handle" in locals() else proc)


# ----------------------------------------------------------------------------- TSA

# timestamp-server always binds its Prometheus endpoint to :2112 (all interfaces; no flag
# changes it) and exits if that port is taken. So only one can run on a machine at a time:
# this lock serialises them across processes (e.g. pytest-xdist workers).
_TSA_LOCK = Path(tempfile.gettempdir()) / "airseal-timestamp-server.lock"
TSA_METRICS_PORT = 2112


@dataclass
class TimestampAuthority(_Restartable):
    """`restart` keeps the URL but the in-memory signer makes a NEW chain: read `chain` after."""

    _ready_path = "/api/v1/timestamp/certchain"
    url: str
    chain: list[x509.Certificate]  # leaf first, root last, as /certchain serves it
    valid_from: _dt.datetime
    state_dir: Path
    _proc: _Proc = field(repr=False)

    @property
    def timestamp_url(self) -> str:
        """Where RFC 3161 requests go (a signing config's ``tsaUrls`` wants this full URL)."""
        return self.url + "/api/v1/timestamp"

    @property
    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    def tsa_entry(self, common_name: str = "airseal test TSA") -> dict:
        """This TSA's element of a trusted root's ``timestampAuthorities``."""
        return {
            "subject": {"organization": "local", "commonName": common_name},
            "uri": self.url,
            "certChain": {
                "certificates": [{"rawBytes": b64(c.public_bytes(serialization.Encoding.DER))} for c in self.chain]
            },
            "validFor": {"start": _rfc3339(self.valid_from)},
        }

    def timestamp(self, tsq: bytes) -> tuple[int, str, bytes]:
        """POST a DER TimeStampReq; (status, content type, DER TimeStampResp)."""
        req = urllib.request.Request(
            self.timestamp_url,
            data=tsq,
            method="POST",
            headers={"Content-Type": "application/timestamp-query"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.headers.get("Content-Type", ""), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", ""), exc.read()

    def log_tail(self) -> str:
        return self._proc.log_tail()


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def timestamp_authority(keep_state: bool = False, lock_timeout: float = 30.0) -> Iterator[TimestampAuthority]:
    """Run timestamp-server with its in-memory signer (a fresh root, intermediate and leaf)."""
    binary = tool("timestamp-server")
    with open(_TSA_LOCK, "w") as lock:
        deadline = time.monotonic() + lock_timeout
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise ServiceFailed(f"another timestamp-server holds {_TSA_LOCK}") from None
                time.sleep(0.1)
        if _port_in_use(TSA_METRICS_PORT):
            raise ServiceUnavailable(
                f"port {TSA_METRICS_PORT} is taken; timestamp-server binds its metrics there and would exit"
            )
        with _state_dir("airseal-tsa-", keep_state) as state:
            port = free_port()
            argv = [
                str(binary), "serve",
                "--host=127.0.0.1", f"--port={port}",
                "--timestamp-signer=memory",
                "--disable-ntp-monitoring",  # else it queries public NTP servers
                f"--config={state / 'none.yaml'}",  # never read ~/.timestamp-server.yaml
                "--log-type=prod",
            ]  # fmt: skip
            (state / "none.yaml").write_text("{}\n")
            valid_from = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=1)
            proc = _spawn(argv, state, "timestamp-server")
            try:
                url = f"http://127.0.0.1:{port}"
                pem = _wait_http(proc, url + "/api/v1/timestamp/certchain", "timestamp-server")
                chain = x509.load_pem_x509_certificates(pem)
                handle = TimestampAuthority(url, chain, valid_from.replace(microsecond=0), state, proc)
                yield handle
            finally:
                _stop(handle._proc if "handle" in locals() else proc)


# ----------------------------------------------------------------------------- Rekor v1 (real)

TRILLIAN_VERSION = "v1.7.3"  # the schema file scripts/services.sh keeps beside the binaries


def _mariadb_tool(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.is_file()), None
    )
    if found is None:
        raise ServiceUnavailable(f"{name} is absent: scripts/services.sh installs mariadb-server")
    return found


def _wait_until(check, proc: _Proc, what: str, timeout: float = START_TIMEOUT):
    """Call check() until it returns a truthy value (exceptions count as not yet)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        proc.check_alive(what)
        try:
            result = check()
            if result:
                return result
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            last = exc
        time.sleep(0.05)
    raise ServiceFailed(f"{what} was not ready within {timeout}s ({last}); log:\n{proc.log_tail()}")


_MARIADB_TEMPLATE: Path | None = None


def _mariadb_client(sock: Path) -> list[str]:
    return [_mariadb_tool("mariadb"), "--no-defaults", "-S", str(sock), "-uroot"]


def _mariadbd_argv(datadir: Path, sock: Path) -> list[str]:
    user = ["--user=root"] if os.geteuid() == 0 else []
    return [
        _mariadb_tool("mariadbd"), "--no-defaults", f"--datadir={datadir}", f"--socket={sock}",
        "--skip-networking", "--skip-log-bin", "--innodb-buffer-pool-size=16M", *user,
    ]  # fmt: skip


def _wait_mariadb(db: _Proc, sock: Path) -> None:
    client = _mariadb_client(sock)
    _wait_until(lambda: subprocess.run([*client, "-e", "SELECT 1"], capture_output=True).returncode == 0, db, "mariadbd")


def _trillian_db_template(schema: Path) -> Path:
    """A MariaDB data directory with Trillian's database, user and schema, made once per
    process (mariadb-install-db alone takes 2-4 s) and copied for each Rekor v1."""
    global _MARIADB_TEMPLATE
    if _MARIADB_TEMPLATE is not None and _MARIADB_TEMPLATE.is_dir():
        return _MARIADB_TEMPLATE
    root = Path(tempfile.mkdtemp(prefix="airseal-mariadb-"))
    atexit.register(shutil.rmtree, root, True)
    datadir, sock = root / "db", root / "my.sock"
    user = ["--user=root"] if os.geteuid() == 0 else []
    subprocess.run(
        [_mariadb_tool("mariadb-install-db"), "--no-defaults", f"--datadir={datadir}", *user,
         "--auth-root-authentication-method=normal", "--skip-test-db"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    db = _spawn(_mariadbd_argv(datadir, sock), root, "mariadbd")
    try:
        _wait_mariadb(db, sock)
        client = _mariadb_client(sock)
        sql = (
            "CREATE DATABASE trillian; CREATE USER 'trillian'@'localhost' IDENTIFIED BY 'trillian';"
            " GRANT ALL ON trillian.* TO 'trillian'@'localhost';"
        )
        subprocess.run([*client, "-e", sql], check=True, capture_output=True)
        subprocess.run([*client, "trillian"], input=schema.read_bytes(), check=True, capture_output=True)
    finally:
        _stop(db, 20.0)  # a clean shutdown, so that copies start without recovery
    if db.process.returncode != 0:
        raise ServiceFailed(f"mariadbd did not shut down cleanly; log:\n{db.log_tail()}")
    _MARIADB_TEMPLATE = datadir
    return datadir


@contextlib.contextmanager
def _holding_tsa_metrics_port() -> Iterator[None]:
    """rekor-server binds metrics on :2112 (ignoring failure), the port the TSA must have: hold
    it (and the TSA lock) while rekor-server starts, so rekor's metrics bind fails and a TSA
    can run beside it. A running TSA holds the lock and the port already."""
    with open(_TSA_LOCK, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            tsa_running = False
        except BlockingIOError:
            tsa_running = True
        with contextlib.ExitStack() as hold:
            if not tsa_running and not _port_in_use(TSA_METRICS_PORT):
                blocker = hold.enter_context(socket.socket(socket.AF_INET6, socket.SOCK_STREAM))
                blocker.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                blocker.bind(("::", TSA_METRICS_PORT))
                blocker.listen(1)
            yield


@dataclass
class RekorV1(_Restartable):
    """A Rekor v1 log: the real stack (:func:`rekor_v1`) or the mock (:func:`rekor_v1_mock`).

    On the real stack `kill`/`restart` act on rekor-server only (Trillian and MariaDB keep the
    tree, so a restarted server serves the same log)."""

    _ready_path = "/api/v1/log"

    def restart(self) -> None:
        with _holding_tsa_metrics_port():
            super().restart()

    url: str
    private_key: ec.EllipticCurvePrivateKey
    state_dir: Path
    valid_from: _dt.datetime
    _proc: _Proc = field(repr=False)
    tree_id: int | None = None  # the Trillian tree (real stack only)

    @property
    def public_key_der(self) -> bytes:
        return self.private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def log_id(self) -> bytes:
        """Rekor v1's log id: SHA-256 of the DER SPKI (hex of it is the entry's ``logID``)."""
        return hashlib.sha256(self.public_key_der).digest()

    def tlog_entry(self) -> dict:
        return log_instance(self.url, self.public_key_der, "PKIX_ECDSA_P256_SHA_256", self.log_id, self.valid_from)

    def tree_size(self) -> int:
        """The log's current tree size (GET /api/v1/log)."""
        status, body = http_json("GET", self.url + "/api/v1/log")
        assert status == 200 and isinstance(body, dict), (status, body)
        return int(body["treeSize"])

    def create_entry(self, proposed: dict) -> tuple[int, object]:
        """POST a proposed entry to /api/v1/log/entries; 201 with ``{uuid: LogEntry}``."""
        return http_json("POST", self.url + "/api/v1/log/entries", proposed)

    def log_tail(self) -> str:
        return self._proc.log_tail()


@contextlib.contextmanager
def rekor_v1(keep_state: bool = False, address: str = "127.0.0.1", port: int | None = None) -> Iterator[RekorV1]:
    """Run a real Rekor v1: a private mariadbd (unix socket only), Trillian's log server and
    log signer, a fresh tree from createtree, and rekor-server with an ECDSA P-256 file signer
    and the MySQL search index. About 3-4 s to start on 2 cores.

    Checkpoints read ``<address> - <tree id>`` and are signed under the name ``<address>``
    (``--rekor_server.hostname``). A client that expects that name to be the base URL's host
    and port (airseal) needs a port-less URL: ``address=loopback_with_free_port_80(), port=80``.
    """
    rekor_bin = tool("rekor-server")
    log_server, log_signer, createtree = (
        tool("trillian_log_server"), tool("trillian_log_signer"), tool("createtree")
    )  # fmt: skip
    schema = tools_dir() / "share" / f"trillian-{TRILLIAN_VERSION}-storage.sql"
    if not schema.is_file():
        raise ServiceUnavailable(f"{schema} is absent: run `bash scripts/services.sh`")
    key = ec.generate_private_key(ec.SECP256R1())
    procs: list[tuple[_Proc, float]] = []
    template = _trillian_db_template(schema)
    # A short directory: the MySQL socket path must fit in sun_path (108 bytes).
    with _state_dir("airseal-rekor-v1-", keep_state) as state:
        try:
            datadir, sock = state / "db", state / "my.sock"
            shutil.copytree(template, datadir)
            db = _spawn(_mariadbd_argv(datadir, sock), state, "mariadbd")
            procs.append((db, 10.0))
            _wait_mariadb(db, sock)
            dsn = f"trillian:trillian@unix({sock})/trillian"

            rpc, signer_rpc = free_port(), free_port()
            common = ["--storage_system=mysql", f"--mysql_uri={dsn}", "--quota_system=noop"]
            server = _spawn(
                [str(log_server), *common, f"--rpc_endpoint=127.0.0.1:{rpc}",
                 f"--http_endpoint=127.0.0.1:{free_port()}"],
                state, "trillian_log_server",
            )  # fmt: skip
            procs.append((server, 0.2))  # Trillian ignores SIGTERM for seconds; its state is discarded
            signer = _spawn(
                [str(log_signer), *common, f"--rpc_endpoint=127.0.0.1:{signer_rpc}",
                 f"--http_endpoint=127.0.0.1:{free_port()}", "--force_master",
                 "--sequencer_interval=50ms", "--batch_size=100"],
                state, "trillian_log_signer",
            )  # fmt: skip
            procs.append((signer, 0.2))

            def _createtree() -> int:
                done = subprocess.run(
                    [str(createtree), f"--admin_server=127.0.0.1:{rpc}", "--tree_type=LOG",
                     "--display_name=airseal-tests", "--rpc_deadline=2s"],
                    capture_output=True, text=True, timeout=10,
                )  # fmt: skip
                return int(done.stdout.strip()) if done.returncode == 0 else 0

            tree_id = _wait_until(_createtree, server, "trillian createtree")

            key_path = state / "rekor-key.pem"
            key_path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
            port = port or free_port()
            argv = [
                str(rekor_bin), "serve", f"--config={state / 'none.yaml'}",
                f"--rekor_server.address={address}", f"--port={port}",
                f"--rekor_server.hostname={address}",  # checkpoint origin: "<address> - <tree id>"
                "--trillian_log_server.address=127.0.0.1", f"--trillian_log_server.port={rpc}",
                f"--trillian_log_server.tlog_id={tree_id}",
                f"--rekor_server.signer={key_path}",
                "--search_index.storage_provider=mysql", f"--search_index.mysql.dsn={dsn}",
                "--log_type=prod",
            ]  # fmt: skip
            (state / "none.yaml").write_text("{}\n")
            valid_from = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=1)
            # rekor-server also binds metrics on :2112 (ignoring failure), the port the TSA
            # must have: hold it (and the TSA lock) while rekor-server starts, so rekor's
            # metrics bind fails and a TSA can run beside it. A running TSA holds the lock
            # and the port already; then there is nothing to hold.
            with _holding_tsa_metrics_port():
                rekor = _spawn(argv, state, "rekor-server")
                procs.append((rekor, STOP_TIMEOUT))
                url = _base_url(address, port)
                _wait_http(rekor, url + "/api/v1/log", "rekor-server")
            handle = RekorV1(url, key, state, valid_from.replace(microsecond=0), rekor, tree_id)
            yield handle
        finally:
            if "handle" in locals() and handle._proc is not rekor:
                procs.append((handle._proc, STOP_TIMEOUT))
            for proc, timeout in reversed(procs):
                _stop(proc, timeout)


# ----------------------------------------------------------------------------- Rekor v1 mock


def hashedrekord_v001_entry(digest: bytes, signature: bytes, public_key_pem: bytes) -> dict:
    """A Rekor v1 proposed entry: hashedrekord 0.0.1 (sha256 hex digest, PEM key base64'd)."""
    return {
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
            "signature": {"content": b64(signature), "publicKey": {"content": b64(public_key_pem)}},
        },
    }


def dsse_v001_entry(envelope_json: str, public_key_pem: bytes) -> dict:
    """A Rekor v1 proposed entry: dsse 0.0.1 (the envelope as a JSON string, verifier PEM base64'd)."""
    return {
        "apiVersion": "0.0.1",
        "kind": "dsse",
        "spec": {"proposedContent": {"envelope": envelope_json, "verifiers": [b64(public_key_pem)]}},
    }


@contextlib.contextmanager
def rekor_v1_mock(clock: str | None = None, keep_state: bool = False) -> Iterator[RekorV1]:
    """Run the @sigstore/mock Rekor v1 stand-in (needs node and `npm ci` in its folder).

    ``clock`` (RFC 3339) fixes integratedTime, the SET's time and the checkpoint timestamp.
    """
    node = shutil.which("node")
    if node is None:
        raise ServiceUnavailable("node is not installed")
    if not (REKOR_V1_MOCK_DIR / "node_modules" / "@sigstore" / "mock").is_dir():
        raise ServiceUnavailable(f"run `npm ci` in {REKOR_V1_MOCK_DIR} (scripts/services.sh does)")
    key = ec.generate_private_key(ec.SECP256R1())
    with _state_dir("airseal-rekor-v1-", keep_state) as state:
        key_path = state / "log-key.pem"
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        argv = [node, str(REKOR_V1_MOCK_DIR / "server.mjs"), "--key", str(key_path), "--port", "0"]
        if clock:
            argv += ["--clock", clock]
        valid_from = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=1)
        if clock:
            valid_from = min(valid_from, _dt.datetime.fromisoformat(clock.replace("Z", "+00:00")))
        proc = _spawn(argv, state, "rekor-v1-mock", stdout=subprocess.PIPE)
        try:
            line = _read_ready_line(proc, "rekor v1 mock")
            info = json.loads(line)
            if base64.b64decode(info["publicKeyDer"]) != key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            ):
                raise ServiceFailed("rekor v1 mock reports another public key than the one it was given")
            _wait_http(proc, info["url"] + "/healthz", "rekor v1 mock")
            yield RekorV1(info["url"], key, state, valid_from.replace(microsecond=0), proc)
        finally:
            _stop(proc)


def _read_ready_line(proc: _Proc, what: str, timeout: float = START_TIMEOUT) -> str:
    """The first stdout line of a child that announces itself when listening."""
    import selectors

    stdout = proc.process.stdout
    assert stdout is not None
    sel = selectors.DefaultSelector()
    sel.register(stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buf = b""
    try:
        while time.monotonic() < deadline:
            if sel.select(timeout=0.1):
                chunk = os.read(stdout.fileno(), 4096)
                if not chunk:
                    break
                buf += chunk
                if b"\n" in buf:
                    return buf.split(b"\n", 1)[0].decode()
            proc.check_alive(what)
    finally:
        sel.close()
    proc.check_alive(what)
    raise ServiceFailed(f"{what} did not report its address within {timeout}s; log:\n{proc.log_tail()}")


# ----------------------------------------------------------------------------- Fulcio


@dataclass
class Fulcio:
    """Fulcio with its ephemeral CA: a fresh self-signed root per start, which issues the leaves
    directly (``chain`` is that one root, as ``/api/v2/trustBundle`` serves it)."""

    url: str
    chain: list[x509.Certificate]  # leaf-most first, root last
    valid_from: _dt.datetime
    state_dir: Path
    _proc: _Proc = field(repr=False)

    def ca_entry(self) -> dict:
        """This CA's element of a trusted root's ``certificateAuthorities``."""
        return {
            "subject": {"organization": "sigstore.dev", "commonName": "airseal test Fulcio (ephemeral CA)"},
            "uri": self.url,
            "certChain": {
                "certificates": [{"rawBytes": b64(c.public_bytes(serialization.Encoding.DER))} for c in self.chain]
            },
            "validFor": {"start": _rfc3339(self.valid_from)},
        }

    def log_tail(self) -> str:
        return self._proc.log_tail()


@contextlib.contextmanager
def fulcio(
    oidc_issuer_url: str,
    ct_log_url: str = "",
    ct_log_public_key_pem: bytes | None = None,
    issuer_type: str = "email",
    client_id: str = "sigstore",
    keep_state: bool = False,
) -> Iterator[Fulcio]:
    """Run ``fulcio serve --ca=ephemeralca`` trusting one OIDC issuer (which must answer its
    discovery document before this starts: Fulcio fetches it once at start-up).

    ``ct_log_url`` (with the log prefix, e.g. ``http://127.0.0.1:P/test``) is where Fulcio gets
    an SCT for every certificate; empty, Fulcio issues certificates without SCTs.
    ``ct_log_public_key_pem`` makes Fulcio check each SCT's signature before embedding it.
    """
    binary = tool("fulcio")
    with _state_dir("airseal-fulcio-", keep_state) as state:
        config = {"OIDCIssuers": {oidc_issuer_url: {"IssuerURL": oidc_issuer_url, "ClientID": client_id, "Type": issuer_type}}}
        (state / "fulcio.json").write_text(json.dumps(config, indent=2) + "\n")
        (state / "none.yaml").write_text("{}\n")
        port, grpc_port, metrics_port = free_port(), free_port(), free_port()
        argv = [
            str(binary), "serve", f"--config={state / 'none.yaml'}",
            f"--config-path={state / 'fulcio.json'}", "--ca=ephemeralca",
            "--host=127.0.0.1", f"--port={port}",
            "--grpc-host=127.0.0.1", f"--grpc-port={grpc_port}",
            f"--metrics-port={metrics_port}",
            # default is the abstract socket @fulcio-legacy-grpc-socket: one per machine
            f"--legacy-unix-domain-socket={state / 'legacy.sock'}",
            f"--ct-log-url={ct_log_url}",
            "--log_type=prod",
        ]  # fmt: skip
        if ct_log_public_key_pem is not None:
            (state / "ct-log.pub").write_bytes(ct_log_public_key_pem)
            argv.append(f"--ct-log-public-key-path={state / 'ct-log.pub'}")
        valid_from = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=1)
        proc = _spawn(argv, state, "fulcio")
        try:
            url = f"http://127.0.0.1:{port}"
            bundle = json.loads(_wait_http(proc, url + "/api/v2/trustBundle", "fulcio"))
            pems = bundle["chains"][0]["certificates"]
            chain = [x509.load_pem_x509_certificate(p.encode()) for p in pems]
            yield Fulcio(url, chain, valid_from.replace(microsecond=0), state, proc)
        finally:
            _stop(proc)


# ----------------------------------------------------------------------------- documents


def trusted_root(
    tlogs: Sequence[dict] = (),
    timestamp_authorities: Sequence[dict] = (),
    certificate_authorities: Sequence[dict] = (),
    ctlogs: Sequence[dict] = (),
) -> dict:
    """A Sigstore trusted root (version 0.1) from elements such as ``RekorV2.tlog_entry()``."""
    return {
        "mediaType": TRUSTED_ROOT_MEDIA_TYPE,
        "tlogs": list(tlogs),
        "certificateAuthorities": list(certificate_authorities),
        "ctlogs": list(ctlogs),
        "timestampAuthorities": list(timestamp_authorities),
    }


def write_trusted_root(path: Path, **parts: Sequence[dict]) -> Path:
    path.write_text(json.dumps(trusted_root(**parts), indent=2) + "\n")
    return path


def signing_config(
    rekor_v2_url: str | None = None,
    tsa_url: str | None = None,
    rekor_v1_url: str | None = None,
    valid_from: _dt.datetime | None = None,
    fulcio_url: str | None = None,
    oidc_url: str | None = None,
) -> dict:
    """A signing config (v0.2) naming these services, for ``cosign sign-blob --signing-config``.

    ``tsa_url`` is the full timestamp endpoint (``TimestampAuthority.timestamp_url``); the
    Rekor URLs are base URLs. ``fulcio_url`` and ``oidc_url`` (base URLs) fill ``caUrls`` and
    ``oidcUrls`` for keyless signing; without them, the config is for key-based signing. A Rekor
    v2 URL is listed with ``majorApiVersion`` 2 (cosign then writes a hashedrekord 0.0.2 entry);
    ``ANY`` selects one log.
    """
    start = _rfc3339(valid_from or _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=5))

    def service(url: str, major: int) -> dict:
        return {"url": url, "majorApiVersion": major, "validFor": {"start": start}, "operator": "airseal-tests"}

    rekor = [service(u, m) for u, m in ((rekor_v2_url, 2), (rekor_v1_url, 1)) if u]
    config: dict = {
        "mediaType": SIGNING_CONFIG_MEDIA_TYPE,
        "caUrls": [service(fulcio_url, 1)] if fulcio_url else [],
        "oidcUrls": [service(oidc_url, 1)] if oidc_url else [],
        "rekorTlogUrls": rekor,
    }
    if rekor:
        config["rekorTlogConfig"] = {"selector": "ANY"}
    config["tsaUrls"] = [service(tsa_url, 1)] if tsa_url else []
    if tsa_url:
        config["tsaConfig"] = {"selector": "ANY"}
    return config
