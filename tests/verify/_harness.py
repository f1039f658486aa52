"""Drive `airseal verify --json` through click's CliRunner with VirtualSigstore material.

`Inv` describes one invocation (bundle, trusted root, artifact or digest, policy flags);
`run_inv` writes the files into a directory and returns an `Outcome` with the exit code and
the parsed JSON report. The CLI contract (cli.md) is the only thing these tests rely on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from click.testing import CliRunner, Result

from tests.support.virtual_sigstore import DEFAULT_IDENTITY, DEFAULT_ISSUER
from verifier.errors import Reason

ARTIFACT = b"airseal test artifact\n"

_ORDER = list(Reason)
INPUT_REASONS = frozenset(_ORDER[: _ORDER.index(Reason.TLOG_DUPLICATE_ENTRY)])
"""errors.py lists the exit-3 (malformed input) reasons first, before the exit-1 block."""


def expected_exit(reason: Reason) -> int:
    return 3 if reason in INPUT_REASONS else 1


@dataclass
class Inv:
    """One `airseal verify` invocation."""

    bundle: Union[dict[str, Any], str, bytes]
    """A bundle dict (dumped as JSON) or raw text/bytes written as is."""
    trusted_root: Union[dict[str, Any], str, bytes, list[Any]]
    """One trusted root, or a list of them (one `--trusted-root` each)."""
    artifact: bytes = ARTIFACT
    identity: Optional[str] = DEFAULT_IDENTITY
    issuer: Optional[str] = DEFAULT_ISSUER
    identity_regexp: Optional[str] = None
    issuer_regexp: Optional[str] = None
    key_pem: Optional[bytes] = None
    """`--key`; when set, identity/issuer flags are dropped unless `keep_identity`."""
    keep_identity: bool = False
    digest: Optional[str] = None
    """Pass `<alg>:<hex>` of the artifact (or `digest_value`) instead of the artifact path."""
    digest_value: Optional[str] = None
    args: list[str] = field(default_factory=list)
    command: str = "verify"
    """"verify" or "verify-bundle" (the conformance-protocol spelling; same behaviour)."""
    artifact_name: str = "artifact.bin"
    """The artifact's file name (PEP 740 evidence names the distribution file)."""


@dataclass
class Outcome:
    result: Result
    exit_code: int
    report: Optional[dict[str, Any]]

    @property
    def reason(self) -> Optional[str]:
        return None if self.report is None else self.report.get("reason_code")

    def describe(self) -> str:
        return (
            f"exit={self.exit_code} reason={self.reason!r} "
            f"message={None if self.report is None else self.report.get('message')!r}\n"
            f"stdout={self.result.stdout[-2000:]!r}\nstderr={self.result.stderr[-2000:]!r}"
        )


def _write(path: Path, value: Union[dict[str, Any], str, bytes]) -> None:
    if isinstance(value, dict):
        path.write_text(json.dumps(value), encoding="utf-8")
    elif isinstance(value, str):
        path.write_text(value, encoding="utf-8")
    else:
        path.write_bytes(value)


def argv(inv: Inv, workdir: Path) -> list[str]:
    bundle = workdir / "bundle.sigstore.json"
    art = workdir / inv.artifact_name
    _write(bundle, inv.bundle)
    art.write_bytes(inv.artifact)
    out = [inv.command, "--bundle", str(bundle)]
    roots = inv.trusted_root if isinstance(inv.trusted_root, list) else [inv.trusted_root]
    for i, tr in enumerate(roots):
        root = workdir / ("trusted_root.json" if i == 0 else f"trusted_root_{i}.json")
        _write(root, tr)
        out += ["--trusted-root", str(root)]
    if inv.key_pem is not None:
        key = workdir / "key.pem"
        key.write_bytes(inv.key_pem)
        out += ["--key", str(key)]
    if inv.key_pem is None or inv.keep_identity:
        if inv.identity_regexp is not None:
            out += ["--certificate-identity-regexp", inv.identity_regexp]
        elif inv.identity is not None:
            out += ["--certificate-identity", inv.identity]
        if inv.issuer_regexp is not None:
            out += ["--certificate-oidc-issuer-regexp", inv.issuer_regexp]
        elif inv.issuer is not None:
            out += ["--certificate-oidc-issuer", inv.issuer]
    out += ["--json", *inv.args]
    if inv.digest is not None:
        value = inv.digest_value or hashlib.new(inv.digest, inv.artifact).hexdigest()
        out.append(f"{inv.digest}:{value}")
    else:
        out.append(str(art))
    return out


def run_inv(inv: Inv, workdir: Path) -> Outcome:
    from verifier.cli.app import main

    workdir.mkdir(parents=True, exist_ok=True)
    result = CliRunner().invoke(main, argv(inv, workdir), catch_exceptions=True)
    report = None
    try:
        report = json.loads(result.stdout)
    except (ValueError, TypeError):
        report = None
    return Outcome(result, result.exit_code, report)
