"""`airseal hsm doctor`: what a module, its tokens and one key can do for airseal.

Read-only by construction: sessions are opened read-only, nothing is created, and the test
signature (over random bytes) is checked on the host and thrown away. A PIN is read from the
usual sources (pin-source, pin-value, AIRSEAL_PKCS11_PIN, a terminal prompt) only when a key
is named, only to make that test signature, and never printed; without one the test is
reported as skipped.

The report is a plain dict (schema `airseal.hsm.doctor.v1`); `render` turns it into the
human text. `problems` lists what stops airseal from signing with what was named: the CLI
exits 5 when it is not empty.
"""

from __future__ import annotations

import os
from typing import Any

from pkcs11 import exceptions as p11e
from pkcs11.constants import Attribute, MechanismFlag, TokenFlag
from pkcs11.mechanisms import Mechanism

from hsm.capabilities import KEY_TYPES, RELEVANT_MECHANISMS, check_can_generate, choose_sign_mechanism, ck_name
from hsm.keys import find_private_key, find_public_key, key_type_name, public_key_for_private
from hsm.token import (
    PKCS11_LOCK,
    ckr_name,
    load_module,
    open_token,
    present_tokens,
    resolve_module,
    token_matches,
    token_uri,
)
from hsm.uri import Pkcs11Uri
from verifier.errors import HsmError, Reason

SCHEMA = "airseal.hsm.doctor.v1"

_TOKEN_FLAGS = (
    ("initialized", TokenFlag.TOKEN_INITIALIZED),
    ("login_required", TokenFlag.LOGIN_REQUIRED),
    ("user_pin_initialized", TokenFlag.USER_PIN_INITIALIZED),
    ("user_pin_locked", TokenFlag.USER_PIN_LOCKED),
    ("user_pin_final_try", TokenFlag.USER_PIN_FINAL_TRY),
    ("user_pin_count_low", TokenFlag.USER_PIN_COUNT_LOW),
    ("user_pin_to_be_changed", TokenFlag.USER_PIN_TO_BE_CHANGED),
    ("write_protected", TokenFlag.WRITE_PROTECTED),
    ("protected_authentication_path", TokenFlag.PROTECTED_AUTHENTICATION_PATH),
)

_KEY_ATTRIBUTES = (
    ("sign", Attribute.SIGN),
    ("private", Attribute.PRIVATE),
    ("sensitive", Attribute.SENSITIVE),
    ("extractable", Attribute.EXTRACTABLE),
    ("always_authenticate", Attribute.ALWAYS_AUTHENTICATE),
    ("local", Attribute.LOCAL),
    ("never_extractable", Attribute.NEVER_EXTRACTABLE),
    ("always_sensitive", Attribute.ALWAYS_SENSITIVE),
    ("decrypt", Attribute.DECRYPT),
    ("derive", Attribute.DERIVE),
    ("unwrap", Attribute.UNWRAP),
)


def diagnose(uri: Pkcs11Uri | None, module_override: str | None = None, *, warn: Any = None) -> dict[str, Any]:
    """The doctor report for the module (and the token / key the URI names).

    Raises:
        HsmError: only when the module itself cannot be loaded (`hsm.library_not_found`).
    """
    uri = uri or Pkcs11Uri()
    path = resolve_module(uri, module_override)
    lib = load_module(path)
    report: dict[str, Any] = {"schema": SCHEMA, "module": _module_info(lib, path), "tokens": [],
                              "key": None, "problems": []}
    tokens = present_tokens(lib)
    wanted = [t for t in tokens if token_matches(t, uri, initialized_only=False)]
    for token in wanted:
        report["tokens"].append(_token_report(token, path, tokens))
    if not wanted:
        report["problems"].append({"reason_code": Reason.HSM_TOKEN_NOT_FOUND.value,
                                   "message": f"no token matches {uri.token_part().display()}"})
    if uri.object is not None or uri.id is not None or uri.type is not None:
        report["key"] = _key_report(uri, module_override, report["problems"], warn)
    return report


def _module_info(lib: Any, path: str) -> dict[str, Any]:
    with PKCS11_LOCK:
        return {
            "path": path,
            "manufacturer": str(lib.manufacturer_id).strip(),
            "library_description": str(lib.library_description).strip(),
            "library_version": "{}.{}".format(*lib.library_version),
            "cryptoki_version": "{}.{}".format(*lib.cryptoki_version),
        }


def _token_report(token: Any, module_path: str, siblings: list[Any]) -> dict[str, Any]:
    with PKCS11_LOCK:
        slot = token.slot
        flags = token.flags
        entry: dict[str, Any] = {
            "label": str(token.label),
            "serial": _text(token.serial),
            "model": str(token.model),
            "manufacturer": str(token.manufacturer_id),
            "slot_id": int(slot.slot_id),
            "slot_description": str(slot.slot_description).strip(),
            "uri": token_uri(token, module_path, siblings).display(),
            "flags": {name: bool(flags & bit) for name, bit in _TOKEN_FLAGS},
        }
    entry["mechanisms"], offered = _mechanisms(slot)
    entry["key_types"] = {kt: _key_type_support(slot, offered, kt) for kt in KEY_TYPES}
    return entry


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return str(value).rstrip("\0 ")


