"""Capability probe for the PKCS#11 backends the tests can start (not collected by pytest).

    python -m tests.hsm.probe_token_capabilities [--out tests/hsm/token_capabilities.json]
        [--backends softhsm2,tpm2,tpm2-no-rm,opencryptoki] [--max-keys 40]

For each backend, on a fresh token, through python-pkcs11 with airseal's own key templates
(hsm.keygen.private_template / public_template):
- C_GenerateKeyPair for EC P-256/P-384, RSA 2048/3072/4096, Ed25519;
- C_CreateObject of a host-made private key of each type;
- C_Sign with CKM_ECDSA (raw digest), CKM_ECDSA_SHA256, CKM_RSA_PKCS (DigestInfo),
  CKM_RSA_PKCS_PSS (SHA-256, MGF1-SHA-256, salt 32), CKM_EDDSA, each checked on the host
  with `cryptography`;
- whether the private object answers CKA_EC_POINT;
- C_GetMechanismInfo (key sizes, flags) for those mechanisms;
- the token/slot/library strings as returned;
- how many EC P-256 keys can be generated (and used) before the first failure (capped).
Each check records "ok", or the exception class and message.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pkcs11
from asn1crypto.algos import DigestInfo
from asn1crypto.core import ObjectIdentifier
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from pkcs11 import MGF, Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import encode_ecdsa_signature, encode_named_curve_parameters

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from hsm.keygen import private_template, public_template  # noqa: E402
from tests.hsm import tokens_support as ts  # noqa: E402

ED25519_OID = "1.3.101.112"
KEY_TYPES = ("ec-p256", "ec-p384", "rsa-2048", "rsa-3072", "rsa-4096", "ed25519")
MECHANISMS = {
    "CKM_EC_KEY_PAIR_GEN": Mechanism.EC_KEY_PAIR_GEN,
    "CKM_RSA_PKCS_KEY_PAIR_GEN": Mechanism.RSA_PKCS_KEY_PAIR_GEN,
    "CKM_EC_EDWARDS_KEY_PAIR_GEN": Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
    "CKM_ECDSA": Mechanism.ECDSA,
    "CKM_ECDSA_SHA256": Mechanism.ECDSA_SHA256,
    "CKM_ECDSA_SHA384": Mechanism.ECDSA_SHA384,
    "CKM_RSA_PKCS": Mechanism.RSA_PKCS,
    "CKM_RSA_PKCS_PSS": Mechanism.RSA_PKCS_PSS,
    "CKM_SHA256_RSA_PKCS": Mechanism.SHA256_RSA_PKCS,
    "CKM_EDDSA": Mechanism.EDDSA,
}
MESSAGE = b"airseal capability probe"


def _err(exc: BaseException) -> str:
    text = str(exc).strip()
    return type(exc).__name__ + (f": {text}" if text else "")


def attempt(fn: Callable[[], Any]) -> Any:
    try:
        out = fn()
        return "ok" if out is None else out
    except Exception as exc:
        return "error: " + _err(exc)


def _flag_names(flags: Any) -> list[str]:
    return [f.name for f in type(flags) if f.value and (flags & f) == f and bin(f.value).count("1") == 1]


def _s(v: Any) -> Any:
    if isinstance(v, bytes):
        return {"hex": v.hex(), "text": v.decode("latin-1")}
    return v


# ------------------------------------------------------------------------------- key material


def _ec_params(key_type: str) -> bytes:
    if key_type == "ed25519":
        return ObjectIdentifier(ED25519_OID).dump()
    return encode_named_curve_parameters({"ec-p256": "secp256r1", "ec-p384": "secp384r1"}[key_type])


# Template variants tried in order; the probe records which one the token accepted.
# "airseal" is exactly hsm.keygen's. tpm2-pkcs11 1.9.0 rejects it (CKR_GENERAL_ERROR, log:
# "User specified and TPM specified attr mismatch: 0x10a" = CKA_VERIFY): it derives the public
# object's CKA_VERIFY from the TPM key's `decrypt` bit and CKA_ENCRYPT from its `sign` bit, and
# it signs CKM_RSA_PKCS/PSS with TPM2_RSA_Decrypt, which needs the `decrypt` bit. Hence:
def _variant(name: str, key_type: str) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """(public extra, private extra) for a template variant."""
    if name == "airseal":
        return {}, {}
    if name == "tpm2-compatible":  # what pkcs11-tool --keypairgen sends, in effect
        priv = {Attribute.DECRYPT: True}
        if not key_type.startswith("rsa-"):
            priv[Attribute.DERIVE] = True
        return {Attribute.ENCRYPT: True, Attribute.VERIFY: True}, priv
    if name == "public-verify-false":
        return {Attribute.VERIFY: False, Attribute.ENCRYPT: True}, {}
    raise KeyError(name)


TEMPLATE_VARIANTS = ("airseal", "tpm2-compatible", "public-verify-false")


def generate(session: Any, key_type: str, label: str, variant: str = "airseal") -> tuple[Any, Any]:
    key_id = label.encode()[:16]
    pub_extra, priv_extra = _variant(variant, key_type)
    priv_t = {**private_template(label, key_id), **priv_extra}
    pub_t = {**public_template(label, key_id), **pub_extra}
    if key_type.startswith("rsa-"):
        return session.generate_keypair(
            KeyType.RSA, int(key_type[4:]), store=True, label=label, id=key_id,
            public_template={**pub_t, Attribute.PUBLIC_EXPONENT: b"\x01\x00\x01"},
            private_template=priv_t)
    kt, mech = ((KeyType.EC_EDWARDS, Mechanism.EC_EDWARDS_KEY_PAIR_GEN) if key_type == "ed25519"
                else (KeyType.EC, Mechanism.EC_KEY_PAIR_GEN))
    domain = session.create_domain_parameters(kt, {Attribute.EC_PARAMS: _ec_params(key_type)}, local=True)
    return domain.generate_keypair(store=True, label=label, id=key_id, mechanism=mech,
                                   public_template=pub_t, private_template=priv_t)


def generate_any(session: Any, key_type: str, label: str) -> tuple[dict[str, str], Any]:
    """Try each template variant; returns ({variant: result}, (pub, priv) or None)."""
    tried: dict[str, str] = {}
    for i, variant in enumerate(TEMPLATE_VARIANTS):
        pair = attempt(lambda v=variant, n=i: generate(session, key_type, f"{label}-{n}", v))
        if isinstance(pair, str):
            tried[variant] = pair
            continue
        tried[variant] = "ok"
        return tried, pair
    return tried, None


def host_public_from_token(pub: Any, key_type: str) -> Any:
    """A cryptography public key from the token's public object."""
    if key_type.startswith("rsa-"):
        n = int.from_bytes(pub[Attribute.MODULUS], "big")
        e = int.from_bytes(pub[Attribute.PUBLIC_EXPONENT], "big")
        return rsa.RSAPublicNumbers(e, n).public_key()
    point = _unwrap_octet_string(pub[Attribute.EC_POINT])
    if key_type == "ed25519":
        return ed25519.Ed25519PublicKey.from_public_bytes(point)
    curve = ec.SECP256R1() if key_type == "ec-p256" else ec.SECP384R1()
    return ec.EllipticCurvePublicKey.from_encoded_point(curve, point)


