"""Record what GnuTLS's p11tool prints for each backend (not collected by pytest).

    python -m tests.hsm.p11tool_interop [--out tests/hsm/p11tool_examples.txt]

For SoftHSM2, tpm2-pkcs11 (swtpm + tpm2-abrmd) and openCryptoki's soft token: start the backend,
make one key with pkcs11-tool, then run
  p11tool --provider MODULE --list-tokens
  p11tool --provider MODULE --login --list-all pkcs11:token=LABEL      (GNUTLS_PIN in the env)
and the same through p11-kit. GnuTLS loads --provider with p11_kit_module_load, which refuses
p11-kit-proxy.so ("refusing to load the p11-kit-proxy.so module as a registered module"), so
p11tool's p11-kit route is p11tool without --provider (the proxy .so is for other consumers). p11-kit ignores the user's
configuration (~/.config/pkcs11) when the program runs as root ("skipping user config in program
running as root", P11_KIT_DEBUG=conf), so as root the proxy only loads the modules registered in
/usr/share/p11-kit/modules (Debian registers softhsm2 and tpm2_pkcs11, not opencryptoki); the
registered modules then read the test's environment (SOFTHSM2_CONF, TPM2_PKCS11_*). For a
test-owned module list the proxy must run as a non-root user with HOME pointing at a directory
holding .config/pkcs11/modules/NAME.module; that is shown here for SoftHSM2 with
`setpriv --reuid=nobody`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.hsm import tokens_support as ts  # noqa: E402
from tests.hsm.probe_token_capabilities import softhsm_token  # noqa: E402

PROXY = "/usr/lib/x86_64-linux-gnu/p11-kit-proxy.so"


def sh(cmd: list[str], env: dict[str, str], out: list[str]) -> str:
    shown = " ".join(c if " " not in c else repr(c) for c in cmd)
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    text = r.stdout + (("\n[stderr]\n" + r.stderr) if r.stderr.strip() else "")
    out.append(f"$ {shown}\n[exit {r.returncode}]\n{text.rstrip()}\n")
    return r.stdout


def make_key(tok: ts.Token, key_type: str, out: list[str]) -> None:
    sh(["pkcs11-tool", "--module", tok.module, "--token-label", tok.label, "--login", "--pin", tok.pin,
        "--keypairgen", "--key-type", key_type, "--label", "p11tool-demo", "--id", "a1b2"],
       tok.environ(), out)


def run_p11tool(tok: ts.Token, provider: str | None, out: list[str], env: dict[str, str] | None = None,
                prefix: list[str] | None = None) -> None:
    """provider None: p11tool's own p11-kit route (every module p11-kit has registered)."""
    env = env or tok.environ(GNUTLS_PIN=tok.pin, GNUTLS_SO_PIN=tok.so_pin)
    pre = [*(prefix or []), "p11tool"] + (["--provider", provider] if provider else [])
    sh([*pre, "--list-tokens"], env, out)
    sh([*pre, "--login", "--list-all", f"pkcs11:token={tok.label}"], env, out)


def nonroot_proxy(tok: ts.Token, out: list[str]) -> None:
    """p11-kit-proxy with a test-owned module config, as user nobody (SoftHSM2 only)."""
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        out.append("(no user nobody: non-root proxy example skipped)\n")
        return
    home = tok.root / "home"
    mods = home / ".config" / "pkcs11" / "modules"
    mods.mkdir(parents=True)
    (mods / "airseal-test.module").write_text(f"module: {tok.module}\n")
    # Keep the system-registered modules out of this proxy: a user file with the same name overrides.
    for sysmod in Path("/usr/share/p11-kit/modules").glob("*.module"):
        (mods / sysmod.name).write_text("enable-in: airseal-nothing\n")
    (home / ".config" / "pkcs11" / "pkcs11.conf").write_text("# test-owned p11-kit user config\n")
    for path in [tok.root, *tok.root.rglob("*")]:
        os.chown(path, nobody.pw_uid, nobody.pw_gid)
    # the parents of tok.root must be traversable by nobody
    for parent in tok.root.parents:
        if str(parent) in ("/", "/tmp"):
            break
        os.chmod(parent, os.stat(parent).st_mode | 0o011)
    env = tok.environ(GNUTLS_PIN=tok.pin, HOME=str(home))
    env.pop("XDG_CONFIG_HOME", None)
    out.append(f"# {mods}/airseal-test.module:\n#   module: {tok.module}\n"
               "# and, for each /usr/share/p11-kit/modules/NAME.module, a user NAME.module "
               "'enable-in: airseal-nothing' to keep it out\n")
    sh(["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups",
        "p11-kit", "list-modules"], env, out)
    run_p11tool(tok, None, out, env=env,
                prefix=["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"])


@contextlib.contextmanager
def backend(name: str, root: Path) -> Iterator[ts.Token]:
    if name == "softhsm2":
        with softhsm_token(root) as tok:
            yield tok
    elif name == "tpm2":
        with ts.tpm2_token(root) as tok:
            yield tok
    else:
        with ts.opencryptoki_token(root) as tok:
            yield tok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(Path(__file__).with_name("p11tool_examples.txt")))
    args = ap.parse_args(argv)
    if shutil.which("p11tool") is None:
        print("p11tool missing (apt-get install gnutls-bin)", file=sys.stderr)
        return 1
    out: list[str] = ["# Generated by `python -m tests.hsm.p11tool_interop` (tests/hsm/p11tool_interop.py).\n"
                      "# PINs are the test PINs from tests/hsm/*_support.py; paths under /tmp differ per run.\n"]
    for name, key_type in (("softhsm2", "EC:prime256v1"), ("tpm2", "EC:prime256v1"),
                           ("opencryptoki", "rsa:2048")):
        out.append(f"\n######## {name} ########\n")
        with tempfile.TemporaryDirectory(prefix=f"p11tool-{name}-") as d:
            os.chmod(d, 0o755)
            with backend(name, Path(d)) as tok:
                out.append(f"# module {tok.module}\n# env {tok.env}\n")
                make_key(tok, key_type, out)
                out.append("\n## direct: --provider MODULE\n")
                run_p11tool(tok, tok.module, out)
                out.append("\n## --provider p11-kit-proxy.so: GnuTLS refuses it (p11-kit: 'refusing to load the"
                           " p11-kit-proxy.so module as a registered module')\n")
                run_p11tool(tok, PROXY, out)
                out.append("\n## p11tool without --provider, as root: p11-kit's system-registered modules"
                           " (/usr/share/p11-kit/modules) read this env\n")
                run_p11tool(tok, None, out)
                if name == "softhsm2" and os.geteuid() == 0:
                    out.append("\n## p11tool without --provider as user nobody, HOME with a test-owned p11-kit"
                               " user config\n")
                    nonroot_proxy(tok, out)
    Path(args.out).write_text("\n".join(out))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.chdir(REPO)
    raise SystemExit(main())
