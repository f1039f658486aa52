"""The gate's policy: ordered `[[rule]]` tables (TOML), validated whole before anything is judged.

A rule holds `verify`'s choices under its option names without the dashes (cli.md, "gate"):

    [[rule]]
    name = "wheels from our release workflow"          # optional, shown in reports
    paths = ["pypi/**/*.whl"]                          # globs relative to PATH; ** spans directories
    certificate-identity-regexp = "https://github.com/org/.+/.github/workflows/release.yml@refs/tags/v.+"
    certificate-oidc-issuer = "https://token.actions.githubusercontent.com"
    min-tlog-entries = 1

    [[rule]]
    paths = ["internal/**"]
    key = ["keys/release.pem", "pkcs11:token=release;object=k1"]   # PEM paths relative to this file
    min-tlog-entries = 0

    [[rule]]
    paths = ["**"]
    deny = true                                        # explicit deny-all tail (gate.denied)

Every problem is an `InputError(policy.invalid)` naming the rule (1-based) and the key.
`pkcs11:` keys are resolved by a callback the command passes in (this layer never imports
`hsm`). The result, `GatePolicy`, is plain data (PEM and trusted-root bytes, strings), so it
pickles to pool workers, which parse it once (`judge.init_worker`).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Optional

from verifier._internal.identity import Identity
from verifier._internal.limits import DEFAULT_LIMITS, Limits
from verifier._internal.record import Record
from verifier.errors import AirsealError, InputError, Reason

RULE_KEYS = (
    "paths",
    "name",
    "deny",
    "certificate-identity",
    "certificate-identity-regexp",
    "certificate-oidc-issuer",
    "certificate-oidc-issuer-regexp",
    "key",
    "trusted-root",
    "min-tlog-entries",
    "min-timestamps",
    "min-scts",
)
TOP_KEYS = ("rule", "vsa")
VSA_KEYS = ("verified-levels",)
DEFAULT_VERIFIED_LEVELS = ("SLSA_BUILD_LEVEL_0",)
"""What a VSA claims unless the policy says more: the gate checks signatures and identities,
not how a build ran, so it claims no SLSA build level by itself."""

KeyResolver = Callable[[str], bytes]
"""`pkcs11:` URI -> PEM SubjectPublicKeyInfo (supplied by the command line layer)."""


class PolicyProblem(Exception):
    """A rule the command line built is contradictory (the CLI turns it into exit 2)."""


class Rule(Record):
    number: int
    """1-based position in the policy (0 for the rule built from the command line)."""
    name: str
    paths: tuple[str, ...]
    deny: bool = False
    identity: Optional[Identity] = None
    keys: tuple[tuple[str, bytes], ...] = ()
    """(source as written, PEM bytes)."""
    trusted_roots: tuple[tuple[str, bytes], ...] = ()
    """(source, trusted_root.json bytes); empty: the command line's trust."""
    min_tlog_entries: int = 1
    min_timestamps: Optional[int] = None
    min_scts: Optional[int] = None

    def label(self) -> str:
        return f"rule {self.number}" + (f" ({self.name})" if self.name else "")


class GatePolicy(Record):
    rules: tuple[Rule, ...]
    source: Optional[str]
    """The policy file, or None for the command line's single rule."""
    sha256: Optional[str]
    """SHA-256 of the policy file's bytes (None without --policy)."""
    verified_levels: tuple[str, ...] = DEFAULT_VERIFIED_LEVELS


# --- globs -----------------------------------------------------------------------------------


