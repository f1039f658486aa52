"""What every atheris harness in tests/fuzz shares: the crash rule and the default bounds.

A harness feeds bytes to one parser that reads outside input. The parser must return a value
or raise the project's own error (`AirsealError`); any other exception is a crash, and
libFuzzer stops with the input saved as `crash-<sha1>`. Time and memory are bounded with
libFuzzer's own flags (`-timeout=5 -rss_limit_mb=256` unless the command line says otherwise).

Run one: `python tests/fuzz/fuzz_bundle.py -max_total_time=3600 tests/fuzz/corpus/bundle`
(docs/fuzzing.md).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_FLAGS = ("-timeout=5", "-rss_limit_mb=256")
CORPUS = Path(__file__).resolve().parent / "corpus"


@contextlib.contextmanager
def instrumented(*packages: str) -> Iterator[None]:
    """atheris's coverage instrumentation of `packages` while importing; nothing without
    atheris, so pytest can import a harness and replay its regression inputs."""
    try:
        import atheris
    except ImportError:
        yield
        return
    with atheris.instrument_imports(include=list(packages)):
        yield


def run(test_one_input: Callable[[bytes], None]) -> None:
    import atheris

    argv = list(sys.argv)
    for flag in DEFAULT_FLAGS:
        name = flag.split("=", 1)[0]
        if not any(arg.startswith(name + "=") for arg in argv[1:]):
            argv.insert(1, flag)
    os.environ.setdefault("AIRSEAL_HOME", "/nonexistent/airseal-fuzz")  # never touch a real store
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()