def _unwrap_octet_string(raw: bytes) -> bytes:
    """CKA_EC_POINT is DER OCTET STRING per the spec; some modules return the raw point."""
    from asn1crypto.core import OctetString

    if raw[:1] == b"\x04" and len(raw) > 2:
        with contextlib.suppress(Exception):
            inner = OctetString.load(raw).native
            if inner and len(inner) + 2 <= len(raw):
                return inner
    return raw


def host_private(key_type: str) -> Any:
    if key_type.startswith("rsa-"):
        return rsa.generate_private_key(65537, int(key_type[4:]))
    if key_type == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    return ec.generate_private_key(ec.SECP256R1() if key_type == "ec-p256" else ec.SECP384R1())


def import_private(session: Any, key_type: str, key: Any, label: str) -> Any:
    key_id = (label.encode() + b"-imp")[:16]
    attrs = {Attribute.CLASS: ObjectClass.PRIVATE_KEY, **private_template(label, key_id)}
    big = lambda i: i.to_bytes((i.bit_length() + 7) // 8 or 1, "big")  # noqa: E731
    if key_type.startswith("rsa-"):
        nums = key.private_numbers()
        attrs.update({
            Attribute.KEY_TYPE: KeyType.RSA, Attribute.MODULUS: big(nums.public_numbers.n),
            Attribute.PUBLIC_EXPONENT: big(nums.public_numbers.e), Attribute.PRIVATE_EXPONENT: big(nums.d),
            Attribute.PRIME_1: big(nums.p), Attribute.PRIME_2: big(nums.q),
            Attribute.EXPONENT_1: big(nums.dmp1), Attribute.EXPONENT_2: big(nums.dmq1),
            Attribute.COEFFICIENT: big(nums.iqmp)})
    elif key_type == "ed25519":
        raw = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                serialization.NoEncryption())
        attrs.update({Attribute.KEY_TYPE: KeyType.EC_EDWARDS, Attribute.EC_PARAMS: _ec_params(key_type),
                      Attribute.VALUE: raw})
    else:
        size = 32 if key_type == "ec-p256" else 48
        attrs.update({Attribute.KEY_TYPE: KeyType.EC, Attribute.EC_PARAMS: _ec_params(key_type),
                      Attribute.VALUE: key.private_numbers().private_value.to_bytes(size, "big")})
    return session.create_object(attrs)


