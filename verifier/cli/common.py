"""What every CLI command shares: error-to-exit mapping, one-line messages, JSON output.

The only place that turns an AirsealError into an exit status. Anything unexpected exits 70
with a one-line message; the traceback is shown only with AIRSEAL_DEBUG=1 or --debug.

Pipes and signals are handled here too, once for every command: a closed stdout or stderr
(`airseal trust list | head -1`) ends the command quietly with 141 (128 + SIGPIPE, what a shell
reports for a command killed by SIGPIPE); Ctrl-C (SIGINT) exits 130 and SIGTERM 143 (128 +
the signal), each with one line on stderr and no traceback. Whatever the command had already
written stays written; what it had staged is rolled back by its own cleanup (atomic writes),
exactly as on any other error.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

if TYPE_CHECKING:
    import signal
else:
    # `_signal` is the C module `signal` wraps: importing `signal` itself builds enums of every
    # signal and handler (3.2 M instructions on every cold start) for the two names used here.
    import _signal as signal

from verifier._internal.encoding import shorten
from verifier.errors import EXIT_INTERNAL, AirsealError

JSON_SCHEMA_VERSION = "airseal.v1"
EXIT_PIPE_CLOSED = 128 + signal.SIGPIPE
_SIGNAL_NAMES: dict[int, str] = {int(signal.SIGINT): "SIGINT", int(signal.SIGTERM): "SIGTERM"}
"""141: the reader of our output went away (`| head -1`); as a shell reports SIGPIPE."""
MAX_DETAIL_CHARS = 2000
"""A backstop for one message line; the fields echoed into messages are cut far shorter."""

T = TypeVar("T")


class UsageProblem(Exception):
    """A contradictory or incomplete command line (exit 2, like click's usage errors)."""


def debug_enabled() -> bool:
    return os.environ.get("AIRSEAL_DEBUG", "") not in ("", "0")


class Interrupted(KeyboardInterrupt):
    """SIGTERM, raised where the program is, like Ctrl-C's KeyboardInterrupt."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_interrupted(signum: int, _frame: Any) -> None:
    raise Interrupted(signum)


def install_signal_handlers() -> None:
    """CLI entry only: SIGTERM unwinds like Ctrl-C (cleanups run, then exit 143); SIGINT keeps
    Python's KeyboardInterrupt. A library caller's handlers are never touched."""
    for sig in (signal.SIGTERM,):
        try:
            signal.signal(sig, _raise_interrupted)
        except (ValueError, OSError):  # pragma: no cover - not the main thread
            pass


def interrupted(exc: KeyboardInterrupt) -> NoReturn:
    """One line and 128 + the signal (130 for Ctrl-C, 143 for SIGTERM); never a traceback."""
    signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not interrupt the exit
        except (ValueError, OSError):  # pragma: no cover - not the main thread
            pass
    try:
        echo(f"airseal: interrupted by {_SIGNAL_NAMES.get(signum, f'signal {signum}')}", err=True)
    except OSError:
        pass
    sys.exit(128 + signum)


def is_pipe_closed(exc: BaseException) -> bool:
    return isinstance(exc, BrokenPipeError) or (isinstance(exc, OSError) and exc.errno == errno.EPIPE)


def pipe_closed() -> NoReturn:
    """The reader went away: exit 141 quietly. stdout and stderr are pointed at /dev/null first,
    so the interpreter's final flush of what is still buffered cannot fail and print."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        for stream in (sys.stdout, sys.stderr):
            try:
                os.dup2(devnull, stream.fileno())
            except (OSError, ValueError, AttributeError):
                continue
        os.close(devnull)
    except OSError:  # pragma: no cover
        pass
    sys.exit(EXIT_PIPE_CLOSED)


def echo(message: str, *, err: bool = False) -> None:
    """Print a line to stdout or stderr, resolved at call time (so test runners capture it).

    Not click.echo: `verify` runs without importing click. Never fails on text the stream
    cannot encode (a lone surrogate from a certificate, an ASCII locale): such characters are
    written as backslash escapes. A closed pipe raises BrokenPipeError, which `run_guarded`
    and the entry point turn into exit 141.
    """
    stream = sys.stderr if err else sys.stdout
    line = message + "\n"
    try:
        stream.write(line)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "utf-8"
        stream.write(line.encode(encoding, "backslashreplace").decode(encoding, "replace"))
    stream.flush()


def warn(message: str) -> None:
    """A warning for a person: stderr, one line, never stdout (stdout may be JSON)."""
    echo(f"warning: {message}", err=True)


def emit_json(obj: dict[str, Any]) -> None:
    echo(json.dumps(obj, sort_keys=True, indent=2))


def error_json(err: AirsealError) -> dict[str, Any]:
    return {
        "schema": JSON_SCHEMA_VERSION,
        "ok": False,
        "verified": False,
        "reason_code": err.reason.value,
        "message": shorten(err.detail, MAX_DETAIL_CHARS),
        "check": err.check,
        "context": jsonable(err.context),
        "causes": causes(err),
    }


def causes(err: BaseException, *, max_chars: int = 300) -> list[str]:
    """The chain of underlying exceptions (tuf's, cryptography's, the OS's), outermost first.

    Every AirsealError raised while handling another keeps it as `__cause__`; a person sees
    the chain with `-v` or AIRSEAL_DEBUG=1, and `--json` always carries it.
    """
    out: list[str] = []
    seen: set[int] = set()
    cause = err.__cause__ or err.__context__
    while cause is not None and id(cause) not in seen and len(out) < 8:
        seen.add(id(cause))
        text = f"{type(cause).__module__}.{type(cause).__qualname__}: {cause}"
        out.append(text if len(text) <= max_chars else text[: max_chars - 3] + "...")
        cause = cause.__cause__ or cause.__context__
    return out


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, str):
        return shorten(value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def fail(err: AirsealError, *, as_json: bool, verbose: bool = False) -> NoReturn:
    if as_json:
        emit_json(error_json(err))
    line = f"error: {shorten(err.detail, MAX_DETAIL_CHARS)} [{err.reason.value}]"
    echo(line, err=True)
    for key, value in err.context.items():
        echo(f"  {key}: {jsonable(value)}", err=True)
    echo_causes(err, verbose=verbose)
    sys.exit(err.exit_code)


def echo_causes(err: AirsealError, *, verbose: bool) -> None:
    """With -v or AIRSEAL_DEBUG=1, the underlying exceptions, one line each, on stderr."""
    if verbose or debug_enabled():
        for text in causes(err):
            echo(f"  caused by {text}", err=True)


def exit_on_interrupt_or_closed_pipe(body: Callable[[], T]) -> T:
    """Run `body`; Ctrl-C or SIGTERM ends the process with 130/143 and a closed stdout with 141,
    each quietly. The one place these exits are decided (command bodies, the click group, the
    console script)."""
    try:
        return body()
    except KeyboardInterrupt as exc:
        interrupted(exc)
    except OSError as exc:
        if is_pipe_closed(exc):
            pipe_closed()
        raise


def run_guarded(body: Callable[[], T], *, as_json: bool = False, verbose: bool = False) -> T:
    """Run a command body; map AirsealError to its exit code, a closed pipe to 141, Ctrl-C or
    SIGTERM to 130/143, and anything else to 70. Every command runs its body through here."""
    return exit_on_interrupt_or_closed_pipe(lambda: _run_mapped(body, as_json=as_json, verbose=verbose))


def guard_process(main: Callable[[], None]) -> None:
    """The console script's outer guard: signals, library warnings, and a closed pipe outside
    any command body."""
    install_signal_handlers()
    if not debug_enabled():
        import warnings

        warnings.showwarning = _library_warning
    exit_on_interrupt_or_closed_pipe(main)


def _library_warning(message: Warning | str, category: type[Warning], *_where: Any, **_how: Any) -> None:
    """A library's warning (cryptography on an unusual certificate, say) as one line for a
    person, instead of Python's file, line and source (AIRSEAL_DEBUG=1 keeps those)."""
    warn(f"{shorten(str(message), 300)} ({category.__name__})")


def _run_mapped(body: Callable[[], T], *, as_json: bool, verbose: bool) -> T:
    try:
        return body()
    except AirsealError as err:
        fail(err, as_json=as_json, verbose=verbose)
    except (SystemExit, KeyboardInterrupt, UsageProblem):
        raise
    except Exception as exc:  # a bug: say so plainly, keep the traceback for --debug
        if debug_enabled() or _is_click_control_flow(exc) or is_pipe_closed(exc):
            raise
        echo(
            f"internal error: {type(exc).__name__}: {exc} (a bug in airseal: please report it;"
            " set AIRSEAL_DEBUG=1 for details)",
            err=True,
        )
        sys.exit(EXIT_INTERNAL)


def _is_click_control_flow(exc: BaseException) -> bool:
    """click's usage errors and exits travel as exceptions; let them reach click."""
    click = sys.modules.get("click")
    return click is not None and isinstance(exc, (click.exceptions.Exit, click.ClickException))


def given_once(ctx: Any, param: Any, value: tuple[Any, ...]) -> Any:
    """click callback for an option declared `multiple=True` that may be given only once.

    click keeps the last of repeated single-value options silently; `--key A --key B` must not
    sign or verify with B alone, so such options collect every value and refuse a second one.
    """
    if len(value) > 1:
        import click

        raise click.UsageError(f"{param.opts[0]} was given {len(value)} times; give it once", ctx=ctx)
    return value[0] if value else None


def parse_key_uri(uri: str) -> Any:
    """A `pkcs11:` URI parsed (hsm.uri is pure: no pkcs11 import)."""
    from hsm.uri import parse_uri

    return parse_uri(uri)