def _mechanisms(slot: Any) -> tuple[list[dict[str, Any]], set[Any]]:
    with PKCS11_LOCK:
        try:
            offered = set(slot.get_mechanisms())
        except p11e.PKCS11Error:
            offered = set()
        rows = []
        for mech in RELEVANT_MECHANISMS:
            if mech not in offered:
                continue
            row: dict[str, Any] = {"name": ck_name(mech)}
            try:
                info = slot.get_mechanism_info(mech)
                row.update(min_key_size=int(info.min_key_length), max_key_size=int(info.max_key_length),
                           flags=[(f.name or "").lower() for f in (MechanismFlag.SIGN, MechanismFlag.VERIFY,
                                                           MechanismFlag.GENERATE_KEY_PAIR) if info.flags & f])
            except p11e.PKCS11Error as exc:
                row["error"] = ckr_name(exc)
            rows.append(row)
    return rows, offered


def _key_type_support(slot: Any, offered: set[Any], key_type: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        check_can_generate(slot, key_type)
        out["generate"] = True
    except HsmError as err:
        out["generate"] = False
        out["generate_detail"] = err.detail
    try:
        plan = choose_sign_mechanism(offered, key_type)
        out["sign"] = ck_name(plan.mechanism)
    except HsmError as err:
        out["sign"] = None
        out["sign_detail"] = err.detail
    if key_type.startswith("rsa-"):
        out["rsa_pss"] = "listed" if Mechanism.RSA_PKCS_PSS in offered else "not listed (tried when asked)"
    return out


def _key_report(uri: Pkcs11Uri, module_override: str | None, problems: list[dict[str, Any]], warn: Any) -> dict[str, Any]:
    key: dict[str, Any] = {"uri": uri.display(), "found": False, "test_signature": {"status": "skipped"},
                           "sign_options": {}}
    # 1. Without login: the public object (what `verify --key pkcs11:` reads).
    try:
        opened = open_token(uri, login=False, module_override=module_override, warn=warn)
    except HsmError as err:
        _problem(problems, err)
        key["test_signature"]["detail"] = err.detail
        return key
    public = None
    try:
        public = find_public_key(opened, uri)
        key.update(found=True, key_type=key_type_name(public), public_readable_without_pin=True)
    except HsmError as err:
        if err.reason is not Reason.HSM_KEY_NOT_FOUND:
            _problem(problems, err)
            return key
        key["public_readable_without_pin"] = False
    # 2. With login (PIN from the usual sources): the private key and a test signature.
    try:
        opened = open_token(uri, login=True, module_override=module_override, warn=warn)
    except HsmError as err:
        if err.reason is Reason.HSM_PIN_MISSING:
            key["test_signature"] = {"status": "skipped", "detail": "no PIN available (AIRSEAL_PKCS11_PIN,"
                                     " pin-source=FILE or a terminal): the private key was not examined"}
            if public is None:
                _problem(problems, HsmError(Reason.HSM_KEY_NOT_FOUND, "no public object matches the URI and"
                                            " without a PIN the private key cannot be looked for"))
            return key
        _problem(problems, err)
        key["test_signature"] = {"status": "skipped", "detail": err.detail}
        return key
    try:
        private = find_private_key(opened, _private_uri(uri))
        public = public_key_for_private(opened, private)
    except HsmError as err:
        _problem(problems, err)
        key["test_signature"] = {"status": "skipped", "detail": err.detail}
        return key
    key.update(found=True, key_type=key_type_name(public))
    with PKCS11_LOCK:
        try:
            key["label"] = str(private[Attribute.LABEL] or "")
            key["id"] = bytes(private[Attribute.ID] or b"").hex()
        except p11e.PKCS11Error:
            pass
    key["attributes"] = _attributes(private)
    _test_signatures(opened, private, public, key, problems)
    return key


def _private_uri(uri: Pkcs11Uri) -> Pkcs11Uri:
    import dataclasses

    return dataclasses.replace(uri, type=None) if uri.type in ("public", "cert") else uri


def _attributes(obj: Any) -> dict[str, bool | None]:
    out: dict[str, bool | None] = {}
    with PKCS11_LOCK:
        for name, attr in _KEY_ATTRIBUTES:
            try:
                out[name] = bool(obj[attr])
            except (p11e.PKCS11Error, KeyError, TypeError, ValueError):
                out[name] = None  # the token does not report it
    return out


def _test_signatures(opened: Any, private: Any, public: Any, key: dict[str, Any], problems: list[dict[str, Any]]) -> None:
    from hsm.signer import HsmSigner

    options = key["sign_options"]
    try:
        signer = HsmSigner(opened, private, public)
        key["test_signature"] = _one_test(signer)
        key["mechanism"] = ck_name(signer.mechanism)
        key["prehashed"] = signer.prehashed
        options["sign"] = key["test_signature"]["status"] == "verified"
        options["attest"] = options["sign"]
        if not options["sign"]:
            problems.append({"reason_code": Reason.HSM_SELF_CHECK_FAILED.value,
                             "message": key["test_signature"].get("detail", "test signature failed")})
    except HsmError as err:
        key["test_signature"] = {"status": "failed", "reason_code": err.reason.value, "detail": err.detail}
        options["sign"] = options["attest"] = False
        _problem(problems, err)
    if key.get("key_type", "").startswith("rsa-"):
        try:
            pss = _one_test(HsmSigner(opened, private, public, rsa_pss=True))
            options["rsa_pss"] = pss["status"] == "verified"
            options["rsa_pss_detail"] = pss.get("detail", "CKM_RSA_PKCS_PSS signature verified on the host")
        except HsmError as err:
            options["rsa_pss"] = False
            options["rsa_pss_detail"] = f"{err.detail} [{err.reason.value}]"
    else:
        options["rsa_pss"] = None
        options["rsa_pss_detail"] = "RSA keys only"


def _one_test(signer: Any) -> dict[str, Any]:
    """One signature over random bytes, verified on the host (by HsmSigner's self-check)."""
    import hashlib

    message = os.urandom(64)
    try:
        if signer.prehashed:
            digest = hashlib.new(signer.hash_name, message).digest()
            signer.sign_digest(digest, signer.hash_name)
            what = f"{ck_name(signer.mechanism)} over a random {signer.hash_name.upper()} digest"
        else:
            signer.sign_message(message)
            what = f"{ck_name(signer.mechanism)} over a random 64-byte message"
    except HsmError as err:
        if err.reason is Reason.HSM_SELF_CHECK_FAILED:
            return {"status": "failed", "reason_code": err.reason.value, "detail": err.detail}
        raise
    return {"status": "verified", "detail": f"{what}, verified on the host with the token's public key"}


def _problem(problems: list[dict[str, Any]], err: HsmError) -> None:
    problems.append({"reason_code": err.reason.value, "message": err.detail})


# ------------------------------------------------------------------------------ human text


def _yn(value: Any) -> str:
    return "-" if value is None else ("yes" if value else "no")


def render(report: dict[str, Any]) -> str:
    """The report as text for a person (no PIN can be in it: none is ever put in the dict)."""
    m = report["module"]
    lines = [
        f"module        {m['path']}",
        f"  library     {m['manufacturer']} / {m['library_description']} {m['library_version']}"
        f" (Cryptoki {m['cryptoki_version']})",
    ]
    for t in report["tokens"]:
        flags = t["flags"]
        shown = [name.replace("_", " ") for name, on in flags.items() if on]
        lines += [
            f"token         {t['label'] or '(no label)'}   slot {t['slot_id']}",
            f"  uri         {t['uri']}",
            f"  serial      {t['serial'] or '-'}",
            f"  model       {t['model']}",
            f"  maker       {t['manufacturer']}",
            f"  flags       {', '.join(shown) or '-'}",
        ]
        if not flags["initialized"]:
            lines.append("  note        not initialized: airseal cannot use it until it is")
        mechs = ", ".join(f"{r['name']} {r.get('min_key_size', '?')}-{r.get('max_key_size', '?')}" for r in t["mechanisms"])
        lines.append(f"  mechanisms  {mechs or 'none that airseal uses'}")
        for kt, sup in t["key_types"].items():
            gen = "generate" if sup["generate"] else "no keygen"
            sign = f"sign with {sup['sign']}" if sup["sign"] else "cannot sign"
            extra = f"; PSS {sup['rsa_pss']}" if "rsa_pss" in sup else ""
            why = "" if sup["generate"] else f"  ({sup.get('generate_detail') or sup.get('sign_detail')})"
            lines.append(f"  {kt:<11} {gen}, {sign}{extra}{why}")
    k = report["key"]
    if k is not None:
        lines.append(f"key           {k['uri']}")
        if k.get("found"):
            lines.append(f"  type        {k.get('key_type', '?')}"
                         + (f"   label {k['label']!r} id {k['id'] or '-'}" if "label" in k else ""))
        if "attributes" in k:
            a = k["attributes"]
            lines.append("  attributes  " + " ".join(f"{n.replace('_', '-')}={_yn(v)}" for n, v in a.items()))
        ts = k["test_signature"]
        lines.append(f"  test sign   {ts['status']}" + (f": {ts['detail']}" if ts.get("detail") else ""))
        o = k["sign_options"]
        if "sign" in o:
            lines.append(f"  airseal sign / attest   {_yn(o['sign'])}" + (f" ({k['mechanism']})" if "mechanism" in k else ""))
            lines.append(f"  --rsa-pss   {_yn(o['rsa_pss'])} ({o['rsa_pss_detail']})")
    for p in report["problems"]:
        lines.append(f"problem       {p['message']} [{p['reason_code']}]")
    if not report["problems"]:
        lines.append("ok            no problems found")
    return "\n".join(lines)


__all__ = ["SCHEMA", "diagnose", "render"]