# ------------------------------------------------------------------------------- signing


def sign_checks(priv: Any, host_pub: Any, key_type: str) -> dict[str, str]:
    out: dict[str, str] = {}

    def check(name: str, fn: Callable[[], None]) -> None:
        out[name] = attempt(fn)

    if key_type.startswith("ec-"):
        h = hashes.SHA256() if key_type == "ec-p256" else hashes.SHA384()
        digest = _digest(h)

        def ecdsa_raw() -> None:
            sig = priv.sign(digest, mechanism=Mechanism.ECDSA)
            host_pub.verify(encode_ecdsa_signature(sig), digest,
                            ec.ECDSA(_prehashed(h)))

        def ecdsa_sha256() -> None:
            sig = priv.sign(MESSAGE, mechanism=Mechanism.ECDSA_SHA256)
            host_pub.verify(encode_ecdsa_signature(sig), MESSAGE, ec.ECDSA(hashes.SHA256()))

        check("CKM_ECDSA", ecdsa_raw)
        check("CKM_ECDSA_SHA256", ecdsa_sha256)
    elif key_type.startswith("rsa-"):
        digest = _digest(hashes.SHA256())

        def rsa_pkcs() -> None:
            info = DigestInfo({"digest_algorithm": {"algorithm": "sha256"}, "digest": digest}).dump()
            sig = priv.sign(info, mechanism=Mechanism.RSA_PKCS)
            host_pub.verify(sig, MESSAGE, padding.PKCS1v15(), hashes.SHA256())

        def rsa_pss() -> None:
            sig = priv.sign(digest, mechanism=Mechanism.RSA_PKCS_PSS,
                            mechanism_param=(Mechanism.SHA256, MGF.SHA256, 32))
            host_pub.verify(sig, MESSAGE, padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())

        check("CKM_RSA_PKCS", rsa_pkcs)
        check("CKM_RSA_PKCS_PSS", rsa_pss)
    else:
        def eddsa() -> None:
            sig = priv.sign(MESSAGE, mechanism=Mechanism.EDDSA)
            host_pub.verify(sig, MESSAGE)

        check("CKM_EDDSA", eddsa)
    return out


