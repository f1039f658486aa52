#!/usr/bin/env python3
"""airseal vs sigstore-python: cold CLI start-up, warm in-process throughput, peak memory.

Run from the repository root with the project's venv:

    .venv/bin/python benchmarks/bench_verify.py [--runs N] [--iterations N] [--skip-memory]

Everything is measured side by side in one run, on the same bundles and artifact:

  a. cold CLI     one process verifying one bundle, wall time (median and min of N runs,
                  the tools interleaved), plus the process's peak RSS;
  b. warm         verifications per second in one long-lived process, the bundle parsed on
                  every iteration (each tool in its own fresh interpreter);
  c. memory       peak RSS and wall time of `airseal verify` on a 1 GiB artifact that this
                  script signs itself (ECDSA P-256, key-based v0.3 bundle, no tlog entry);
  d. imports      `python -X importtime` summary of airseal's start-up.

Needs ../shared/conformance (the workspace's shared folder) and sigstore-python (the `test`
extra); without either it prints why and exits 0. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CASES = SHARED / "conformance" / "cases"
ARTIFACT = CASES / "a.txt"
BIN = Path(sys.executable).parent  # the venv's bin/ (sys.executable deliberately not resolved)

# The upstream conformance suite's default identity for cases without identity/issuer files.
IDENTITY = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
ISSUER = "https://token.actions.githubusercontent.com"

CLIENT_TRUST_CONFIG_MEDIA_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
SIGSTORE_PROD_STORE = "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"

# Any HTTP(S) request sigstore-python might try goes to the discard port and fails fast, so an
# exit 0 proves the verification needed no network.
NO_NETWORK_ENV = {
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "ALL_PROXY": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "http_proxy": "http://127.0.0.1:9",
    "NO_PROXY": "",
    "no_proxy": "",
}

MEMORY_TARGET_MIB = 64
COLD_V1_TARGET_RATIO = 0.25


# --------------------------------------------------------------------------- cases


class Case:
    def __init__(self, label: str, name: str, own_root: bool) -> None:
        self.label = label
        self.name = name
        self.dir = CASES / name
        self.bundle = self.dir / "bundle.sigstore.json"
        self.trusted_root: Optional[Path] = self.dir / "trusted_root.json" if own_root else None


CASE_V1 = Case("v1", "happy-path-v0.3", own_root=False)
CASE_V2 = Case("v2", "rekor2-happy-path", own_root=True)
ALL_CASES = (CASE_V1, CASE_V2)


def sigstore_package_dir() -> Optional[Path]:
    spec = importlib.util.find_spec("sigstore")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def write_client_trust_config(case: Case, out: Path) -> Path:
    """sigstore-python's --trust-config: the case's trusted root + the wheel's signing config."""
    pkg = sigstore_package_dir()
    assert pkg is not None and case.trusted_root is not None
    signing_config = pkg / "_store" / SIGSTORE_PROD_STORE / "signing_config.v0.2.json"
    doc = {
        "mediaType": CLIENT_TRUST_CONFIG_MEDIA_TYPE,
        "trustedRoot": json.loads(case.trusted_root.read_text(encoding="utf-8")),
        "signingConfig": json.loads(signing_config.read_text(encoding="utf-8")),
    }
    out.write_text(json.dumps(doc), encoding="utf-8")
    return out


# --------------------------------------------------------------------------- processes


# A small middleman that spawns the measured command and reports *its* rusage. Measuring the
# command directly from this (large) process would be wrong: Linux carries the parent's RSS
# high-water mark into a child's ru_maxrss across fork/vfork + exec, so every child would look at
# least as big as the benchmark itself. The middleman is a bare `python -I -S` (~9.5 MiB: that is
# the floor of every RSS figure here, far below anything measured), and it times only
# spawn..exit, not its own start-up.
_RUSAGE_WRAPPER = """
import json, os, sys, time
out, cmd = sys.argv[1], sys.argv[2:]
t = time.perf_counter()
pid = os.posix_spawn(cmd[0], cmd, os.environ)
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - t
with open(out, "w") as fh:
    json.dump([os.waitstatus_to_exitcode(status), wall, usage.ru_maxrss], fh)
"""


