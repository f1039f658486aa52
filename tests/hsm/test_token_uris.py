"""airseal's PKCS#11 URIs and GnuTLS p11tool's select the same tokens and keys, both ways, on
SoftHSM2, tpm2-pkcs11 and openCryptoki; directly (`p11tool --provider MODULE`) and through
p11-kit's proxy (airseal loads p11-kit-proxy.so, p11tool uses p11-kit's registered modules).

- airseal -> p11tool: every token URI from `hsm tokens` (initialized tokens) makes
  `p11tool --list-all URI` list exactly that token's objects; every key URI from `hsm keys`
  lists exactly that key's public and private objects.
- p11tool -> airseal: every token URL from `p11tool --list-tokens` is accepted by `hsm keys`
  (initialized) or `hsm doctor` (uninitialized: `token=` empty) and selects that one token;
  every object URL from `p11tool --list-all` (with p11tool's model=, manufacturer=, serial= and
  type=; tpm2's model carries %00 padding and its serial is all zeros) is accepted by
  `hsm keys` and `hsm pubkey` and selects the same key.

Through the proxy only modules registered in /usr/share/p11-kit/modules are visible (p11-kit
skips the user's configuration when running as root): SoftHSM2 and tpm2-pkcs11 on Debian, not
openCryptoki. The proxy renumbers slots, and p11tool would not match airseal's module-path
(p11-kit-proxy.so) against the real module, so airseal's URIs go to p11tool without their query.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from typing import Any

import pytest

from hsm.uri import parse_uri
from tests.hsm.softhsm_support import assert_no_pin
from tests.hsm.tokens_support import BACKENDS, P11KIT_PROXY, Token, proxy_registered

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("p11tool") is None, reason="p11tool missing (apt-get install gnutls-bin)"),
]

ROUTES = [(b, "direct") for b in BACKENDS] + [(b, "proxy") for b in BACKENDS]


def airseal(tok: Token, module: str, *args: str, expect: int = 0) -> Any:
    env = tok.environ(AIRSEAL_PKCS11_MODULE=module)
    result = subprocess.run([sys.executable, "-m", "verifier", *args], env=env, cwd=tok.root,
                            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert_no_pin(result, tok.pin)
    assert result.returncode == expect, f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout) if "--json" in args else result.stdout


def p11tool(tok: Token, provider: str | None, *args: str, check: bool = True) -> list[str]:
    """The URLs p11tool prints (one per token or object)."""
    cmd = ["p11tool", *(["--provider", provider] if provider else []), *args]
    result = subprocess.run(cmd, env=tok.environ(GNUTLS_PIN=tok.pin), capture_output=True, text=True,
                            timeout=120, stdin=subprocess.DEVNULL)
    if check and result.returncode not in (0,):
        raise AssertionError(f"{cmd}: exit {result.returncode}\n{result.stdout}\n{result.stderr[-2000:]}")
    return [line.split("URL:", 1)[1].strip() for line in result.stdout.splitlines() if line.strip().startswith("URL:")]


def _key_type(backend: str) -> str:
    return "rsa-2048" if backend == "opencryptoki" else "ec-p256"


@pytest.mark.parametrize("any_token,route", ROUTES, indirect=["any_token"], ids=[f"{b}-{r}" for b, r in ROUTES])
def test_uris_agree_with_p11tool(any_token: Token, route: str) -> None:
    tok = any_token
    if route == "proxy":
        if P11KIT_PROXY is None or not proxy_registered(tok.backend):
            pytest.skip(f"{tok.backend}'s module is not registered with p11-kit (/usr/share/p11-kit/modules)")
        module, provider = P11KIT_PROXY, None
    else:
        module, provider = tok.module, tok.module
    # two keys made by airseal, one by pkcs11-tool (its own template and a short id)
    for label in ("release", "backup"):
        airseal(tok, tok.module, "hsm", "keygen", tok.uri(object=label), "--type", _key_type(tok.backend))
    kind = "rsa:2048" if tok.backend == "opencryptoki" else "EC:prime256v1"
    tok.tool("--token-label", tok.label, "--login", "--pin", tok.pin, "--keypairgen", "--key-type", kind,
             "--label", "p11tool-demo", "--id", "a1b2")

    def for_p11tool(uri: str) -> str:
        return uri.split("?", 1)[0] if route == "proxy" else uri

    # airseal -> p11tool: tokens
    tokens = airseal(tok, module, "hsm", "tokens", "--json")["tokens"]
    mine = [t for t in tokens if t["label"] == tok.label]
    assert len(mine) == 1, tokens
    all_objects = p11tool(tok, provider, "--login", "--list-all", for_p11tool(mine[0]["uri"]))
    assert len(all_objects) == 6, all_objects  # three key pairs
    assert {parse_uri(u).token for u in all_objects} == {tok.label}
    for empty in (t for t in tokens if not t["initialized"]):
        report = airseal(tok, module, "hsm", "doctor", empty["uri"], "--json")
        assert [t["slot_id"] for t in report["tokens"]] == [empty["slot_id"]], empty
    # airseal -> p11tool: keys
    keys = airseal(tok, module, "hsm", "keys", mine[0]["uri"], "--json")["keys"]
    assert sorted(k["label"] for k in keys) == ["backup", "p11tool-demo", "release"]
    for key in keys:
        listed = [parse_uri(u) for u in p11tool(tok, provider, "--login", "--list-all", for_p11tool(key["uri"]))]
        assert sorted(u.type for u in listed) == ["private", "public"], (key, listed)
        assert {(u.object, u.id.hex() if u.id else "") for u in listed} == {(key["label"], key["id"])}
    pems = {k["label"]: airseal(tok, module, "hsm", "pubkey", k["uri"]) for k in keys}
    # p11tool -> airseal: tokens
    uninitialized = 0
    for url in p11tool(tok, provider, "--list-tokens"):
        parsed = parse_uri(url)
        if parsed.token == tok.label:
            via = airseal(tok, module, "hsm", "keys", url, "--json")["keys"]
            assert sorted(k["label"] for k in via) == sorted(pems), url
        elif parsed.token == "" and parsed.model and tok.backend in ("tpm2", "softhsm2"):
            # the uninitialized slot of this module (p11tool prints token= empty)
            report = airseal(tok, module, "hsm", "doctor", url, "--json")
            assert len(report["tokens"]) == 1 and not report["tokens"][0]["flags"]["initialized"], url
            uninitialized += 1
    if tok.backend == "tpm2":
        assert uninitialized >= 1, "tpm2-pkcs11 always offers one empty slot (p11tool hides SoftHSM's)"
    if route == "proxy":
        assert all("p11-kit-proxy" in k["uri"] for k in keys)
    # p11tool -> airseal: objects
    for url in all_objects:
        parsed = parse_uri(url)
        via = airseal(tok, module, "hsm", "keys", url, "--json")["keys"]
        assert [(k["label"], k["id"]) for k in via] == [(parsed.object, parsed.id.hex())], (url, via)
        assert airseal(tok, module, "hsm", "pubkey", url) == pems[parsed.object], url