def _digest(h: hashes.HashAlgorithm) -> bytes:
    d = hashes.Hash(h)
    d.update(MESSAGE)
    return d.finalize()


def _prehashed(h: hashes.HashAlgorithm) -> Any:
    from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

    return Prehashed(h)


# ------------------------------------------------------------------------------- backends


@contextlib.contextmanager
def softhsm_token(root: Path) -> Iterator[ts.Token]:
    from tests.hsm import softhsm_support as sh

    if sh.SOFTHSM_MODULE is None:
        raise RuntimeError("SoftHSM2 not installed")
    started = time.monotonic()
    tokens = root / "softhsm" / "tokens"
    tokens.mkdir(parents=True)
    conf = root / "softhsm" / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    env = {"SOFTHSM2_CONF": str(conf)}
    ts.finalize_module(sh.SOFTHSM_MODULE)
    with ts._environ(env):
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", ts.TOKEN_LABEL,
                        "--so-pin", sh.SO_PIN, "--pin", sh.USER_PIN], check=True, capture_output=True)
        tok = ts.Token(backend="softhsm2", module=sh.SOFTHSM_MODULE, root=root / "softhsm",
                       label=ts.TOKEN_LABEL, pin=sh.USER_PIN, so_pin=sh.SO_PIN, env=env,
                       startup_seconds=time.monotonic() - started)
        try:
            yield tok
        finally:
            ts.finalize_module(sh.SOFTHSM_MODULE)


BACKENDS: dict[str, Callable[[Path], Any]] = {
    "softhsm2": softhsm_token,
    "tpm2": ts.tpm2_token,
    "tpm2-no-rm": lambda root: ts.tpm2_token(root, resource_manager=False),
    "tpm2-abrmd-default-limits": lambda root: ts.tpm2_token(root, max_transients=27),
    "opencryptoki": ts.opencryptoki_token,
}


def probe(tok: ts.Token, max_keys: int, full: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"module": tok.module, "env": tok.env,
                              "startup_seconds": round(tok.startup_seconds, 3)}
    lib = pkcs11.lib(tok.module)
    result["library"] = {"manufacturer_id": lib.manufacturer_id, "description": lib.library_description,
                         "cryptoki_version": list(lib.cryptoki_version),
                         "library_version": list(lib.library_version)}
    token = lib.get_token(token_label=tok.label)
    slot = token.slot
    result["slot"] = {"slot_id": slot.slot_id, "description": slot.slot_description,
                      "manufacturer_id": slot.manufacturer_id, "flags": _flag_names(slot.flags)}
    result["token"] = {"label": token.label, "manufacturer_id": token.manufacturer_id,
                       "model": token.model, "serial": _s(token.serial), "flags": _flag_names(token.flags)}
    mechs = {}
    available = set(slot.get_mechanisms())
    for name, mech in MECHANISMS.items():
        if mech not in available:
            mechs[name] = "not listed by C_GetMechanismList"
            continue
        info = attempt(lambda mech=mech: slot.get_mechanism_info(mech))
        mechs[name] = info if isinstance(info, str) else {
            "min_key_length": info.min_key_length, "max_key_length": info.max_key_length,
            "flags": _flag_names(info.flags)}
    result["mechanism_info"] = mechs

    with token.open(rw=True, user_pin=tok.pin) as session:
        if full:
            keys: dict[str, Any] = {}
            for kt in KEY_TYPES:
                entry: dict[str, Any] = {}
                t0 = time.monotonic()
                tried, pair = generate_any(session, kt, f"gen-{kt}")
                entry["generate_seconds"] = round(time.monotonic() - t0, 3)
                entry["generate"] = tried
                if pair is not None:
                    pub, priv = pair
                    host_pub = attempt(lambda pub=pub, kt=kt: host_public_from_token(pub, kt))
                    if isinstance(host_pub, str):
                        entry["public_key_read"] = host_pub
                    else:
                        entry["sign"] = sign_checks(priv, host_pub, kt)
                    if not kt.startswith("rsa-"):
                        ecp = attempt(lambda priv=priv: priv[Attribute.EC_POINT])
                        entry["private_has_CKA_EC_POINT"] = (
                            ecp if isinstance(ecp, str) else f"yes ({len(ecp)} bytes)")
                host_key = host_private(kt)
                imported = attempt(lambda kt=kt, hk=host_key: import_private(session, kt, hk, f"imp-{kt}"))
                if isinstance(imported, str):
                    entry["import"] = imported
                else:
                    entry["import"] = "ok"
                    entry["import_sign"] = sign_checks(imported, host_key.public_key(), kt)
                keys[kt] = entry
                print(f"  {tok.backend} {kt}: {json.dumps(entry)}", file=sys.stderr)
            result["keys"] = keys
            ok = [v for v, r in keys["ec-p256"]["generate"].items() if r == "ok"]
            variant = ok[0] if ok else "airseal"
        else:
            variant = "tpm2-compatible" if tok.backend == "tpm2" else "airseal"
    # A fresh session: the key count is not disturbed by the keys above being loaded.
    with token.open(rw=True, user_pin=tok.pin) as session:
        result["max_keys"] = count_keys(session, max_keys, variant)
    return result