def run_measured(cmd: list[str], env: dict[str, str], cwd: Optional[Path] = None) -> dict[str, Any]:
    """Run one process: its exit code, wall time (spawn to exit) and peak RSS (ru_maxrss from
    wait4 on that very process, via the middleman above)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".json") as report:
        proc = subprocess.run(
            [sys.executable, "-I", "-S", "-c", _RUSAGE_WRAPPER, report.name, *cmd],
            env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, check=False,
        )
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
        try:
            rc, wall, maxrss = json.load(report)
        except ValueError:
            raise SystemExit(f"could not run {cmd[0]} (exit {proc.returncode}): {stderr[-2000:]}") from None
        return {"rc": rc, "wall": wall, "maxrss_kib": maxrss, "stdout": stdout, "stderr": stderr}


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRSEAL_", "SIGSTORE_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def isolated_env(tmp: Path, tool: str) -> dict[str, str]:
    """Fresh, empty home/cache/data dirs: no airseal trust store, no sigstore TUF cache."""
    home = Path(tempfile.mkdtemp(prefix=f"{tool}-", dir=tmp))
    env = base_env()
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / "cache"),
        XDG_DATA_HOME=str(home / "data"),
        XDG_CONFIG_HOME=str(home / "config"),
        XDG_STATE_HOME=str(home / "state"),
        AIRSEAL_HOME=str(home / "airseal"),
    )
    if tool == "sigstore":
        env.update(NO_NETWORK_ENV)
    return env


def airseal_cmd(case: Case, artifact: Path) -> list[str]:
    cmd = [str(BIN / "airseal"), "verify", "--bundle", str(case.bundle),
           "--certificate-identity", IDENTITY, "--certificate-oidc-issuer", ISSUER]
    if case.trusted_root is not None:
        cmd += ["--trusted-root", str(case.trusted_root)]
    return cmd + [str(artifact)]


def sigstore_cmd(case: Case, artifact: Path, trust_configs: dict[str, Path]) -> list[str]:
    cmd = [str(BIN / "sigstore")]
    if case.trusted_root is not None:
        cmd += ["--trust-config", str(trust_configs[case.label])]
    return cmd + ["verify", "identity", "--offline", "--bundle", str(case.bundle),
                  "--cert-identity", IDENTITY, "--cert-oidc-issuer", ISSUER, str(artifact)]


def commands(tool: str, case: Case, artifact: Path, trust_configs: dict[str, Path]) -> list[str]:
    return airseal_cmd(case, artifact) if tool == "airseal" else sigstore_cmd(case, artifact, trust_configs)


def last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


# --------------------------------------------------------------------------- a. cold CLI


def check_network_free(cmd: list[str], env: dict[str, str]) -> str:
    """One run under strace: did it attempt any INET connect()? (Informational.)"""
    strace = shutil.which("strace")
    if strace is None:
        return "strace not installed; relying on the dead-proxy environment only"
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as log:
        res = run_measured([strace, "-f", "-qq", "-e", "trace=connect", "-o", log.name, *cmd], env)
        lines = [ln for ln in log.read().splitlines() if "AF_INET" in ln]
    if res["rc"] != 0:
        return f"run under strace failed (exit {res['rc']}; ptrace may be forbidden here)"
    return "no INET connect() attempted" if not lines else f"{len(lines)} INET connect() call(s): {lines[0]}"


def preflight(tmp: Path, trust_configs: dict[str, Path]) -> None:
    """Every command must verify (exit 0) and reject a tampered artifact (non-zero)."""
    tampered = tmp / "tampered.txt"
    tampered.write_bytes(ARTIFACT.read_bytes() + b"tampered\n")
    print("preflight (each tool must accept the real artifact and reject a tampered one):")
    for case in ALL_CASES:
        for tool in ("airseal", "sigstore"):
            good = run_measured(commands(tool, case, ARTIFACT, trust_configs), isolated_env(tmp, tool))
            if good["rc"] != 0:
                raise SystemExit(
                    f"{tool} failed to verify {case.name} (exit {good['rc']}):\n{good['stderr'][-2000:]}"
                )
            bad = run_measured(commands(tool, case, tampered, trust_configs), isolated_env(tmp, tool))
            if bad["rc"] == 0:
                raise SystemExit(f"{tool} accepted a tampered artifact for {case.name}")
            print(f"  {tool:8} {case.name:18} ok (exit 0); tampered -> exit {bad['rc']}")
    net = check_network_free(sigstore_cmd(CASE_V1, ARTIFACT, trust_configs), isolated_env(tmp, "sigstore"))
    print(f"  sigstore --offline network check: {net}")


def bench_cold(tmp: Path, runs: int, trust_configs: dict[str, Path]) -> list[dict[str, Any]]:
    # Interpreter floor: what any Python CLI pays before importing anything.
    floor = [run_measured([sys.executable, "-c", "pass"], base_env()) for _ in range(runs)]
    jobs = [(tool, case) for case in ALL_CASES for tool in ("airseal", "sigstore")]
    samples: dict[tuple[str, str], list[dict[str, Any]]] = {(t, c.label): [] for t, c in jobs}
    for _ in range(1):  # warm-up (page cache, __pycache__), not counted
        for tool, case in jobs:
            run_measured(commands(tool, case, ARTIFACT, trust_configs), isolated_env(tmp, tool))
    for i in range(runs):
        rotated = jobs[i % len(jobs):] + jobs[: i % len(jobs)]  # interleave, rotate the order
        for tool, case in rotated:
            res = run_measured(commands(tool, case, ARTIFACT, trust_configs), isolated_env(tmp, tool))
            if res["rc"] != 0:
                raise SystemExit(f"{tool} {case.name} run {i} exited {res['rc']}: {last_line(res['stderr'])}")
            samples[(tool, case.label)].append(res)

    rows = [_row("python -c pass", "(interpreter floor)", floor)]
    for tool, case in jobs:
        rows.append(_row(tool, case.name, samples[(tool, case.label)]))
    return rows


def _row(tool: str, case: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    walls = [r["wall"] for r in runs]
    return {
        "tool": tool,
        "case": case,
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "max_rss_mib": max(r["maxrss_kib"] for r in runs) / 1024,
        "runs": len(runs),
    }


def print_cold(rows: list[dict[str, Any]]) -> dict[str, float]:
    print(f"\n{'tool':16} {'case':20} {'median s':>9} {'min s':>8} {'peak RSS MiB':>13} "
          f"{'airseal/sigstore':>17} {'(of mins)':>10}")
    by = {(r["tool"], r["case"]): r for r in rows}
    ratios: dict[str, float] = {}
    for r in rows:
        ratio = ratio_min = ""
        if r["tool"] == "airseal":
            other = by.get(("sigstore", r["case"]))
            if other:
                ratios[r["case"]] = r["median_s"] / other["median_s"]
                ratio = f"{ratios[r['case']]:.2f}x"
                ratio_min = f"{r['min_s'] / other['min_s']:.2f}x"
        print(f"{r['tool']:16} {r['case']:20} {r['median_s']:9.3f} {r['min_s']:8.3f} {r['max_rss_mib']:13.1f} "
              f"{ratio:>17} {ratio_min:>10}")
    v1, v2 = ratios.get(CASE_V1.name), ratios.get(CASE_V2.name)
    if v1 is not None:
        verdict = "met" if v1 <= COLD_V1_TARGET_RATIO else "MISSED"
        print(f"target v1: airseal <= {COLD_V1_TARGET_RATIO}x sigstore-python (medians) -> {v1:.2f}x ({verdict})")
    if v2 is not None:
        print(f"target v2: airseal at least as fast (medians) -> {v2:.2f}x ({'met' if v2 <= 1.0 else 'MISSED'})")
    return ratios


# --------------------------------------------------------------------------- b. warm


def warm_worker(tool: str, label: str, iterations: int, rounds: int) -> None:
    """Runs in its own interpreter (hidden --_warm option); prints one JSON object."""
    case = {c.label: c for c in ALL_CASES}[label]
    bundle_bytes = case.bundle.read_bytes()
    artifact_path = str(ARTIFACT)

    if tool == "airseal":
        from verifier._internal.artifact import parse_artifact_argument
        from verifier._internal.bundle.parse import load_bundle
        from verifier._internal.identity import Identity
        from verifier._internal.policy import VerificationPolicy
        from verifier._internal.trustroot.load import load_trusted_root
        from verifier._internal.verify import verify_bundle

        if case.trusted_root is not None:
            root_bytes = case.trusted_root.read_bytes()
        else:  # what the CLI uses with no store: the shipped public-good snapshot
            from verifier._internal.trustroot.store import resolve_trusted_root

            root_bytes = resolve_trusted_root("public-good").data
        trusted_root = load_trusted_root(root_bytes)
        policy = VerificationPolicy(identity=Identity(san=IDENTITY, issuer=ISSUER), min_tlog_entries=1)

        def once() -> None:
            bundle = load_bundle(bundle_bytes)
            verify_bundle(bundle, trusted_root, parse_artifact_argument(artifact_path), policy)

    else:
        from sigstore.models import Bundle, TrustedRoot
        from sigstore.verify import Verifier
        from sigstore.verify.policy import Identity as SigstoreIdentity

        if case.trusted_root is not None:
            verifier = Verifier(trusted_root=TrustedRoot.from_file(str(case.trusted_root)))
        else:  # embedded production root via the (empty, isolated) offline TUF cache
            verifier = Verifier.production(offline=True)
        policy = SigstoreIdentity(identity=IDENTITY, issuer=ISSUER)
        bundle_text = bundle_bytes.decode("utf-8")

        def once() -> None:
            bundle = Bundle.from_json(bundle_text)
            with open(artifact_path, "rb") as fh:
                data = fh.read()
            verifier.verify_artifact(data, bundle, policy)

    for _ in range(max(5, iterations // 20)):  # warm-up: caches, lazy imports
        once()
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(iterations):
            once()
        rates.append(iterations / (time.perf_counter() - start))
    print(json.dumps({"rates": rates}))


def bench_warm(tmp: Path, iterations: int, rounds: int) -> list[dict[str, Any]]:
    rows = []
    for case in ALL_CASES:
        for tool in ("airseal", "sigstore"):
            cmd = [sys.executable, str(Path(__file__).resolve()), "--_warm", tool, case.label,
                   "--iterations", str(iterations), "--rounds", str(rounds)]
            res = run_measured(cmd, isolated_env(tmp, tool))
            if res["rc"] != 0:
                raise SystemExit(f"warm {tool} {case.name} failed (exit {res['rc']}):\n{res['stderr'][-3000:]}")
            rates = json.loads(last_line(res["stdout"]))["rates"]
            rows.append({"tool": tool, "case": case.name, "per_s": statistics.median(rates),
                         "best_per_s": max(rates), "max_rss_mib": res["maxrss_kib"] / 1024})
    return rows


def print_warm(rows: list[dict[str, Any]], iterations: int, rounds: int) -> dict[str, float]:
    print(f"\n(median of {rounds} rounds x {iterations} iterations; bundle parsed every iteration)")
    print(f"{'tool':10} {'case':20} {'bundles/s':>10} {'best/s':>9} {'ms/verify':>10} {'peak RSS MiB':>13} {'airseal/sigstore':>17}")
    by = {(r["tool"], r["case"]): r for r in rows}
    ratios = {}
    for r in rows:
        ratio = ""
        if r["tool"] == "airseal" and ("sigstore", r["case"]) in by:
            ratios[r["case"]] = r["per_s"] / by[("sigstore", r["case"])]["per_s"]
            ratio = f"{ratios[r['case']]:.2f}x"
        print(f"{r['tool']:10} {r['case']:20} {r['per_s']:10.1f} {r['best_per_s']:9.1f} "
              f"{1000 / r['per_s']:10.2f} {r['max_rss_mib']:13.1f} {ratio:>17}")
    print("(ratio = airseal throughput / sigstore-python throughput; > 1 means airseal is faster)")
    return ratios


# --------------------------------------------------------------------------- c. memory


def make_signed_artifact(directory: Path, size: int) -> tuple[Path, Path, Path]:
    """A `size`-byte file written 1 MiB at a time, hashed while written, signed (P-256 over the
    prehashed SHA-256), with its key-based v0.3 bundle and PEM public key."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    big = directory / "big.bin"
    block = bytearray(os.urandom(1024 * 1024))
    hasher = hashlib.sha256()
    with open(big, "wb") as fh:
        written, n = 0, 0
        while written < size:
            block[:8] = n.to_bytes(8, "big")  # every chunk differs
            chunk = memoryview(block)[: min(len(block), size - written)]
            fh.write(chunk)
            hasher.update(chunk)
            written += len(chunk)
            n += 1
    digest = hasher.digest()
    key = ec.generate_private_key(ec.SECP256R1())
    signature = key.sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
    pub = directory / "pub.pem"
    pub.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    bundle = directory / "big.sigstore.json"
    bundle.write_text(json.dumps({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": ""}, "tlogEntries": []},
        "messageSignature": {
            "messageDigest": {"algorithm": "SHA2_256", "digest": base64.b64encode(digest).decode()},
            "signature": base64.b64encode(signature).decode(),
        },
    }), encoding="utf-8")
    return big, bundle, pub


