"""Policy validation (exit 3, naming rule and key, nothing judged), command-line misuse (exit 2),
globs, and the evidence seam."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.gate.conftest import run_gate
from tests.gate.tree import Tree, virtual_sigstore
from verifier._internal.evidence import load_evidence
from verifier._internal.gate.evidence import evidence_base, looks_like_evidence
from verifier._internal.gate.policy import RuleMatcher, compile_glob, load_policy
from verifier.errors import InputError, Reason

ID = 'certificate-identity = "https://github.com/o/r/.github/workflows/w.yml@refs/heads/main"'

BAD_POLICIES = [
    ("not toml [[[", None, None, "not valid TOML"),
    ("title = 'x'\n", None, "title", "unknown top-level key"),
    ("", None, "rule", "at least one [[rule]]"),
    ("[[rule]]\n" + ID + "\n", 1, "paths", "is required"),
    ("[[rule]]\npaths = []\n" + ID + "\n", 1, "paths", "non-empty strings"),
    ("[[rule]]\npaths = ['../up/*']\n" + ID + "\n", 1, "paths", "no '..'"),
    ("[[rule]]\npaths = ['/abs/*']\n" + ID + "\n", 1, "paths", "relative to PATH"),
    ("[[rule]]\npaths = ['a/[b']\n" + ID + "\n", 1, "paths", "unclosed"),
    ("[[rule]]\npaths = ['**']\n", 1, None, "say who must have signed"),
    ("[[rule]]\npaths = ['**']\n" + ID + "\n[[rule]]\npaths = ['x']\nkey = ['missing.pem']\n", 2, "key", "cannot read"),
    ("[[rule]]\npaths = ['**']\nkey = 'bad.pem'\n", 1, "key", "not a PEM public key"),
    ("[[rule]]\npaths = ['**']\n" + ID + "\ncertificate-identity-regexp = 'x'\n", 1, "certificate-identity-regexp", "not both"),
    ("[[rule]]\npaths = ['**']\ncertificate-oidc-issuer = 'https://i'\nkey = 'good.pem'\n", 1, "certificate-oidc-issuer", "needs certificate-identity"),
    ("[[rule]]\npaths = ['**']\ncertificate-identity-regexp = '(['\n", 1, "certificate-identity-regexp", "invalid regexp"),
    ("[[rule]]\npaths = ['**']\n" + ID + "\nmin-tlog-entries = -1\n", 1, "min-tlog-entries", "integer from 0"),
    ("[[rule]]\npaths = ['**']\n" + ID + "\nmin-scts = true\n", 1, "min-scts", "integer from 0"),
    ("[[rule]]\npaths = ['**']\n" + ID + "\nmin_scts = 1\n", 1, "min_scts", "unknown key"),
    ("[[rule]]\npaths = ['**']\n" + ID + "\ntrusted-root = 'nope.json'\n", 1, "trusted-root", "cannot read"),
    ("[[rule]]\npaths = ['**']\n" + ID + "\ntrusted-root = 'bad.pem'\n", 1, "trusted-root", "trustroot"),
    ("[[rule]]\npaths = ['**']\ndeny = true\nkey = 'good.pem'\n", 1, "key", "a deny rule takes only"),
    ("[[rule]]\npaths = ['**']\ndeny = 'yes'\n", 1, "deny", "true or false"),
    ("[vsa]\nlevels = []\n[[rule]]\npaths = ['**']\ndeny = true\n", None, "levels", "unknown key"),
]


@pytest.fixture
def policy_dir(tmp_path: Path) -> Path:
    d = tmp_path / "conf"
    d.mkdir()
    (d / "good.pem").write_bytes(virtual_sigstore().public_key_pem())
    (d / "bad.pem").write_text("not a key")
    return d


@pytest.mark.parametrize("text,rule,key,message", BAD_POLICIES, ids=[f"case{i}" for i in range(len(BAD_POLICIES))])
def test_bad_policies_are_refused_naming_rule_and_key(policy_dir: Path, text: str, rule: int | None, key: str | None, message: str) -> None:
    path = policy_dir / "gate.toml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_policy(path)
    err = info.value
    assert err.reason is Reason.POLICY_INVALID and err.exit_code == 3
    assert message in err.detail, err.detail
    assert err.context["rule"] == rule
    assert err.context["key"] == key
    if rule is not None:
        assert f"rule {rule}" in err.detail
    if key is not None:
        assert f"{key}:" in err.detail


def test_a_bad_policy_exits_3_before_anything_is_judged(tree: Tree, tmp_path: Path) -> None:
    bad = tree.policy.with_name("bad.toml")
    bad.write_text(tree.policy.read_text() + "\n[[rule]]\npaths = ['x']\nkey = ['nope.pem']\n")
    report = tmp_path / "report"
    result = run_gate(tmp_path, "--policy", str(bad), "--report", str(report), str(tree.root))
    assert result.returncode == 3, result.stderr
    assert "rule 5" in result.stderr and "key" in result.stderr and "[policy.invalid]" in result.stderr
    assert not report.exists()
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "args,message",
    [
        (["--policy", "P", "--key", "k.pem"], "not both"),
        (["--certificate-oidc-issuer", "https://i"], "needs --certificate-identity"),
        (["--certificate-identity", "a", "--certificate-identity-regexp", "b"], "not both"),
        ([], "say who must have signed"),
        (["--key", "K", "--shard", "3/2"], "K/N"),
        (["--key", "K", "--shard", "0/2"], "K/N"),
        (["--key", "K", "--shard", "1"], "K/N"),
        (["--key", "K", "--shard", "1/2", "--dask", "local"], "not both"),
        (["--key", "K", "--dask-partition", "10"], "goes with --dask"),
        (["--key", "K", "--vsa-key", "/path/key.pem"], "pkcs11:"),
        (["--key", "K", "--jobs", "0"], "--jobs"),
        (["--key", "K", "--progress", "maybe"], "--progress"),
    ],
)
def test_command_line_misuse_exits_2(tree: Tree, tmp_path: Path, args: list[str], message: str) -> None:
    args = [str(tree.policy) if a == "P" else str(tree.key_pem) if a == "K" else a for a in args]
    result = run_gate(tmp_path, *args, "--report", str(tmp_path / "r"), str(tree.root))
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "glob,yes,no",
    [
        ("*.whl", ["a.whl"], ["d/a.whl", "a.whl.sig"]),
        ("**/*.whl", ["a.whl", "d/a.whl", "d/e/a.whl"], ["a.tar"]),
        ("pypi/**", ["pypi/a", "pypi/d/a"], ["pypi", "other/a"]),
        ("a/**/b", ["a/b", "a/x/b", "a/x/y/b"], ["a/xb"]),
        ("f?le", ["file"], ["fle", "f/le"]),
        ("[ab].txt", ["a.txt", "b.txt"], ["c.txt", "/.txt"]),
        ("[!ab].txt", ["c.txt"], ["a.txt", "/.txt"]),
        ("a.b+c", ["a.b+c"], ["aXb+c", "a.bbc"]),
        ("**", ["x", "x/y/z"], []),
    ],
)
def test_globs(glob: str, yes: list[str], no: list[str]) -> None:
    pattern = compile_glob(glob)
    for path in yes:
        assert pattern.match(path), (glob, path)
    for path in no:
        assert not pattern.match(path), (glob, path)


def test_first_matching_rule_wins(policy_dir: Path) -> None:
    path = policy_dir / "p.toml"
    path.write_text("[[rule]]\nname='one'\npaths=['a/*']\ndeny=true\n[[rule]]\nname='two'\npaths=['**']\nkey='good.pem'\n")
    policy = load_policy(path)
    matcher = RuleMatcher(policy.rules)
    assert matcher.match("a/x").name == "one"
    assert matcher.match("a/b/x").name == "two"
    assert policy.rules[1].keys[0][0] == "good.pem"


def test_evidence_names() -> None:
    files = {"app.whl", "app.whl.sigstore.json", "tool", "tool.slsa.attestation", "x.jsonl", "x"}
    assert evidence_base("app.whl.sigstore.json", files) == "app.whl"
    assert evidence_base("tool.slsa.attestation", files) == "tool"
    assert evidence_base("x.jsonl", files) == "x"
    assert evidence_base("app.whl", files) is None
    assert evidence_base("other.sigstore.json", files) is None
    assert looks_like_evidence("other.sigstore.json") and looks_like_evidence("a.b.attestation")
    assert not looks_like_evidence("plain.attestation") and not looks_like_evidence("app.whl")


def test_the_gate_reads_evidence_through_the_shared_seam() -> None:
    """One seam for `verify --bundle` and the gate: a plain bundle, and GitHub JSON Lines."""
    vs = virtual_sigstore()
    bundle = json.dumps(vs.sign_artifact(b"x")).encode()
    [found] = load_evidence(bundle)
    assert found.format == "sigstore-bundle" and found.bundle.media_type
    with pytest.raises(InputError):
        load_evidence(b"hello")
    lines = load_evidence(bundle + b"\n" + bundle + b"\n")
    assert [f.format for f in lines] == ["github-attestations-jsonl"] * 2
    assert [f.location for f in lines] == ["line 1", "line 2"]


def test_the_documented_policy_is_valid_toml_with_known_keys() -> None:
    import re

    import tomllib

    from tests.conftest import REPO
    from verifier._internal.gate.policy import RULE_KEYS, TOP_KEYS, compile_glob

    doc = (REPO / "docs" / "gate.md").read_text()
    example = re.search(r"```toml\n(# gate\.toml.*?)```", doc, re.S).group(1)
    parsed = tomllib.loads(example)
    assert set(parsed) <= set(TOP_KEYS)
    assert len(parsed["rule"]) == 4 and parsed["rule"][-1] == {"name": "deny everything else", "paths": ["**"], "deny": True}
    for rule in parsed["rule"]:
        assert set(rule) <= set(RULE_KEYS)
        for glob in rule["paths"]:
            compile_glob(glob)
        for key in ("certificate-identity-regexp",):
            if key in rule:
                re.compile(rule[key])
