"""What every CLI command shares: error-to-exit mapping, one-line messages, JSON output.

The only place that turns an AirsealError into an exit status. Anything unexpected exits 70
with a one-line message; the traceback is shown only with AIRSEAL_DEBUG=1 or --debug.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from verifier.errors import EXIT_INTERNAL, AirsealError

JSON_SCHEMA_VERSION = "airseal.v1"

T = TypeVar("T")


class UsageProblem(Exception):
    """A contradictory or incomplete command line (exit 2, like click's usage errors)."""


def debug_enabled() -> bool:
    return os.environ.get("AIRSEAL_DEBUG", "") not in ("", "0")


def echo(message: str, *, err: bool = False) -> None:
    """Print a line to stdout or stderr, resolved at call time (so test runners capture it).

    Not click.echo: `verify` runs without importing click.
    """
    stream = sys.stderr if err else sys.stdout
    stream.write(message + "\n")
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
        "message": err.detail,
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
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def fail(err: AirsealError, *, as_json: bool, verbose: bool = False) -> NoReturn:
    if as_json:
        emit_json(error_json(err))
    line = f"error: {err.detail} [{err.reason.value}]"
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


def run_guarded(body: Callable[[], T], *, as_json: bool = False, verbose: bool = False) -> T:
    """Run a command body; map AirsealError to its exit code and anything else to 70."""
    try:
        return body()
    except AirsealError as err:
        fail(err, as_json=as_json, verbose=verbose)
    except (SystemExit, KeyboardInterrupt, UsageProblem):
        raise
    except Exception as exc:  # a bug: say so plainly, keep the traceback for --debug
        if debug_enabled() or _is_click_control_flow(exc):
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


def parse_key_uri(uri: str) -> Any:
    """A `pkcs11:` URI parsed (hsm.uri is pure: no pkcs11 import)."""
    from hsm.uri import parse_uri

    return parse_uri(uri)
