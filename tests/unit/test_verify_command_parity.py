"""The console script's own reading of `verify` arguments and the click command's agree."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from tests.conftest import REPO
from verifier.cli.verify import OPTIONS, parse_args
from verifier.cli.verify_click import verify

ARGVS = [
    ["a.txt", "--key", "k.pem"],
    ["--bundle", "b.json", "--key", "k.pem", "--min-tlog-entries", "0", "sha256:" + "0" * 64],
    ["--certificate-identity", "x@y", "--certificate-oidc-issuer", "https://i", "--json", "-v", "a.txt"],
    ["--certificate-identity-regexp", ".*", "--trust", "staging", "--mode", "warn", "a.txt"],
    ["--trusted-root", "t.json", "--min-timestamps", "2", "--min-scts", "0", "--staging", "a.txt"],
    ["--key=k.pem", "--verbose", "a.txt"],
    ["a.txt", "--json", "--key", "k.pem"],  # options after the artifact
    ["--trusted-root", "a.json", "--trusted-root=b.json", "--key", "k", "a.txt"],  # repeatable
    ["--trust", "one", "--trust", "two", "--key", "k", "a.txt"],  # the last wins, as in click
    ["--key", "k", "--", "--json"],  # after --, an artifact named --json
    ["--key", "k", "-"],  # "-" is an argument
    ["-vv", "--key", "k", "a.txt"],  # short flags run together
    ["--key", "--json", "a.txt"],  # an option's value may start with a dash
    ["--certificate-identity=", "--key", "k", "a.txt"],  # an empty inline value
    ["--mode=warn", "--min-scts=3", "--key", "k", "a"],
]


def _click_params(argv: list[str]) -> dict[str, object]:
    with verify.make_context("verify", list(argv)) as ctx:
        return dict(ctx.params)


@pytest.mark.parametrize("argv", ARGVS, ids=[" ".join(a)[:40] for a in ARGVS])
def test_same_values(argv: list[str]) -> None:
    assert parse_args("airseal verify", argv) == _click_params(argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["--min-tlog-entries", "-1", "a"],
        ["--mode", "lax", "a"],
        ["--unknown", "a"],
        [],
        ["--key"],
        ["--ke", "k", "a"],
        ["--key", "k", "a", "b"],
        ["--json=yes", "--key", "k", "a"],
        ["-x", "a"],
        ["-vx", "a"],
        ["--key", "a", "--key", "b", "x"],
        ["--min-scts", "1e3", "a"],
        ["--key", "k", "--", "a", "b"],
    ],
    ids=[
        "negative count", "bad choice", "unknown option", "no artifact", "missing value", "abbreviation",
        "two artifacts", "flag with a value", "unknown short", "unknown in a group", "key twice", "not an integer",
        "two after --",
    ],
)
def test_both_refuse_with_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as fast:
        parse_args("airseal verify", argv)
    assert fast.value.code == 2
    with pytest.raises(click.UsageError):
        verify.make_context("verify", list(argv))


def test_every_option_is_in_the_click_command() -> None:
    names = {opt for param in verify.params for opt in getattr(param, "opts", [])}
    for option in OPTIONS:
        assert set(option.flags) <= names


@pytest.mark.subprocess  # the import set of a fresh interpreter
def test_console_script_fast_path_imports_neither_click_nor_argparse(tmp_path: object) -> None:
    code = (
        "import sys\n"
        "sys.argv = ['airseal', 'verify', '--key', 'missing.pem', 'missing.txt']\n"
        "from verifier.cli.entry import main\n"
        "try:\n    main()\nexcept SystemExit as e:\n    print('exit', e.code)\n"
        "print('click' in sys.modules, 'argparse' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.stdout.split() == ["exit", "3", "False", "False"], out.stdout + out.stderr


@pytest.mark.subprocess  # the real console fast path, exit status included
def test_contradictory_options_are_usage_errors_on_the_fast_path() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "verifier", "verify", "--key", "k.pem", "--certificate-identity", "x", "a.txt"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert out.returncode == 2 and "not both" in out.stderr and "Traceback" not in out.stderr
