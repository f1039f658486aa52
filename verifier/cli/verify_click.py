"""click commands for `airseal verify` and `verify-bundle`, built from verify_command.OPTIONS."""

from __future__ import annotations

from typing import Any

import click

from verifier.cli.common import UsageProblem, given_once
from verifier.cli.verify import _ONCE, ARTIFACT_METAVAR, EPILOG, OPTIONS, run


def _options(fn: Any) -> Any:
    decorators = [click.argument("artifact", metavar=ARTIFACT_METAVAR)]
    for opt in OPTIONS:
        if opt.kind == "flag":
            decorators.append(click.option(*opt.flags, opt.dest, is_flag=True, help=opt.help))
        elif opt.kind == "count":
            decorators.append(
                click.option(
                    *opt.flags, opt.dest, type=click.IntRange(min=0), default=opt.default,
                    show_default=opt.default is not None, help=opt.help,
                )
            )
        elif opt.kind == "choice":
            decorators.append(
                click.option(
                    *opt.flags, opt.dest, type=click.Choice(list(opt.choices)), default=opt.default,
                    show_default=True, help=opt.help,
                )
            )
        elif opt.kind == "paths":
            decorators.append(
                click.option(
                    *opt.flags, opt.dest, type=click.Path(dir_okay=False), multiple=True, help=opt.help,
                    callback=lambda _ctx, _param, value: list(value) or None,
                )
            )
        elif opt.kind == "path":
            decorators.append(click.option(*opt.flags, opt.dest, type=click.Path(dir_okay=False), help=opt.help))
        elif opt.dest in _ONCE:
            decorators.append(click.option(*opt.flags, opt.dest, multiple=True, callback=given_once, help=opt.help))
        else:
            decorators.append(click.option(*opt.flags, opt.dest, help=opt.help))
    for decorator in reversed(decorators):
        fn = decorator(fn)
    return fn


def _run_click(opts: dict[str, Any]) -> None:
    try:
        run(**opts)
    except UsageProblem as problem:
        raise click.UsageError(str(problem)) from None


@click.command(epilog="\b\n" + EPILOG)
@_options
def verify(**kwargs: Any) -> None:
    """Verify ARTIFACT (or its digest) against a Sigstore bundle, offline."""
    _run_click(kwargs)


@click.command("verify-bundle", epilog="\b\n" + EPILOG)
@_options
def verify_bundle(**kwargs: Any) -> None:
    """The Sigstore conformance protocol's verify-bundle; same as `verify`."""
    _run_click(kwargs)
