"""Import direction, checked on the source (ast): the rules of docs/design.md."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _modules(package: str) -> dict[str, set[str]]:
    root = REPO / package
    return {
        ".".join(p.relative_to(REPO).with_suffix("").parts): _imports(p)
        for p in root.rglob("*.py")
        if "_trust_root" not in p.parts
    }


ALL = {**_modules("verifier"), **_modules("hsm")}


def _uses(imports: set[str], top: str) -> bool:
    return any(name == top or name.startswith(top + ".") for name in imports)


def test_only_refresh_imports_tuf() -> None:
    assert sorted(m for m, imp in ALL.items() if _uses(imp, "tuf")) == ["verifier.trustroot.refresh"]


def test_click_stays_in_the_cli_modules() -> None:
    allowed = {"verifier.cli", "verifier.cli_verify", "verifier.cli_hsm", "verifier.cli_trust"}
    assert sorted(m for m, imp in ALL.items() if _uses(imp, "click")) == sorted(allowed)


def test_verifier_never_imports_pkcs11_or_hsm_outside_the_cli() -> None:
    offenders = [
        m
        for m, imp in ALL.items()
        if m.startswith("verifier.") and m not in {"verifier.cli_hsm", "verifier.verify_command"}
        and (_uses(imp, "pkcs11") or _uses(imp, "hsm"))
    ]
    assert offenders == []


def test_hsm_depends_only_on_verifier_errors() -> None:
    for module, imports in ALL.items():
        if module.startswith("hsm."):
            ours = {name for name in imports if name.startswith("verifier")}
            assert ours <= {"verifier.errors"}, (module, ours)


def test_verification_core_has_no_io_shell_imports() -> None:
    core = [m for m in ALL if m.startswith(("verifier.bundle", "verifier.tlog", "verifier.pki"))]
    core += ["verifier.verify", "verifier.crypto", "verifier.identity", "verifier.trustroot.load"]
    for module in core:
        bad = {n for n in ALL[module] if n.split(".")[0] in {"urllib", "http", "socket", "requests", "urllib3", "tuf"}}
        assert not bad, (module, bad)