def compile_glob(pattern: str) -> re.Pattern[str]:
    """`*` and `?` stay within one path segment, `**` spans segments (`a/**/b` matches `a/b`),
    `[...]` is a character class (`[!...]` negated). Matches the whole relative path."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i + 2 if pattern.startswith("[!", i) or pattern.startswith("[]", i) else i + 1)
            if end < 0:
                raise ValueError("unclosed [")
            body = pattern[i + 1 : end]
            negate = body.startswith("!")
            if negate:
                body = body[1:]
            body = body.replace("\\", "\\\\").replace("^", "\\^")
            out.append(f"[{'^/' if negate else ''}{body}]" if negate else f"(?!/)[{body}]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


class RuleMatcher:
    """First-match-wins lookup of the rule for a relative path (POSIX separators)."""

    def __init__(self, rules: Sequence[Rule]) -> None:
        self._compiled = [(rule, [compile_glob(p) for p in rule.paths]) for rule in rules]

    def match(self, relpath: str) -> Optional[Rule]:
        for rule, globs in self._compiled:
            for glob in globs:
                if glob.match(relpath):
                    return rule
        return None


# --- loading and validation ----------------------------------------------------------------


def _problem(where: str, key: Optional[str], message: str, *, rule: Optional[int] = None) -> InputError:
    text = f"{where}: {key}: {message}" if key else f"{where}: {message}"
    return InputError(Reason.POLICY_INVALID, text, context={"rule": rule, "key": key})


def load_policy(
    path: Path,
    *,
    resolve_key: Optional[KeyResolver] = None,
    limits: Limits = DEFAULT_LIMITS,
) -> GatePolicy:
    """Read, parse and validate a policy file; keys and trusted roots are read now.

    Raises:
        InputError: policy.invalid (naming rule and key) for anything wrong in the file, or
            a file that cannot be read; input.too_large over `gate_max_policy_bytes`.
        HsmError: a `pkcs11:` key that the token cannot provide (from `resolve_key`).
    """
    import tomllib

    try:
        with open(path, "rb") as fh:
            data = fh.read(limits.gate_max_policy_bytes + 1)
    except OSError as exc:
        raise InputError(Reason.POLICY_INVALID, f"cannot read policy {str(path)!r}: {exc.strerror or exc}") from exc
    if len(data) > limits.gate_max_policy_bytes:
        raise InputError(Reason.INPUT_TOO_LARGE, f"policy {path} is larger than {limits.gate_max_policy_bytes} bytes")
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(Reason.POLICY_INVALID, f"{path}: not valid TOML: {exc}", context={"rule": None, "key": None}) from exc
    where = str(path)
    unknown = sorted(set(doc) - set(TOP_KEYS))
    if unknown:
        raise _problem(where, unknown[0], f"unknown top-level key (allowed: {', '.join(TOP_KEYS)})")
    raw_rules = doc.get("rule")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise _problem(where, "rule", "the policy needs at least one [[rule]] table")
    if len(raw_rules) > limits.gate_max_rules:
        raise _problem(where, "rule", f"more than {limits.gate_max_rules} rules")
    base = path.resolve().parent
    rules = tuple(
        parse_rule(raw, index, f"{where}: rule {index}", base=base, resolve_key=resolve_key, limits=limits)
        for index, raw in enumerate(raw_rules, start=1)
    )
    levels: tuple[str, ...] = DEFAULT_VERIFIED_LEVELS
    vsa = doc.get("vsa")
    if vsa is not None:
        if not isinstance(vsa, dict):
            raise _problem(where, "vsa", "must be a table")
        bad = sorted(set(vsa) - set(VSA_KEYS))
        if bad:
            raise _problem(f"{where}: [vsa]", bad[0], f"unknown key (allowed: {', '.join(VSA_KEYS)})")
        if "verified-levels" in vsa:
            levels = tuple(_strings(vsa["verified-levels"], f"{where}: [vsa]", "verified-levels", None, allow_empty=True))
    return GatePolicy(rules=rules, source=str(path), sha256=hashlib.sha256(data).hexdigest(), verified_levels=levels)


def parse_rule(
    raw: Any,
    index: int,
    where: str,
    *,
    base: Optional[Path],
    resolve_key: Optional[KeyResolver],
    limits: Limits = DEFAULT_LIMITS,
) -> Rule:
    """One `[[rule]]` table (or the command line's options, as a dict with the same keys)."""
    if not isinstance(raw, dict):
        raise _problem(where, None, "must be a table", rule=index)
    unknown = sorted(set(raw) - set(RULE_KEYS))
    if unknown:
        raise _problem(where, unknown[0], f"unknown key (a rule takes: {', '.join(RULE_KEYS)})", rule=index)
    name = raw.get("name", "")
    if not isinstance(name, str):
        raise _problem(where, "name", "must be a string", rule=index)
    if "paths" not in raw:
        raise _problem(where, "paths", "is required (a list of globs relative to PATH)", rule=index)
    paths = _strings(raw["paths"], where, "paths", index)
    if len(paths) > limits.gate_max_globs_per_rule:
        raise _problem(where, "paths", f"more than {limits.gate_max_globs_per_rule} globs", rule=index)
    for pattern in paths:
        if pattern.startswith("/") or ".." in pattern.split("/") or "\\" in pattern or "\x00" in pattern:
            raise _problem(where, "paths", f"{pattern!r}: globs are relative to PATH, with '/' separators, no '..'", rule=index)
        try:
            compile_glob(pattern)
        except (ValueError, re.error) as exc:
            raise _problem(where, "paths", f"{pattern!r}: {exc}", rule=index) from exc
    deny = raw.get("deny", False)
    if not isinstance(deny, bool):
        raise _problem(where, "deny", "must be true or false", rule=index)
    choices = [k for k in RULE_KEYS if k not in ("paths", "name", "deny") and k in raw]
    if deny:
        if choices:
            raise _problem(where, choices[0], "a deny rule takes only paths and name", rule=index)
        return Rule(number=index, name=name, paths=tuple(paths), deny=True)

    text = {}
    for key in ("certificate-identity", "certificate-identity-regexp", "certificate-oidc-issuer", "certificate-oidc-issuer-regexp"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise _problem(where, key, "must be a non-empty string", rule=index)
        if value is not None and key.endswith("-regexp"):
            try:
                re.compile(value)
            except re.error as exc:
                raise _problem(where, key, f"invalid regexp {value!r}: {exc}", rule=index) from exc
        text[key] = value
    if text["certificate-identity"] and text["certificate-identity-regexp"]:
        raise _problem(where, "certificate-identity-regexp", "give certificate-identity or certificate-identity-regexp, not both", rule=index)
    if text["certificate-oidc-issuer"] and text["certificate-oidc-issuer-regexp"]:
        raise _problem(where, "certificate-oidc-issuer-regexp", "give certificate-oidc-issuer or certificate-oidc-issuer-regexp, not both", rule=index)
    identity = None
    if text["certificate-identity"] or text["certificate-identity-regexp"]:
        identity = Identity(
            san=text["certificate-identity"],
            san_regexp=text["certificate-identity-regexp"],
            issuer=text["certificate-oidc-issuer"],
            issuer_regexp=text["certificate-oidc-issuer-regexp"],
        )
    elif text["certificate-oidc-issuer"] or text["certificate-oidc-issuer-regexp"]:
        key = "certificate-oidc-issuer" if text["certificate-oidc-issuer"] else "certificate-oidc-issuer-regexp"
        raise _problem(where, key, "an OIDC issuer needs certificate-identity or certificate-identity-regexp too", rule=index)

    keys: list[tuple[str, bytes]] = []
    if "key" in raw:
        refs = _strings(raw["key"], where, "key", index)
        if len(refs) > limits.gate_max_keys_per_rule:
            raise _problem(where, "key", f"more than {limits.gate_max_keys_per_rule} keys", rule=index)
        for ref in refs:
            keys.append((ref, _load_key(ref, where, index, base, resolve_key, limits)))
    if identity is None and not keys:
        raise _problem(
            where, None,
            "say who must have signed: key, certificate-identity or certificate-identity-regexp (or deny = true)",
            rule=index,
        )

    roots: list[tuple[str, bytes]] = []
    if "trusted-root" in raw:
        ref = raw["trusted-root"]
        if not isinstance(ref, str) or not ref:
            raise _problem(where, "trusted-root", "must be a path (relative to the policy file)", rule=index)
        roots.append((ref, _load_root(ref, where, index, base, limits)))

    counts: dict[str, Optional[int]] = {}
    for key in ("min-tlog-entries", "min-timestamps", "min-scts"):
        value = raw.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 64):
            raise _problem(where, key, "must be an integer from 0 to 64", rule=index)
        counts[key] = value
    return Rule(
        number=index,
        name=name,
        paths=tuple(paths),
        identity=identity,
        keys=tuple(keys),
        trusted_roots=tuple(roots),
        min_tlog_entries=1 if counts["min-tlog-entries"] is None else counts["min-tlog-entries"],
        min_timestamps=counts["min-timestamps"],
        min_scts=counts["min-scts"],
    )


def _strings(value: Any, where: str, key: str, index: Optional[int], *, allow_empty: bool = False) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or (not value and not allow_empty) or not all(isinstance(v, str) and v for v in value):
        raise _problem(where, key, "must be a list of non-empty strings", rule=index)
    return list(value)


def _resolve(ref: str, base: Optional[Path]) -> Path:
    path = Path(ref)
    return path if path.is_absolute() or base is None else base / path


def _load_key(ref: str, where: str, index: int, base: Optional[Path], resolve_key: Optional[KeyResolver], limits: Limits) -> bytes:
    from verifier._internal.policy import load_pem_public_key

    try:
        if ref.startswith("pkcs11:"):
            if resolve_key is None:
                raise _problem(where, "key", f"{ref!r}: pkcs11: keys cannot be resolved here", rule=index)
            pem = resolve_key(ref)
        else:
            path = _resolve(ref, base)
            try:
                with open(path, "rb") as fh:
                    pem = fh.read(limits.max_key_bytes + 1)
            except OSError as exc:
                raise _problem(where, "key", f"cannot read {str(path)!r}: {exc.strerror or exc}", rule=index) from exc
            if len(pem) > limits.max_key_bytes:
                raise _problem(where, "key", f"{str(path)!r} is larger than {limits.max_key_bytes} bytes", rule=index)
        load_pem_public_key(pem, ref)  # validate now; workers parse it again, once
        return pem
    except InputError as exc:
        if exc.reason is Reason.POLICY_INVALID:
            raise
        raise _problem(where, "key", f"{ref!r}: {exc.detail} [{exc.reason.value}]", rule=index) from exc
    except AirsealError as exc:
        if exc.exit_code == 5:  # token problems keep their exit code
            raise
        raise _problem(where, "key", f"{ref!r}: {exc.detail} [{exc.reason.value}]", rule=index) from exc


def _load_root(ref: str, where: str, index: int, base: Optional[Path], limits: Limits) -> bytes:
    from verifier._internal.trustroot.load import load_trusted_root

    path = _resolve(ref, base)
    try:
        with open(path, "rb") as fh:
            data = fh.read(limits.max_trusted_root_bytes + 1)
    except OSError as exc:
        raise _problem(where, "trusted-root", f"cannot read {str(path)!r}: {exc.strerror or exc}", rule=index) from exc
    try:
        load_trusted_root(data, limits)
    except AirsealError as exc:
        raise _problem(where, "trusted-root", f"{str(path)!r}: {exc.detail} [{exc.reason.value}]", rule=index) from exc
    return data


def rule_from_options(options: dict[str, Any], *, resolve_key: Optional[KeyResolver]) -> Rule:
    """The single rule `gate` uses without --policy: verify's options, for every file.

    `options` uses the policy's key names; relative key paths are relative to the working
    directory. Raises PolicyProblem (a usage error) instead of policy.invalid.
    """
    raw = {k: v for k, v in options.items() if v is not None}
    raw["paths"] = ["**"]
    raw["name"] = "command line"
    try:
        return parse_rule(raw, 0, "command line", base=Path(os.getcwd()), resolve_key=resolve_key)
    except InputError as exc:
        if exc.reason is not Reason.POLICY_INVALID:
            raise
        detail = exc.detail.removeprefix("command line: ")
        key = exc.context.get("key")
        if key == "key":  # an unreadable or malformed key file is bad input (exit 3), as in verify
            raise InputError(Reason.KEY_MALFORMED, detail.removeprefix("key: ")) from exc
        if key:
            detail = detail.replace(f"{key}: ", f"--{key}: ", 1)
        raise PolicyProblem(detail.replace("certificate-", "--certificate-").replace("----", "--")) from exc


__all__ = [
    "DEFAULT_VERIFIED_LEVELS",
    "GatePolicy",
    "KeyResolver",
    "PolicyProblem",
    "RULE_KEYS",
    "Rule",
    "RuleMatcher",
    "compile_glob",
    "load_policy",
    "parse_rule",
    "rule_from_options",
]
