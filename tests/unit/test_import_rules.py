"""Import direction, checked on the source (ast): the rules of docs/design.md.

Layers, lowest first; a module may import its own layer and the layers below, never above:

0. encoding: the error tree, input caps, strict encodings, times, algorithms, key I/O, atomic files
1. model and parsing: bundle and trusted-root models, their parsers and builders, in-toto
2. verification: crypto, artifact, policy, identity, tlog, pki, tsa, the orchestrator, results,
   and the public API in `verifier/__init__.py`
3. services: the trust store, the TUF refresh, signing, the gate
4. command line: `verifier.cli.*`

`hsm.*` sits beside the services: it may import layer 0 and itself, never the CLI. Only the
CLI imports `hsm`, only the CLI imports click, and only the refresh imports tuf.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

P = "verifier._internal."
LAYERS: list[tuple[str, ...]] = [
    (
        "verifier.errors",
        P + "limits",
        P + "record",
        P + "encoding",
        P + "timefmt",
        P + "algorithms",
        P + "keyio",
        P + "atomic",
        P + "inputfile",
    ),
    (P + "bundle", P + "trustroot.model", P + "trustroot.load", P + "trustroot.embedded", P + "intoto", P + "evidence", P + "formats"),
    (
        "verifier",
        P + "crypto",
        P + "artifact",
        P + "identity",
        P + "policy",
        P + "result",
        P + "tlog",
        P + "pki",
        P + "tsa",
        P + "verify",
        P + "roots",
    ),
    (P + "trustroot.store", P + "refresh", P + "signing", P + "gate"),
    ("verifier.cli", "verifier.__main__"),
]


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            # `from verifier._internal import algorithms` names a module too
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _modules(package: str) -> dict[str, set[str]]:
    root = REPO / package
    out = {}
    for p in root.rglob("*.py"):
        if "_trust_root" in p.parts:
            continue
        parts = p.relative_to(REPO).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = _imports(p)
    return out


ALL = {**_modules("verifier"), **_modules("hsm")}


def _uses(imports: set[str], top: str) -> bool:
    return any(name == top or name.startswith(top + ".") for name in imports)


def _layer(module: str) -> int | None:
    """The layer of a project module (longest prefix wins), None for hsm and packages."""
    best: tuple[int, int] | None = None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or module.startswith(prefix + ".")
            if matches and (best is None or len(prefix) > best[1]):
                best = (index, len(prefix))
    return None if best is None else best[0]


def _ours(imports: set[str]) -> set[str]:
    return {n for n in imports if n == "verifier" or n.startswith(("verifier.", "hsm"))}


def test_every_module_has_a_layer() -> None:
    unplaced = [
        m for m in ALL if m.startswith("verifier") and m != "verifier._internal" and _layer(m) is None
    ]
    assert unplaced == []


@pytest.mark.parametrize("module", sorted(m for m in ALL if m.startswith("verifier")))
def test_imports_flow_down(module: str) -> None:
    own = _layer(module)
    if own is None:
        return
    upward = []
    for name in _ours(ALL[module]):
        if name.startswith("hsm"):
            if own < len(LAYERS) - 1:
                upward.append(name)
            continue
        target = _layer(name)
        if target is not None and target > own:
            upward.append(name)
    assert upward == [], f"{module} (layer {own}) imports a higher layer: {upward}"


@pytest.mark.parametrize("module", sorted(m for m in ALL if m.startswith("hsm")))
def test_hsm_imports_only_the_encoding_layer(module: str) -> None:
    bad = [n for n in _ours(ALL[module]) if not n.startswith("hsm") and _layer(n) not in (0,)]
    bad = [n for n in bad if n not in ("verifier._internal",)]
    assert bad == [], f"{module} imports {bad}"


def test_only_the_refresh_imports_tuf() -> None:
    assert sorted(m for m, imp in ALL.items() if _uses(imp, "tuf")) == [
        "verifier._internal.refresh.build",
        "verifier._internal.refresh.explain",
        "verifier._internal.refresh.fetcher",
        "verifier._internal.refresh.updater",
    ]


def test_click_stays_in_the_cli() -> None:
    assert [m for m, imp in ALL.items() if _uses(imp, "click") and not m.startswith("verifier.cli")] == []


def test_only_the_cli_imports_hsm_or_pkcs11_on_the_verifier_side() -> None:
    offenders = [
        m
        for m, imp in ALL.items()
        if m.startswith("verifier") and not m.startswith("verifier.cli") and (_uses(imp, "pkcs11") or _uses(imp, "hsm"))
    ]
    assert offenders == []


def test_verification_never_imports_network_modules() -> None:
    for module, imports in ALL.items():
        if _layer(module) in (0, 1, 2):
            bad = {n for n in imports if n.split(".")[0] in {"urllib", "http", "socket", "requests", "urllib3", "tuf"}}
            assert not bad, (module, bad)
