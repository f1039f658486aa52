"""`airseal trust ...`: named trusts, online refresh, and refresh from removable media.

Thin shell over `verifier._internal.trustroot.store` and `verifier._internal.refresh`: parse
options, call, print. The refresh modules (and so tuf) are imported inside the commands that
need them, so `trust list/show` stay light.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from verifier._internal.limits import DEFAULT_LIMITS
from verifier.cli.common import JSON_SCHEMA_VERSION, emit_json, run_guarded, warn
from verifier.errors import Reason, TrustRootError

DEFAULT_TRUST = "public-good"
_MAX_GRACE = DEFAULT_LIMITS.max_grace_days


def _name_and_path(args: tuple[str, ...], what: str) -> tuple[str, str]:
    if len(args) == 1:
        return DEFAULT_TRUST, args[0]
    if len(args) == 2:
        return args[0], args[1]
    raise click.UsageError(f"expected [NAME] {what}")


def _print_result(result: Any, as_json: bool, verb: str) -> None:
    for line in result.warnings:
        warn(line)
    if as_json:
        emit_json({"schema": JSON_SCHEMA_VERSION, "ok": True, **result.to_json_dict()})
        return
    s = result.state
    prev = result.previous
    moved = ""
    if prev is not None and prev.root_version != s.root_version:
        moved = f" (was v{prev.root_version})"
    click.echo(
        f"trust {result.name!r} {verb} from {result.source}: root v{s.root_version}{moved},"
        f" timestamp v{s.timestamp_version}, snapshot v{s.snapshot_version},"
        f" targets v{s.targets_version}"
    )
    click.echo(f"  trusted_root.json sha256 {s.trusted_root_sha256}")
    click.echo(
        f"  expiry judged at {_fmt(result.reference_time)}; metadata valid until {_fmt(s.earliest_expiry)}"
    )
    if result.changes:
        click.echo("  trusted_root.json changes:")
        for line in result.changes:
            click.echo(f"    {line}")
    else:
        click.echo("  trusted_root.json unchanged")


def _fmt(when: Any) -> str:
    from verifier._internal.timefmt import iso

    return iso(when)


@click.group()
def trust() -> None:
    """Named trust roots: show them, refresh them online or from removable media.

    \b
    Examples:
      airseal trust list
      airseal trust update                       # public-good, from its TUF repository
      airseal trust export /media/usb/sigstore-tuf.tar.gz
      airseal trust import public-good /media/usb/sigstore-tuf.tar.gz
    """


@trust.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def list_cmd(as_json: bool) -> None:
    """List the named trusts and where each one's trusted root comes from.

    \b
    Example:
      airseal trust list
    """

    def body() -> None:
        from verifier._internal.trustroot import store

        rows = [store.describe_trust(n) for n in store.list_trusts()]
        if as_json:
            emit_json({"schema": JSON_SCHEMA_VERSION, "ok": True, "trusts": rows})
            return
        for row in rows:
            if row["source"] == "store":
                where = (
                    f"root v{row['root_version']}, refreshed {row['refreshed_at']},"
                    f" valid until {row['expires']}"
                )
            elif row["source"] == "embedded":
                where = f"shipped snapshot (dated {row['embedded_snapshot_date']}), never refreshed"
            else:
                where = "never refreshed"
            click.echo(f"{row['name']:<16} {row['url'] or '(media only)'}  {where}")

    run_guarded(body, as_json=as_json)


@trust.command("show")
@click.argument("name", default=DEFAULT_TRUST)
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def show_cmd(name: str, as_json: bool) -> None:
    """Show a trust's TUF versions, expiry, refresh time and trusted_root.json hash.

    \b
    Examples:
      airseal trust show
      airseal trust show staging --json
    """

    def body() -> None:
        from verifier._internal.trustroot import store

        info = store.describe_trust(name)
        for line in store.load_config(name).warnings:
            warn(line)
        if as_json:
            emit_json({"schema": JSON_SCHEMA_VERSION, "ok": True, **info})
            return
        click.echo(f"name:                {info['name']}")
        click.echo(f"url:                 {info['url'] or '(none: refreshed from media only)'}")
        click.echo(f"source:              {info['source']}")
        if info["source"] == "embedded":
            click.echo(f"snapshot dated:      {info['embedded_snapshot_date']} (shipped; never refreshed)")
        for key in ("root_version", "timestamp_version", "snapshot_version", "targets_version"):
            if info[key] is not None:
                click.echo(f"{key + ':':<21}{info[key]}")
        click.echo(f"trusted_root_sha256: {info['trusted_root_sha256'] or '(none: never refreshed)'}")
        if info["source"] == "store":
            click.echo(f"refreshed_at:        {info['refreshed_at']} ({info['refreshed_days_ago']} days ago)")
            click.echo(f"expires:             {info['expires']}")
            for role, when in info["expires_by_role"].items():
                click.echo(f"  {role:<10}        {when}")
            click.echo(f"reference floor:     {info['reference_time_floor']}")
            click.echo(f"last source:         {info['last_source']}")
        click.echo(f"grace_days:          {info['grace_days']}")
        click.echo(f"stale_warning_days:  {info['stale_warning_days']}")
        max_age = info.get("max_age_days")
        click.echo(f"max_age_days:        {'(none: only the stale warning)' if max_age is None else max_age}")

    run_guarded(body, as_json=as_json)


@trust.command("init")
@click.argument("name")
@click.option("--root", "root_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The deployment's TUF root.json (obtained out of band).")
@click.option("--url", help="Base URL of its TUF repository (metadata at URL/, targets at URL/targets/).")
@click.option("--grace-days", type=click.IntRange(0, _MAX_GRACE), default=0, show_default=True,
              help=f"Accept metadata that expired up to this many days ago (max {_MAX_GRACE}).")
@click.option("--stale-warning-days", type=click.IntRange(0, None), default=30, show_default=True,
              help="Warn on verify when the last refresh is older than this.")
def init_cmd(name: str, root_file: Path, url: str | None, grace_days: int, stale_warning_days: int) -> None:
    """Add a private deployment's trust, bootstrapped from its TUF root.json.

    \b
    Example:
      airseal trust init corp --root corp-root.json --url https://tuf.corp.example
      airseal trust import corp /media/usb/corp-tuf.tar.gz
    """

    def body() -> None:
        from verifier._internal.refresh import updater as refresh
        from verifier._internal.trustroot import store

        store.check_name(name)
        if store.is_builtin(name):
            raise TrustRootError(
                Reason.TRUST_STORE_ERROR,
                f"{name!r} is built in; change its settings with `airseal trust config {name}`",
            )
        from verifier._internal.inputfile import read_input_file

        data = read_input_file(
            root_file, what="TUF root", reason=Reason.TRUSTROOT_NOT_FOUND,
            max_bytes=DEFAULT_LIMITS.tuf_root_max_bytes, error=TrustRootError,
        )
        root = refresh.check_root_bytes(data)
        if root.expires <= dt.datetime.now(dt.timezone.utc):
            warn(
                f"this TUF root (v{root.version}) expired on {_fmt(root.expires)}: `trust update` or"
                f" `trust import` will only succeed from a repository or media carrying a newer root"
                f" signed by this one; check that {root_file} is the deployment's current root"
            )
        config = store.TrustConfig(
            url=url,
            grace_days=grace_days,
            stale_warning_days=stale_warning_days,
        )
        store.create_trust(name, data, config)
        click.echo(
            f"trust {name!r} created from TUF root v{root.version}"
            f" (expires {_fmt(root.expires)}); next: `airseal trust update {name}`"
            f" or `airseal trust import {name} SOURCE`"
        )
        if not url:
            warn(f"no --url given: trust {name!r} can only be refreshed from media")

    run_guarded(body)


@trust.command("config")
@click.argument("name", default=DEFAULT_TRUST)
@click.option("--url", help="Base URL of the TUF repository.")
@click.option("--grace-days", type=click.IntRange(0, _MAX_GRACE), help=f"Grace period for expired media (0-{_MAX_GRACE} days).")
@click.option("--stale-warning-days", type=click.IntRange(0, None), help="Warn when older than this.")
@click.option("--max-age", "max_age", type=click.IntRange(0, None), metavar="DAYS",
              help="Refuse to verify with this trust (trustroot.stale) when its last refresh is older than DAYS.")
@click.option("--no-max-age", is_flag=True, help="Remove the maximum age: a stale trust only warns.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def config_cmd(name: str, url: str | None, grace_days: int | None, stale_warning_days: int | None,
               max_age: int | None, no_max_age: bool, as_json: bool) -> None:
    """Show or change a trust's settings (URL, grace period, stale warning, maximum age).

    \b
    Examples:
      airseal trust config public-good --grace-days 7
      airseal trust config public-good --max-age 30
    """
    if max_age is not None and no_max_age:
        raise click.UsageError("give --max-age or --no-max-age, not both")

    def body() -> None:

        from verifier._internal.trustroot import store

        config = store.load_config(name)
        changes: dict[str, Any] = {}
        if url is not None:
            changes["url"] = url
        if grace_days is not None:
            changes["grace_days"] = grace_days
        if stale_warning_days is not None:
            changes["stale_warning_days"] = stale_warning_days
        if max_age is not None or no_max_age:
            changes["max_age_days"] = max_age
        if changes:
            config = config._replace(**changes)
            store.save_config(name, config)
        if as_json:
            emit_json({"schema": JSON_SCHEMA_VERSION, "ok": True, "name": name, **config.to_json_dict()})
            return
        for key, value in config.to_json_dict().items():
            click.echo(f"{key}: {value}")

    run_guarded(body, as_json=as_json)


@trust.command("update")
@click.argument("name", default=DEFAULT_TRUST)
@click.option("--url", help="Use this repository URL for this refresh (a mirror).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def update_cmd(name: str, url: str | None, as_json: bool) -> None:
    """Refresh a trust online from its TUF repository.

    \b
    Examples:
      airseal trust update
      airseal trust update staging
      airseal trust update corp --url https://tuf-mirror.corp.example
    """

    def body() -> None:
        from verifier._internal.refresh import updater as refresh

        _print_result(refresh.refresh_online(name, url), as_json, "refreshed")

    run_guarded(body, as_json=as_json)


@trust.command("export")
@click.argument("args", nargs=-1, required=True, metavar="[NAME] OUT.tar.gz")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def export_cmd(args: tuple[str, ...], as_json: bool) -> None:
    """Pack a refreshed trust for an air-gapped machine (run after `trust update`).

    \b
    Examples:
      airseal trust update && airseal trust export /media/usb/sigstore-tuf.tar.gz
      airseal trust export staging staging-tuf.tar.gz
    """
    name, out = _name_and_path(args, "OUT.tar.gz")

    def body() -> None:
        from verifier._internal.refresh.pack import export_pack

        manifest = export_pack(name, Path(out))
        if manifest["expires"] <= _fmt(dt.datetime.now(dt.timezone.utc)):
            warn(
                f"the packed metadata expired on {manifest['expires']}: an air-gapped client will"
                f" refuse it (beyond its grace period); run `airseal trust update {name}` first"
            )
        if as_json:
            emit_json({"schema": JSON_SCHEMA_VERSION, "ok": True, "out": out,
                       **{k: v for k, v in manifest.items() if k != "files"},
                       "files": sorted(manifest["files"])})
            return
        click.echo(
            f"wrote {out}: trust {name!r}, roots v{manifest['root_versions'][0]}..v{manifest['root_version']},"
            f" timestamp v{manifest['timestamp_version']}, snapshot v{manifest['snapshot_version']},"
            f" targets v{manifest['targets_version']}, {len(manifest['files'])} files;"
            f" valid until {manifest['expires']}"
        )

    run_guarded(body, as_json=as_json)


@trust.command("import")
@click.argument("args", nargs=-1, required=True, metavar="[NAME] SOURCE")
@click.option("--json", "as_json", is_flag=True, help="One JSON object on stdout.")
def import_cmd(args: tuple[str, ...], as_json: bool) -> None:
    """Refresh a trust from removable media: a pack made by `trust export` or a directory.

    SOURCE may be a .tar.gz pack, a repository checkout (metadata/ + targets/), or a mirrored
    TUF site (metadata files at the top, targets/ below). Every TUF check runs over it.

    \b
    Examples:
      airseal trust import /media/usb/sigstore-tuf.tar.gz
      airseal trust import public-good /media/usb/root-signing/repository
    """
    name, source = _name_and_path(args, "SOURCE")

    def body() -> None:
        from verifier._internal.refresh import updater as refresh

        _print_result(refresh.refresh_from_media(name, Path(source)), as_json, "imported")

    run_guarded(body, as_json=as_json)