def bench_memory(tmp: Path, size_mib: int) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="bigfile-", dir=tmp))
    start = time.perf_counter()
    big, bundle, pub = make_signed_artifact(work, size_mib * 1024 * 1024)
    prep = time.perf_counter() - start
    cmd = [str(BIN / "airseal"), "verify", "--bundle", str(bundle), "--key", str(pub),
           "--min-tlog-entries", "0", str(big)]
    res = run_measured(cmd, isolated_env(tmp, "airseal"))
    # Baseline: the same CLI on a tiny artifact, to separate fixed cost from per-byte cost.
    small_dir = Path(tempfile.mkdtemp(prefix="smallfile-", dir=tmp))
    s_big, s_bundle, s_pub = make_signed_artifact(small_dir, 4096)
    small = run_measured([str(BIN / "airseal"), "verify", "--bundle", str(s_bundle), "--key", str(s_pub),
                          "--min-tlog-entries", "0", str(s_big)], isolated_env(tmp, "airseal"))
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(small_dir, ignore_errors=True)
    return {"size_mib": size_mib, "prep_s": prep, "rc": res["rc"], "wall_s": res["wall"],
            "maxrss_mib": res["maxrss_kib"] / 1024, "small_rc": small["rc"],
            "small_maxrss_mib": small["maxrss_kib"] / 1024, "small_wall_s": small["wall"],
            "stderr": last_line(res["stderr"]), "stdout": last_line(res["stdout"])}


