"""Console-script entry: `verify` and `verify-bundle` skip click for a fast cold start.

Everything else, and any request for help or the version, goes to the click group in
`verifier.cli.app`. Signals and a closed output pipe are handled once, here and in
`common.run_guarded`, for every command (see `common.guard_process`).
"""

from __future__ import annotations

import sys

_FAST = ("verify", "verify-bundle")
_TO_CLICK = {"-h", "--help", "--version"}


def _dispatch() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] in _FAST and not _TO_CLICK.intersection(argv):
        from verifier.cli.verify import main_fast

        main_fast(argv[0], argv[1:])
        return
    from verifier.cli.app import main as click_main

    click_main()


def main() -> None:
    from verifier.cli.common import guard_process

    guard_process(_dispatch)


if __name__ == "__main__":  # pragma: no cover
    main()
