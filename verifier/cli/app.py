"""airseal command line. Subcommands load their modules lazily so `verify` starts fast."""

from __future__ import annotations

import importlib
from typing import Any

import click

_LAZY_COMMANDS: dict[str, str] = {
    "verify": "verifier.cli.verify_click:verify",
    "verify-bundle": "verifier.cli.verify_click:verify_bundle",
    "sign": "verifier.cli.sign:sign",
    "attest": "verifier.cli.sign:attest",
    "hsm": "verifier.cli.hsm:hsm",
    "trust": "verifier.cli.trust:trust",
    "gate": "verifier.cli.gate:gate",
}


class _LazyGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        """Ctrl-C, SIGTERM and a closed pipe anywhere in a subcommand end as `run_guarded` ends
        them (130/143, 141), not as click's "Aborted!" (exit 1) or its EPIPE exit 1."""
        from verifier.cli.common import exit_on_interrupt_or_closed_pipe

        return exit_on_interrupt_or_closed_pipe(lambda: super(_LazyGroup, self).invoke(ctx))

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(_LAZY_COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> Any:
        target = _LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None
            raise
        return getattr(module, attr)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="airseal", prog_name="airseal")
def main() -> None:
    """airseal: sign with a hardware token, verify Sigstore bundles offline.

    \b
    Examples:
      airseal verify --bundle a.sigstore.json --key key.pem a.txt
      airseal sign --key 'pkcs11:token=release;object=k1' a.txt
      airseal trust import public-good /media/usb/sigstore-tuf.tar.gz

    \b
    Exit codes:
      0  verified / done            4  trust-root problem
      1  verification rejected      5  token problem
      2  usage error                6  service problem at signing (TSA, log)
      3  malformed input            70 internal error (a bug)
      130 interrupted (Ctrl-C)      143 terminated (SIGTERM)
      141 output pipe closed (e.g. `| head -1`): quiet, like a shell's SIGPIPE
    Set AIRSEAL_DEBUG=1 (or -v where offered) to see underlying causes.
    """


if __name__ == "__main__":  # pragma: no cover
    main()