def print_memory(m: dict[str, Any]) -> None:
    gib_s = m["size_mib"] / 1024 / m["wall_s"] if m["wall_s"] else 0.0
    print(f"\nartifact: {m['size_mib']} MiB (written, hashed and signed in {m['prep_s']:.1f} s)")
    print(f"airseal verify --key ... --min-tlog-entries 0: exit {m['rc']}, wall {m['wall_s']:.2f} s "
          f"({gib_s:.2f} GiB/s), peak RSS {m['maxrss_mib']:.1f} MiB")
    print(f"same command on a 4 KiB artifact:           exit {m['small_rc']}, wall {m['small_wall_s']:.2f} s, "
          f"peak RSS {m['small_maxrss_mib']:.1f} MiB")
    verdict = "met" if m["rc"] == 0 and m["maxrss_mib"] < MEMORY_TARGET_MIB else "MISSED"
    print(f"target: verified and peak RSS < {MEMORY_TARGET_MIB} MiB -> {verdict}")
    if m["rc"] != 0:
        print(f"  stderr: {m['stderr']}")


# --------------------------------------------------------------------------- d. imports


def parse_importtime(stderr: str) -> list[tuple[str, int, int, int]]:
    """(name, depth, self_us, cumulative_us) for each `-X importtime` line."""
    out = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        parts = line.split("|")
        if len(parts) != 3:
            continue
        try:
            self_us = int(parts[0].split(":", 1)[1])
            cum_us = int(parts[1])
        except ValueError:
            continue
        raw = parts[2]
        depth = (len(raw) - len(raw.lstrip(" ")) - 1) // 2
        out.append((raw.strip(), depth, self_us, cum_us))
    return out