def count_keys(session: Any, cap: int, variant: str) -> dict[str, Any]:
    """Generate EC P-256 keys (template `variant`) and sign with every key made so far after
    each one, until the first failure or `cap` keys."""
    made: list[Any] = []
    t0 = time.monotonic()
    for i in range(cap):
        try:
            pub, priv = generate(session, "ec-p256", f"count-{i:03d}", variant)
            made.append(priv)
            # A module that keeps one TPM context per key can fail here, not at keygen.
            for p in made:
                p.sign(b"\x00" * 32, mechanism=Mechanism.ECDSA)
        except Exception as exc:
            return {"template": variant, "ec_p256_keys_made_and_used": i, "failed_at_key": i + 1,
                    "error": _err(exc), "seconds": round(time.monotonic() - t0, 2)}
    return {"template": variant, "ec_p256_keys_made_and_used": cap, "failed_at_key": None,
            "cap": cap, "seconds": round(time.monotonic() - t0, 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(Path(__file__).with_name("token_capabilities.json")))
    ap.add_argument("--backends", default="softhsm2,tpm2,tpm2-no-rm,opencryptoki")
    ap.add_argument("--max-keys", type=int, default=40)
    args = ap.parse_args(argv)
    results: dict[str, Any] = {
        "generated_by": "python -m tests.hsm.probe_token_capabilities",
        "python_pkcs11": getattr(pkcs11, "__version__", None) or _dist_version("python-pkcs11"),
        "platform": platform.platform(),
        "packages": _packages(),
        "backends": {},
    }
    for name in args.backends.split(","):
        print(f"probing {name}", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix=f"probe-{name}-") as d:
            try:
                with BACKENDS[name](Path(d)) as tok:
                    results["backends"][name] = probe(tok, args.max_keys, full=(name in ("softhsm2", "tpm2", "opencryptoki")))
            except BaseException as exc:
                results["backends"][name] = {"error": _err(exc), "trace": traceback.format_exc()[-1500:]}
    Path(args.out).write_text(json.dumps(results, indent=2, sort_keys=False) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _packages() -> dict[str, str]:
    names = ["swtpm", "libtpm2-pkcs11-1", "tpm2-abrmd", "libtss2-tcti-tabrmd0", "libtss2-esys-3.0.2-0",
             "opencryptoki", "softhsm2", "gnutls-bin", "p11-kit", "opensc"]
    out = {}
    for n in names:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", n], capture_output=True, text=True)
        out[n] = r.stdout.strip() if r.returncode == 0 else "absent"
    return out


if __name__ == "__main__":
    os.chdir(REPO)
    raise SystemExit(main())
