"""Property: `airseal verify`'s own argument reader and the click command agree on every argv.

Both must refuse the same command lines (exit 2) and read the others into the same values;
the argv are drawn from the command's real option spellings, inline values, `--`, `-`, short
flags run together, and values that look like options.
"""

from __future__ import annotations

from typing import Any

import click
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verifier.cli.verify import OPTIONS, parse_args
from verifier.cli.verify_click import verify

_FLAGS = [flag for opt in OPTIONS for flag in opt.flags]
# Values that name no existing directory (click's Path(dir_okay=False) checks one that exists).
_VALUES = ["a.txt", "k.pem", "0", "3", "-1", "1e3", "warn", "enforce", "lax", "", "x y", "--json", "-v", "sha256:ab", "--", "-"]
_TOKEN = st.one_of(
    st.sampled_from(_FLAGS),
    st.sampled_from(_VALUES),
    st.builds(lambda f, v: f"{f}={v}", st.sampled_from([f for f in _FLAGS if f.startswith("--")]), st.sampled_from(_VALUES)),
    st.sampled_from(["-vv", "-vx", "-x", "--ke", "--", "-", "--unknown"]),
)


def _ours(argv: list[str]) -> Any:
    try:
        return parse_args("airseal verify", argv)
    except SystemExit as exc:
        assert exc.code == 2
        return "usage error"


def _clicks(argv: list[str]) -> Any:
    try:
        with verify.make_context("verify", list(argv)) as ctx:
            return dict(ctx.params)
    except click.UsageError:  # BadParameter, NoSuchOption, MissingParameter are UsageErrors
        return "usage error"


@pytest.mark.slow  # a property-test module (the fast loop caps examples anyway)
@settings(max_examples=1500, deadline=None)
@given(st.lists(_TOKEN, max_size=8))
def test_same_reading_as_click(argv: list[str]) -> None:
    assert _ours(argv) == _clicks(argv), argv