def import_profile(cmd: list[str], env: dict[str, str], runs: int) -> dict[str, Any]:
    """Median over `runs` runs of each module's self/cumulative import time."""
    per_run = []
    walls = []
    run_measured(cmd, env)  # warm-up
    for _ in range(runs):
        res = run_measured(cmd, env)
        if res["rc"] != 0:
            raise SystemExit(f"import profile run failed (exit {res['rc']}): {last_line(res['stderr'])}")
        per_run.append(parse_importtime(res["stderr"]))
        walls.append(res["wall"])
    names: dict[str, int] = {}
    for entries in per_run:
        for name, depth, _, _ in entries:
            names.setdefault(name, depth)
    med: dict[str, tuple[int, float, float]] = {}
    for name, depth in names.items():
        selfs = [next((s for n, _, s, _ in e if n == name), 0) for e in per_run]
        cums = [next((c for n, _, _, c in e if n == name), 0) for e in per_run]
        med[name] = (depth, statistics.median(selfs), statistics.median(cums))
    total_self = statistics.median(sum(s for _, _, s, _ in e) for e in per_run)
    packages: dict[str, float] = {}
    for name, (_, s, _) in med.items():
        root = name.split(".")[0]
        packages[root] = packages.get(root, 0.0) + s
    # Who pulls in what: depth-0 entries are the first importer of everything nested under them.
    top_level = [(name, cum) for name, (depth, _, cum) in med.items() if depth == 0]
    return {"modules": med, "total_self_us": total_self, "packages": packages, "top_level": top_level,
            "count": statistics.median(len(e) for e in per_run), "wall_s": statistics.median(walls)}


