"""Two more PKCS#11 backends for tests, beside SoftHSM2: tpm2-pkcs11 on a software TPM, and
openCryptoki's soft token. Each is started by the test and stopped when it ends.

    with tpm2_token(tmp_path) as tok:            # or the `tpm2` pytest fixture
        lib = pkcs11.lib(tok.module)             # tok.env is already in os.environ
        token = lib.get_token(token_label=tok.label)

What each context manager does, and why:

tpm2_token (libtpm2_pkcs11.so):
- `swtpm socket --tpm2` with its NVRAM in <root>/tpm, TCP server + control ports on 127.0.0.1
  (a free pair P, P+1: the swtpm TCTI derives the control port as server port + 1), `--flags not-need-init,startup-clear` so no tool has to
  send TPM2_Startup first. It runs as our child (no --daemon), so we reap it.
- The TPM only holds 3 transient objects at a time. tpm2-pkcs11 keeps a loaded context for the
  token's primary and for every key it has touched, so talking to swtpm directly fails after a
  few keys (TPM_RC_OBJECT_MEMORY, "out of memory for object contexts"). The fix used here is
  the one a real machine uses: a resource manager. `tpm2-abrmd` swaps objects in and out per
  command; it runs per token on a private D-Bus *session* bus (our own dbus-daemon, socket in
  <root>), so nothing needs the system bus or a system service. Clients use
  TPM2_PKCS11_TCTI=tabrmd:bus_type=session with DBUS_SESSION_BUS_ADDRESS pointing at our bus.
  `resource_manager=False` gives the direct swtpm TCTI instead (to reproduce the failure).
- The store (sqlite) is <root>/store via TPM2_PKCS11_STORE; TPM2_PKCS11_BACKEND=esysdb keeps
  the library away from FAPI's system-wide configuration.
- The token is made the way an application would: C_InitToken on the empty slot, then
  C_InitPIN as SO (pkcs11-tool). tpm2_ptool (init + addtoken) would do the same.

opencryptoki_token (libopencryptoki.so, soft token "IBM SoftTok"):
- openCryptoki 3.8.1 (Debian 12) cannot be relocated: /etc/opencryptoki/opencryptoki.conf,
  /var/run/pkcsslotd.socket, /var/lib/opencryptoki/swtok and /var/lock/opencryptoki are
  compiled in; its only environment knobs are OPENCRYPTOKI_TRACE_LEVEL and PKCS11_SHMEM_FILE
  (newer releases add more). So the fixture takes an exclusive lock (flock on
  /var/lock/opencryptoki/airseal-tests.lock, so parallel test processes serialize), moves any
  existing soft-token store aside, runs `pkcsslotd -f` as our child, initializes a fresh token
  (default SO PIN 87654321 -> C_InitToken, C_SetPIN for the SO, C_InitPIN for the user), and
  afterwards stops the daemon, deletes the store it made and puts the old one back. It skips if
  a pkcsslotd that it did not start is running (that one's token is somebody's data).
- The soft token accepts PINs of 4 to 8 characters only, hence the shorter PINs below.
- The caller must be root or in group pkcs11 (the socket and store are root:pkcs11 0770).

Both need the module finalized before their daemons stop (python-pkcs11 caches one `lib` per
path; `pkcs11.lib(path)` re-runs C_Initialize after a finalize, and that is when these modules
read their environment). The context managers do that on entry and exit.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

TPM2_MODULE_CANDIDATES = (
    os.environ.get("AIRSEAL_TEST_TPM2_MODULE", ""),
    "/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so",
    "/usr/lib/x86_64-linux-gnu/libtpm2_pkcs11.so.1",
    "/usr/lib64/pkcs11/libtpm2_pkcs11.so",
    "/usr/lib/pkcs11/libtpm2_pkcs11.so",
)
OCK_MODULE_CANDIDATES = (
    os.environ.get("AIRSEAL_TEST_OCK_MODULE", ""),
    "/usr/lib/x86_64-linux-gnu/pkcs11/libopencryptoki.so",
    "/usr/lib64/opencryptoki/libopencryptoki.so",
    "/usr/lib/opencryptoki/libopencryptoki.so",
)

# Same distinctive values as softhsm_support where the backend allows them.
TPM2_USER_PIN = "pin-4417-93071"
TPM2_SO_PIN = "so-pin-55120338"
# openCryptoki's soft token: 4..8 characters.
OCK_USER_PIN = "44179307"
OCK_SO_PIN = "55120338"
OCK_DEFAULT_SO_PIN = "87654321"  # what a fresh soft-token store has
TOKEN_LABEL = "airseal-test"

OCK_STORE = Path("/var/lib/opencryptoki/swtok")
OCK_LOCK = Path("/var/lock/opencryptoki/airseal-tests.lock")
OCK_SOCKET = Path("/var/run/pkcsslotd.socket")
OCK_PIDFILE = Path("/var/run/pkcsslotd.pid")
OCK_SOFT_MODEL = "IBM SoftTok"


def _first_file(candidates: Sequence[str]) -> str | None:
    for path in candidates:
        if path and Path(path).is_file():
            return path
    return None


def _which(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for d in ("/usr/sbin", "/sbin", "/usr/bin"):
        if Path(d, name).exists():
            return str(Path(d, name))
    return None


TPM2_MODULE = _first_file(TPM2_MODULE_CANDIDATES)
OCK_MODULE = _first_file(OCK_MODULE_CANDIDATES)


def tpm2_missing() -> str | None:
    """Why tpm2_token cannot run here, or None."""
    if TPM2_MODULE is None:
        return "libtpm2_pkcs11.so not installed (apt-get install libtpm2-pkcs11-1; scripts/tokens.sh)"
    for tool, pkg in (("swtpm", "swtpm"), ("tpm2-abrmd", "tpm2-abrmd"), ("dbus-daemon", "dbus"),
                      ("dbus-send", "dbus"), ("pkcs11-tool", "opensc")):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} not installed (apt-get install {pkg}; scripts/tokens.sh)"
    if not any(Path(d, "libtss2-tcti-tabrmd.so.0").exists()
               for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib")):
        return "libtss2-tcti-tabrmd.so.0 not installed (apt-get install libtss2-tcti-tabrmd0)"
    return None


def ock_missing() -> str | None:
    """Why opencryptoki_token cannot run here, or None."""
    if OCK_MODULE is None:
        return "libopencryptoki.so not installed (apt-get install opencryptoki; scripts/tokens.sh)"
    if _which("pkcsslotd") is None:
        return "pkcsslotd not installed (apt-get install opencryptoki)"
    if shutil.which("pkcs11-tool") is None:
        return "pkcs11-tool not installed (apt-get install opensc)"
    if os.geteuid() != 0:
        try:
            import grp

            if grp.getgrnam("pkcs11").gr_gid not in os.getgroups():
                return "openCryptoki needs root or membership of group pkcs11"
        except KeyError:
            return "group pkcs11 does not exist (opencryptoki not installed properly)"
    return None


needs_tpm2 = pytest.mark.skipif(tpm2_missing() is not None, reason=str(tpm2_missing()))
needs_opencryptoki = pytest.mark.skipif(ock_missing() is not None, reason=str(ock_missing()))


@dataclass
class Token:
    """One running backend with one initialized token."""

    backend: str                  # "tpm2" | "opencryptoki"
    module: str
    root: Path                    # test-owned directory (state, sockets, logs)
    label: str
    pin: str
    so_pin: str
    env: dict[str, str]           # what the module (and its tools) need; already in os.environ
    slot_id: int | None = None
    startup_seconds: float = 0.0  # daemons up + token initialized
    logs: dict[str, Path] = field(default_factory=dict)

    def environ(self, **extra: str) -> dict[str, str]:
        """os.environ + this backend's variables + the airseal ones (for subprocesses)."""
        merged = dict(os.environ)
        merged.update(self.env)
        merged.update(
            AIRSEAL_PKCS11_MODULE=self.module,
            AIRSEAL_PKCS11_PIN=self.pin,
            PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
        )
        merged.update(extra)
        return merged

    def uri(self, query: str = "", **path: str) -> str:
        parts = [f"token={self.label}"] + [f"{k.replace('_', '-')}={v}" for k, v in path.items()]
        return "pkcs11:" + ";".join(parts) + (f"?{query}" if query else "")

    def run(self, *args: str, timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        """`python -m verifier ARGS` against this token."""
        return subprocess.run([sys.executable, "-m", "verifier", *args], env=self.environ(),
                              cwd=self.root, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, **kwargs)

    def tool(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`pkcs11-tool --module MODULE ARGS` with this backend's environment."""
        return _run(["pkcs11-tool", "--module", self.module, *args], env=self.environ(), check=check)


# ---------------------------------------------------------------------------------------------
# helpers


def _run(cmd: Sequence[str], env: dict[str, str] | None = None, check: bool = True,
         timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(cmd), env=env, capture_output=True, text=True, timeout=timeout,
                            stdin=subprocess.DEVNULL)
    if check and result.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({result.returncode}): {result.stdout}{result.stderr}")
    return result


def _free_port_pair() -> tuple[int, int]:
    """Free TCP ports P, P+1 on 127.0.0.1: the swtpm TCTI always uses port+1 as control port."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            if port >= 65535:
                continue
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
                return port, port + 1
    raise RuntimeError("no two consecutive free TCP ports on 127.0.0.1")


def _wait_for(predicate: Any, what: str, timeout: float, proc: subprocess.Popen[Any] | None = None,
              log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.02)
    detail = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
    state = f"exited {proc.returncode}" if proc is not None and proc.poll() is not None else "timed out"
    raise RuntimeError(f"{what} did not come up ({state}). {detail}")


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
        return True
    return False


def _stop(proc: subprocess.Popen[Any] | None, timeout: float = 5) -> None:
    """SIGTERM, wait, then SIGKILL; always reaps (no zombies, no leftovers)."""
    if proc is None or proc.poll() is not None:
        if proc is not None:
            proc.wait()
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(timeout=timeout)


def finalize_module(path: str | None) -> None:
    """C_Finalize a module python-pkcs11 has loaded in this process (and airseal's cache)."""
    if not path:
        return
    with contextlib.suppress(Exception):
        from hsm.token import close_all

        close_all()
    with contextlib.suppress(Exception):
        import pkcs11

        lib = getattr(pkcs11, "_loaded", {}).get(path)
        if lib is not None and lib.initialized:
            lib.finalize()


@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_DBUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


# ---------------------------------------------------------------------------------------------
# tpm2-pkcs11 on swtpm


@contextlib.contextmanager
def tpm2_token(root: Path, label: str = TOKEN_LABEL, pin: str = TPM2_USER_PIN,
               so_pin: str = TPM2_SO_PIN, resource_manager: bool = True,
               init_token: bool = True, max_transients: int = 100) -> Iterator[Token]:
    """swtpm (+ dbus-daemon + tpm2-abrmd) under `root`, one token `label`; all stopped after."""
    reason = tpm2_missing()
    if reason:
        pytest.skip(reason)
    assert TPM2_MODULE is not None
    root = Path(root) / "tpm2"
    (root / "tpm").mkdir(parents=True)
    (root / "store").mkdir()
    started = time.monotonic()
    procs: list[subprocess.Popen[Any]] = []
    logs = {"swtpm": root / "swtpm.log", "dbus": root / "dbus.log", "abrmd": root / "abrmd.log"}
    finalize_module(TPM2_MODULE)
    try:
        swtpm = None
        for _attempt in range(5):  # a picked port can be taken by someone else in between
            server_port, ctrl_port = _free_port_pair()
            swtpm = subprocess.Popen(
                ["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={root / 'tpm'}",
                 "--server", f"type=tcp,port={server_port},bindaddr=127.0.0.1",
                 "--ctrl", f"type=tcp,port={ctrl_port},bindaddr=127.0.0.1",
                 "--flags", "not-need-init,startup-clear",
                 "--log", f"file={logs['swtpm']},level=1"],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                start_new_session=True)
            procs.append(swtpm)
            try:
                _wait_for(lambda port=server_port: _port_open(port), "swtpm", 10, swtpm, logs["swtpm"])
                break
            except RuntimeError:
                _stop(swtpm)
                if _attempt == 4:
                    raise
        swtpm_tcti = f"swtpm:host=127.0.0.1,port={server_port}"
        env = {"TPM2_PKCS11_STORE": str(root / "store"), "TPM2_PKCS11_BACKEND": "esysdb",
               "TPM2_PKCS11_LOG_LEVEL": "0"}
        if resource_manager:
            bus_socket = root / "bus"
            conf = root / "dbus.conf"
            conf.write_text(_DBUS_CONF.format(socket=bus_socket))
            with open(logs["dbus"], "wb") as out:
                dbus = subprocess.Popen(["dbus-daemon", f"--config-file={conf}", "--nofork",
                                         "--nopidfile", "--nosyslog"],
                                        stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                        start_new_session=True)
            procs.append(dbus)
            _wait_for(bus_socket.exists, "dbus-daemon", 10, dbus, logs["dbus"])
            bus = f"unix:path={bus_socket}"
            abrmd_cmd = [_which("tpm2-abrmd") or "tpm2-abrmd", "--session", f"--tcti={swtpm_tcti}",
                         "--flush-all", "--logger=stdout", f"--max-transients={max_transients}"]
            if os.geteuid() == 0:
                abrmd_cmd.append("--allow-root")
            with open(logs["abrmd"], "wb") as out:
                abrmd = subprocess.Popen(abrmd_cmd, env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": bus},
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
            procs.append(abrmd)

            def owned() -> bool:
                r = subprocess.run(
                    ["dbus-send", f"--bus={bus}", "--print-reply", "--dest=org.freedesktop.DBus",
                     "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner",
                     "string:com.intel.tss2.Tabrmd"], capture_output=True, text=True)
                return "boolean true" in r.stdout

            _wait_for(owned, "tpm2-abrmd", 15, abrmd, logs["abrmd"])
            env.update(TPM2_PKCS11_TCTI="tabrmd:bus_type=session", DBUS_SESSION_BUS_ADDRESS=bus,
                       TPM2TOOLS_TCTI="tabrmd:bus_type=session")
        else:
            env.update(TPM2_PKCS11_TCTI=swtpm_tcti, TPM2TOOLS_TCTI=swtpm_tcti)
        token = Token(backend="tpm2", module=TPM2_MODULE, root=root, label=label, pin=pin,
                      so_pin=so_pin, env=env, logs=logs)
        with _environ(env):
            if init_token:
                # The store starts empty: one uninitialized slot. C_InitToken then C_InitPIN.
                token.tool("--slot-index", "0", "--init-token", "--label", label, "--so-pin", so_pin)
                token.tool("--token-label", label, "--login", "--login-type", "so",
                           "--so-pin", so_pin, "--init-pin", "--new-pin", pin)
            token.startup_seconds = time.monotonic() - started
            try:
                yield token
            finally:
                finalize_module(TPM2_MODULE)
    finally:
        for proc in reversed(procs):  # abrmd, then the bus, then the TPM
            _stop(proc)


# ---------------------------------------------------------------------------------------------
# openCryptoki soft token


def _pid_alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _foreign_slotd() -> int | None:
    """pid of a running pkcsslotd (any), or None."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            comm = (proc / "comm").read_text().strip()
        except OSError:
            continue
        if comm == "pkcsslotd" and _pid_alive(int(proc.name)):
            return int(proc.name)
    return None


@contextlib.contextmanager
def _ock_lock(root: Path) -> Iterator[None]:
    lock_path = OCK_LOCK if OCK_LOCK.parent.is_dir() else Path("/tmp/airseal-opencryptoki-tests.lock")
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _fresh_store(saved: Path) -> bool:
    """Move the soft-token store aside (if any) and lay an empty one; True if one was saved."""
    had = OCK_STORE.exists() and any(OCK_STORE.iterdir())
    if had:
        shutil.move(str(OCK_STORE), str(saved))
    elif OCK_STORE.exists():
        OCK_STORE.rmdir()
    (OCK_STORE / "TOK_OBJ").mkdir(parents=True)
    for d in (OCK_STORE, OCK_STORE / "TOK_OBJ"):
        os.chmod(d, 0o770)
        with contextlib.suppress(KeyError, PermissionError):
            import grp

            os.chown(d, 0, grp.getgrnam("pkcs11").gr_gid)
    return had


def _restore_store(saved: Path, had: bool) -> None:
    shutil.rmtree(OCK_STORE, ignore_errors=True)
    if had:
        shutil.move(str(saved), str(OCK_STORE))
    else:
        (OCK_STORE / "TOK_OBJ").mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def opencryptoki_token(root: Path, label: str = TOKEN_LABEL, pin: str = OCK_USER_PIN,
                       so_pin: str = OCK_SO_PIN) -> Iterator[Token]:
    """pkcsslotd + a fresh soft token (system paths, serialized); everything restored after."""
    reason = ock_missing()
    if reason:
        pytest.skip(reason)
    assert OCK_MODULE is not None
    if not 4 <= len(pin) <= 8 or not 4 <= len(so_pin) <= 8:
        raise ValueError("openCryptoki's soft token takes PINs of 4 to 8 characters")
    root = Path(root) / "opencryptoki"
    root.mkdir(parents=True)
    log = root / "pkcsslotd.log"
    env = {"OPENCRYPTOKI_TRACE_LEVEL": "0"}
    finalize_module(OCK_MODULE)
    with _ock_lock(root):
        other = _foreign_slotd()
        if other is not None:
            pytest.skip(f"a pkcsslotd not started by this test is running (pid {other}); "
                        "its soft token is not ours to reset")
        started = time.monotonic()
        saved = root / "swtok-saved"
        had = _fresh_store(saved)
        slotd = None
        try:
            with open(log, "wb") as out:
                slotd = subprocess.Popen([_which("pkcsslotd") or "pkcsslotd", "-f"],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         start_new_session=True)
            _wait_for(OCK_SOCKET.exists, "pkcsslotd", 10, slotd, log)
            token = Token(backend="opencryptoki", module=OCK_MODULE, root=root, label=label, pin=pin,
                          so_pin=so_pin, env=env, logs={"pkcsslotd": log})
            with _environ(env):
                token.slot_id = _ock_soft_slot(token)
                slot = str(token.slot_id)
                token.tool("--slot", slot, "--init-token", "--label", label, "--so-pin", OCK_DEFAULT_SO_PIN)
                token.tool("--slot", slot, "--login", "--login-type", "so", "--so-pin", OCK_DEFAULT_SO_PIN,
                           "--change-pin", "--new-pin", so_pin)
                token.tool("--slot", slot, "--login", "--login-type", "so", "--so-pin", so_pin,
                           "--init-pin", "--new-pin", pin)
                token.startup_seconds = time.monotonic() - started
                try:
                    yield token
                finally:
                    finalize_module(OCK_MODULE)
        finally:
            _stop(slotd)
            # pkcsslotd -f leaves its pid file; it removes its socket and shared memory itself.
            with contextlib.suppress(OSError):
                if slotd is not None and OCK_PIDFILE.read_text().strip() == str(slotd.pid):
                    OCK_PIDFILE.unlink()
            _restore_store(saved, had)


def _ock_soft_slot(token: Token) -> int:
    """The slot whose token model is 'IBM SoftTok' (slot 3 in Debian's opencryptoki.conf)."""
    out = _run(["pkcsconf", "-t"], env=token.environ()).stdout
    current = None
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("Token #"):
            current = int(line.split("#")[1].split()[0])
        elif line.startswith("Model:") and OCK_SOFT_MODEL in line and current is not None:
            return current
    raise RuntimeError(f"no openCryptoki soft token slot (model {OCK_SOFT_MODEL!r}) in: {out}")


# ---------------------------------------------------------------------------------------------
# pytest fixtures


@pytest.fixture
def tpm2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Token]:
    """tpm2-pkcs11 on a fresh swtpm (behind tpm2-abrmd) with token 'airseal-test'."""
    with tpm2_token(tmp_path) as tok:
        # tok.env is already in os.environ (and removed again) by the context manager.
        monkeypatch.setenv("AIRSEAL_PKCS11_MODULE", tok.module)
        monkeypatch.setenv("AIRSEAL_PKCS11_PIN", tok.pin)
        yield tok


@pytest.fixture
def opencryptoki(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Token]:
    """openCryptoki soft token 'airseal-test' (system store, serialized, restored after)."""
    with opencryptoki_token(tmp_path) as tok:
        # tok.env is already in os.environ (and removed again) by the context manager.
        monkeypatch.setenv("AIRSEAL_PKCS11_MODULE", tok.module)
        monkeypatch.setenv("AIRSEAL_PKCS11_PIN", tok.pin)
        yield tok


# ---------------------------------------------------------------------------------------------
# All three implementations behind one interface (tests/hsm/test_token_matrix.py, test_token_uris.py)

P11KIT_PROXY_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so",
    "/usr/lib64/p11-kit-proxy.so",
    "/usr/lib/p11-kit-proxy.so",
)
P11KIT_PROXY = _first_file(P11KIT_PROXY_CANDIDATES)
P11KIT_SYSTEM_MODULES = Path("/usr/share/p11-kit/modules")


@contextlib.contextmanager
def softhsm2_token(root: Path, label: str = TOKEN_LABEL) -> Iterator[Token]:
    """SoftHSM2 with a fresh store under `root`, as a `Token` like the other two backends."""
    from tests.hsm import softhsm_support as sh

    if sh.SOFTHSM_MODULE is None or shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM2 not installed (apt-get install softhsm2)")
    started = time.monotonic()
    root = Path(root) / "softhsm2"
    (root / "tokens").mkdir(parents=True)
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\n"
                    "log.level = ERROR\nslots.removable = false\n")
    env = {"SOFTHSM2_CONF": str(conf)}
    finalize_module(sh.SOFTHSM_MODULE)
    with _environ(env):
        _run(["softhsm2-util", "--init-token", "--free", "--label", label, "--so-pin", sh.SO_PIN,
              "--pin", sh.USER_PIN], env={**os.environ, **env})
        tok = Token(backend="softhsm2", module=sh.SOFTHSM_MODULE, root=root, label=label, pin=sh.USER_PIN,
                    so_pin=sh.SO_PIN, env=env, startup_seconds=time.monotonic() - started)
        try:
            yield tok
        finally:
            finalize_module(sh.SOFTHSM_MODULE)


def softhsm2_missing() -> str | None:
    from tests.hsm import softhsm_support as sh

    if sh.SOFTHSM_MODULE is None or shutil.which("softhsm2-util") is None:
        return "SoftHSM2 not installed (apt-get install softhsm2)"
    return None


BACKENDS = ("softhsm2", "tpm2", "opencryptoki")
_CONTEXTS = {"softhsm2": softhsm2_token, "tpm2": tpm2_token, "opencryptoki": opencryptoki_token}
_MISSING = {"softhsm2": softhsm2_missing, "tpm2": tpm2_missing, "opencryptoki": ock_missing}


def backend_missing(name: str) -> str | None:
    """Why backend `name` cannot run here, or None."""
    return _MISSING[name]()


def backend_token(name: str, root: Path) -> Any:
    """The context manager that starts backend `name` (softhsm2, tpm2, opencryptoki) under root."""
    return _CONTEXTS[name](root)


def proxy_registered(backend: str) -> bool:
    """Whether p11-kit's proxy (as root: system registrations only) loads this backend's module."""
    if P11KIT_PROXY is None or not P11KIT_SYSTEM_MODULES.is_dir():
        return False
    names = {"softhsm2": "softhsm2", "tpm2": "tpm2_pkcs11", "opencryptoki": "opencryptoki"}
    return (P11KIT_SYSTEM_MODULES / f"{names[backend]}.module").is_file()


@pytest.fixture
def any_token(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Token]:
    """One of BACKENDS, chosen by indirect parametrisation (`request.param`); skips when missing."""
    name = request.param
    reason = backend_missing(name)
    if reason:
        pytest.skip(reason)
    with backend_token(name, tmp_path) as tok:
        monkeypatch.setenv("AIRSEAL_PKCS11_MODULE", tok.module)
        monkeypatch.setenv("AIRSEAL_PKCS11_PIN", tok.pin)
        yield tok