def print_profile(title: str, prof: dict[str, Any], top: int = 10) -> None:
    mods = prof["modules"]
    print(f"\n{title}")
    print(f"  {prof['count']:.0f} modules, {prof['total_self_us'] / 1000:.1f} ms total import time "
          f"(process wall {prof['wall_s'] * 1000:.0f} ms; medians)")
    print(f"  top {top} by cumulative time:")
    for name, (depth, s, c) in sorted(mods.items(), key=lambda kv: -kv[1][2])[:top]:
        print(f"    {c / 1000:7.1f} ms cum {s / 1000:6.1f} ms self  {'  ' * depth}{name}")
    print(f"  top {top} by self time:")
    for name, (_depth, s, c) in sorted(mods.items(), key=lambda kv: -kv[1][1])[:top]:
        print(f"    {s / 1000:7.1f} ms self {c / 1000:6.1f} ms cum  {name}")
    print(f"  top {top} by package (sum of self times):")
    for pkg, s in sorted(prof["packages"].items(), key=lambda kv: -kv[1])[:top]:
        print(f"    {s / 1000:7.1f} ms  {pkg}")
    first = [t for t in sorted(prof["top_level"], key=lambda kv: -kv[1]) if t[1] >= 1000][:top]
    if first:
        print("  first importers (top-level entries; cumulative includes everything they pulled in):")
        for name, c in first:
            print(f"    {c / 1000:7.1f} ms  {name}")


def bench_imports(tmp: Path, runs: int) -> None:
    py = sys.executable
    env = isolated_env(tmp, "airseal")
    prof = import_profile([py, "-X", "importtime", "-c", "import verifier.cli.verify"], env, runs)
    print_profile('python -X importtime -c "import verifier.cli.verify"', prof)
    # verify_command imports its heavy modules lazily inside the command, so the line above
    # misses most of the real cost. Profile a complete `airseal verify` through the console
    # script's entry point (verifier.cli.entry, which skips click for verify).
    script = "import sys; sys.argv[0] = 'airseal'; from verifier.cli.entry import main; main()"
    full = [py, "-X", "importtime", "-c", script, *airseal_cmd(CASE_V1, ARTIFACT)[1:]]
    prof = import_profile(full, env, runs)
    print_profile(f"full `airseal verify` ({CASE_V1.name}, shipped public-good root)", prof)
    full2 = [py, "-X", "importtime", "-c", script, *airseal_cmd(CASE_V2, ARTIFACT)[1:]]
    prof2 = import_profile(full2, env, runs)
    print(f"\n(`airseal verify --trusted-root` ({CASE_V2.name}): {prof2['count']:.0f} modules, "
          f"{prof2['total_self_us'] / 1000:.1f} ms import time, wall {prof2['wall_s'] * 1000:.0f} ms)")


# --------------------------------------------------------------------------- main


def machine_line() -> str:
    import cryptography

    try:
        from importlib.metadata import version

        sig = version("sigstore")
    except Exception:
        sig = "?"
    return (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.machine()}, "
            f"nproc {os.cpu_count()}, {platform.platform()}; Python {platform.python_version()}; "
            f"cryptography {cryptography.__version__}; sigstore-python {sig}; "
            f"load average {os.getloadavg()[0]:.2f} (other work on the machine inflates medians)")


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15, help="cold CLI runs per tool and case (default 15)")
    ap.add_argument("--iterations", type=int, default=200, help="warm iterations per round (default 200)")
    ap.add_argument("--rounds", type=int, default=3, help="warm rounds; the median is reported (default 3)")
    ap.add_argument("--import-runs", type=int, default=7, help="importtime runs (default 7)")
    ap.add_argument("--memory-size-mib", type=int, default=1024, help="big artifact size (default 1024)")
    ap.add_argument("--skip-memory", action="store_true", help="skip the big-artifact memory test")
    ap.add_argument("--skip-cold", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--skip-warm", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--skip-imports", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tmpdir", help="where temporary files go (the memory test needs ~1 GiB)")
    ap.add_argument("--_warm", nargs=2, metavar=("TOOL", "CASE"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args._warm:
        warm_worker(args._warm[0], args._warm[1], args.iterations, args.rounds)
        return 0

    if not CASES.is_dir():
        print(f"skipped: {CASES} is absent (../shared ships only with the development workspace and CI)")
        return 0
    if sigstore_package_dir() is None or not (BIN / "sigstore").exists():
        print("skipped: sigstore-python is not installed in this environment "
              "(install the test extra: pip install -e '.[test]')")
        return 0
    if not (BIN / "airseal").exists():
        print(f"skipped: no airseal entry point in {BIN} (pip install -e .)")
        return 0

    print(f"airseal verify benchmark -- {machine_line()}")
    with tempfile.TemporaryDirectory(prefix="airseal-bench-", dir=args.tmpdir) as tmp_name:
        tmp = Path(tmp_name)
        trust_configs = {CASE_V2.label: write_client_trust_config(CASE_V2, tmp / "client_trust_config.json")}
        preflight(tmp, trust_configs)

        if not args.skip_cold:
            print(f"\n== a. cold CLI: one process, one verification ({args.runs} runs each, interleaved) ==")
            print_cold(bench_cold(tmp, args.runs, trust_configs))

        if not args.skip_warm:
            print("\n== b. warm in-process throughput ==")
            print_warm(bench_warm(tmp, args.iterations, args.rounds), args.iterations, args.rounds)

        if args.skip_memory:
            print("\n== c. peak memory: skipped (--skip-memory) ==")
        else:
            print(f"\n== c. peak memory, {args.memory_size_mib} MiB artifact ==")
            print_memory(bench_memory(tmp, args.memory_size_mib))

        if not args.skip_imports:
            print(f"\n== d. airseal start-up import profile (median of {args.import_runs} runs) ==")
            bench_imports(tmp, args.import_runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
