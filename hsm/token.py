"""Module loading, token selection, PIN lookup and the process's one logged-in session.

Owns every call that opens or logs into a token, and the translation of python-pkcs11
exceptions into `HsmError` (exit 5) with a message that says what to do.

Rules kept here:
- Every PKCS#11 call in airseal runs under `PKCS11_LOCK`, one process-wide RLock: many
  modules are not thread-safe, and a session handle must not be used by two threads at once.
- One session per token per process, opened and logged in once and then reused (signing 1,000
  files costs one C_Login, not 1,000).
- A PIN is held only in local variables on its way to C_Login. It is never put into an
  exception, a log line, a warning or a URI that airseal prints.
"""

from __future__ import annotations

import dataclasses
import os
import struct
import sys
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pkcs11
from pkcs11 import exceptions as p11e
from pkcs11.attributes import AttributeMapper
from pkcs11.constants import Attribute, TokenFlag
from pkcs11.mechanisms import Mechanism

from hsm.uri import Pkcs11Uri
from verifier.errors import HsmError, Reason

PKCS11_LOCK = threading.RLock()

ENV_MODULE = "AIRSEAL_PKCS11_MODULE"
ENV_PIN = "AIRSEAL_PKCS11_PIN"

# Where `module-name=NAME` is looked up (p11-kit's and the distributions' usual places).
_MODULE_DIRS = (
    "/usr/lib/x86_64-linux-gnu/pkcs11",
    "/usr/lib/aarch64-linux-gnu/pkcs11",
    "/usr/lib64/pkcs11",
    "/usr/lib/pkcs11",
    "/usr/local/lib/pkcs11",
    "/usr/lib/softhsm",
    "/usr/lib",
    "/usr/local/lib",
)

Warn = Callable[[str], None]


@dataclass(frozen=True)
class TokenInfo:
    """What `airseal hsm tokens` shows about one slot's token."""

    label: str
    serial: str
    model: str
    manufacturer: str
    slot_id: int
    slot_description: str
    initialized: bool
    uri: Pkcs11Uri
    """Selects exactly this token (label + serial, + slot-id when those are shared), with the
    module path. See `token_uri`."""


@dataclass(frozen=True)
class OpenToken:
    """The cached session of one token; a new entry replaces it when more rights are needed."""

    module_path: str
    token: Any
    session: Any
    logged_in: bool
    rw: bool

    @property
    def label(self) -> str:
        return str(self.token.label)


_OPEN: dict[tuple[str, int], OpenToken] = {}

_ULONG = struct.Struct("L")  # CK_ULONG is the platform's unsigned long


def _mechanism(value: int) -> Any:
    try:
        return Mechanism(value)
    except ValueError:
        return value  # vendor-defined: keep the number


def attribute_mapper() -> AttributeMapper:
    """python-pkcs11's mapper plus CKA_ALLOWED_MECHANISMS (an array of CK_MECHANISM_TYPE),
    which it cannot pack or unpack on its own; HsmSigner reads it to refuse early."""
    mapper = AttributeMapper()
    mapper.register_handler(
        Attribute.ALLOWED_MECHANISMS,
        lambda mechs: b"".join(_ULONG.pack(int(m)) for m in mechs),
        lambda raw: [_mechanism(v) for (v,) in _ULONG.iter_unpack(raw)],
    )
    return mapper


def resolve_module(uri: Pkcs11Uri, override: str | None = None, *, option: str | None = None) -> str:
    """The module path: `override` (a --module option), the URI's module-path, the env, or
    module-name looked up in the usual directories. `option` names the command's own option
    for the module (`--module`), which the error then suggests instead of the URI's module-path.

    Raises:
        HsmError: `hsm.library_not_found` when none is given or the file is missing.
    """
    path = override or uri.module_path or os.environ.get(ENV_MODULE) or None
    if path is None and uri.module_name:
        path = _find_module_by_name(uri.module_name)
    if path is None:
        where = f"pass {option} /path/to/module.so" if option else "add ?module-path=/path/to/module.so to the URI"
        raise HsmError(
            Reason.HSM_LIBRARY_NOT_FOUND,
            f"no PKCS#11 module given: {where} or set"
            f" {ENV_MODULE} (SoftHSM: /usr/lib/softhsm/libsofthsm2.so)",
        )
    if not Path(path).is_file():
        raise HsmError(
            Reason.HSM_LIBRARY_NOT_FOUND,
            f"PKCS#11 module {path} does not exist: install the vendor's module or fix the path",
            context={"module": path},
        )
    return path


def _find_module_by_name(name: str) -> str | None:
    if "/" in name:
        return None
    for directory in _MODULE_DIRS:
        for candidate in (f"{name}.so", f"lib{name}.so", name):
            path = Path(directory) / candidate
            if path.is_file():
                return str(path)
    return None


def load_module(path: str) -> Any:
    """Load (once per process: python-pkcs11 caches it) and initialize a module.

    Raises:
        HsmError: `hsm.library_not_found` if it is not a loadable PKCS#11 module.
    """
    with PKCS11_LOCK:
        try:
            return pkcs11.lib(path)
        except p11e.PKCS11Error as exc:
            if type(exc) is not p11e.PKCS11Error:  # a CKR_* from C_Initialize: module found
                raise HsmError(
                    Reason.HSM_DEVICE_ERROR,
                    f"PKCS#11 module {path} failed to initialize ({type(exc).__name__}): check its"
                    " configuration (SoftHSM: SOFTHSM2_CONF and its tokendir)",
                    context={"module": path},
                ) from exc
            raise HsmError(
                Reason.HSM_LIBRARY_NOT_FOUND,
                f"cannot load {path} as a PKCS#11 module: check it is the vendor's PKCS#11 library"
                " for this CPU architecture",
                context={"module": path},
            ) from exc
        except (RuntimeError, OSError) as exc:
            raise HsmError(
                Reason.HSM_LIBRARY_NOT_FOUND,
                f"cannot load {path} as a PKCS#11 module ({type(exc).__name__}): check it is the"
                " vendor's PKCS#11 library for this CPU architecture",
                context={"module": path},
            ) from exc


def list_tokens(module_path: str) -> list[TokenInfo]:
    """Every slot with a token present, initialized or not."""
    lib = load_module(module_path)
    with PKCS11_LOCK:
        try:
            tokens = [slot.get_token() for slot in lib.get_slots(token_present=True)]
            return [_token_info(t, module_path, tokens) for t in tokens]
        except p11e.PKCS11Error as exc:
            raise translate(exc, "listing tokens") from exc


def present_tokens(lib: Any) -> list[Any]:
    """The tokens in every slot that has one (initialized or not)."""
    with PKCS11_LOCK:
        try:
            return [slot.get_token() for slot in lib.get_slots(token_present=True)]
        except p11e.PKCS11Error as exc:
            raise translate(exc, "listing tokens") from exc


def token_uri(token: Any, module_path: str | None, siblings: list[Any] | None = None) -> Pkcs11Uri:
    """A URI that selects exactly `token` among `siblings` (the module's tokens).

    `token=` (the label, empty for an uninitialized token, as p11tool prints it) and `serial=`
    (also when it is all zeros, as tpm2-pkcs11 reports: p11tool prints it too). When those two
    do not single the token out (same label and serial on two slots), `slot-id=` is added.

    `model=` is never added: python-pkcs11 returns the model with its trailing NULs and spaces
    stripped, and p11-kit compares the URI's value padded with *spaces* against the raw
    32-byte field, so a model reported as "SW   TPM" + 8 NULs (swtpm) would not match in
    p11tool if airseal printed it without the NULs. airseal accepts p11tool's model= values
    (NULs included) when it parses a URI; see `_token_matches`.
    """
    with PKCS11_LOCK:
        label = str(token.label)
        serial = _serial_text(token.serial)
        uri = Pkcs11Uri(token=label, serial=serial or None, module_path=module_path)
        others = siblings if siblings is not None else [token]
        same = [t for t in others if _token_matches(t, uri, initialized_only=False)]
        if len(same) > 1:
            uri = dataclasses.replace(uri, slot_id=int(token.slot.slot_id))
    return uri


def _token_info(token: Any, module_path: str, siblings: list[Any] | None = None) -> TokenInfo:
    slot = token.slot
    serial = _serial_text(token.serial)
    initialized = bool(token.flags & TokenFlag.TOKEN_INITIALIZED)
    return TokenInfo(
        label=str(token.label),
        serial=serial,
        model=str(token.model),
        manufacturer=str(token.manufacturer_id),
        slot_id=int(slot.slot_id),
        slot_description=str(slot.slot_description),
        initialized=initialized,
        uri=token_uri(token, module_path, siblings),
    )


def _serial_text(serial: Any) -> str:
    if isinstance(serial, bytes):
        serial = serial.decode("ascii", "replace")
    return _norm(str(serial))


def _norm(text: str) -> str:
    """A CK_UTF8CHAR field as airseal compares it: trailing NULs and blanks dropped.

    PKCS#11 pads these fields with spaces, but some modules pad with NULs (tpm2-pkcs11's
    model "SW   TPM" + NULs); p11tool percent-encodes the NULs into its URIs (%00), and
    python-pkcs11 strips them when it reads the field. Dropping both on both sides makes a
    p11tool URI select the same token in airseal."""
    return text.rstrip("\0 \t\r\n")


def select_token(lib: Any, uri: Pkcs11Uri) -> Any:
    """The one initialized token the URI's token/slot/library attributes select.

    Raises:
        HsmError: `hsm.library_not_found` if library-* attributes do not match the module,
            `hsm.token_not_found` if no token (or more than one) matches.
    """
    _check_library(lib, uri)
    with PKCS11_LOCK:
        try:
            tokens = [slot.get_token() for slot in lib.get_slots(token_present=True)]
            matches = [t for t in tokens if _token_matches(t, uri)]
            available = [f"{t.label!s} (serial {_serial_text(t.serial)}, slot {t.slot.slot_id})" for t in tokens if t.flags & TokenFlag.TOKEN_INITIALIZED]
            candidates = [token_uri(t, None, tokens).display() for t in matches]
        except p11e.PKCS11Error as exc:
            raise translate(exc, "looking for the token") from exc
    if not matches:
        raise HsmError(
            Reason.HSM_TOKEN_NOT_FOUND,
            f"no initialized token matches {uri.token_part().display()}: check token=, serial= or"
            " slot-id= (airseal hsm tokens lists them)",
            context={"available": available or "none"},
        )
    if len(matches) > 1:
        raise HsmError(
            Reason.HSM_TOKEN_NOT_FOUND,
            "more than one token matches; add token=LABEL or serial=SERIAL to the URI",
            context={"candidates": candidates},
        )
    return matches[0]


def _check_library(lib: Any, uri: Pkcs11Uri) -> None:
    wanted: dict[str, tuple[str | None, str]] = {
        "library-manufacturer": (uri.library_manufacturer and _norm(uri.library_manufacturer), _norm(str(lib.manufacturer_id))),
        "library-description": (uri.library_description and _norm(uri.library_description), _norm(str(lib.library_description))),
    }
    if uri.library_version is not None:
        major, minor = lib.library_version
        have = f"{major}.{minor}"
        version = uri.library_version if "." in uri.library_version else f"{uri.library_version}.0"
        wanted["library-version"] = (version, have)
    for name, (want, have) in wanted.items():
        if want is not None and want != have:
            raise HsmError(
                Reason.HSM_LIBRARY_NOT_FOUND,
                f"the module's {name} is {have!r}, the URI asks for {want!r}: point module-path at"
                " the right module or drop the attribute",
            )


def _token_matches(token: Any, uri: Pkcs11Uri, *, initialized_only: bool = True) -> bool:
    if initialized_only and not token.flags & TokenFlag.TOKEN_INITIALIZED:
        return False
    slot = token.slot
    checks = (
        (uri.token, str(token.label)),
        (uri.serial, _serial_text(token.serial)),
        (uri.model, str(token.model)),
        (uri.manufacturer, str(token.manufacturer_id)),
    )
    if uri.slot_id is not None and uri.slot_id != int(slot.slot_id):
        return False
    if not all(want is None or _norm(want) == _norm(have) for want, have in checks):
        return False
    if uri.slot_description is None and uri.slot_manufacturer is None:
        return True
    slot_checks = (
        (uri.slot_description, str(slot.slot_description)),
        (uri.slot_manufacturer, str(slot.manufacturer_id)),
    )
    return all(want is None or _norm(want) == _norm(have) for want, have in slot_checks)


def token_matches(token: Any, uri: Pkcs11Uri, *, initialized_only: bool = True) -> bool:
    """Whether the URI's token attributes (label, serial, model, manufacturer, slot-*) select
    `token`; with initialized_only=False an uninitialized token can match too (hsm doctor)."""
    with PKCS11_LOCK:
        return _token_matches(token, uri, initialized_only=initialized_only)


def read_pin(uri: Pkcs11Uri, token_label: str, *, warn: Warn | None = None) -> str:
    """The user PIN: pin-source, else pin-value (with a warning), else AIRSEAL_PKCS11_PIN, else
    a prompt on the terminal.

    Raises:
        HsmError: `hsm.pin_missing` when there is no PIN and no terminal to ask on, or the
            pin-source file cannot be read.
    """
    if uri.pin_source is not None:
        return _read_pin_file(uri.pin_source)
    if uri.pin_value is not None:
        if warn is not None:
            warn("the URI carries pin-value: it may end up in shell history and process lists;"
                 " prefer pin-source=FILE or AIRSEAL_PKCS11_PIN")
        return uri.pin_value
    env_pin = os.environ.get(ENV_PIN)
    if env_pin:
        return env_pin
    if _has_terminal():
        import getpass  # only on the interactive path

        try:
            pin = getpass.getpass(f"User PIN for token {token_label!r}: ")
        except EOFError:
            pin = ""
        if pin:
            return pin
    raise HsmError(
        Reason.HSM_PIN_MISSING,
        f"token {token_label!r} needs a user PIN: set {ENV_PIN}, or add pin-source=FILE to the"
        " URI's query (a terminal prompt is used only when stdin is a terminal)",
    )


def _has_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        return False


def _read_pin_file(source: str) -> str:
    path = source
    if source.lower().startswith("file:"):
        parsed = urllib.parse.urlsplit(source)
        if parsed.netloc not in ("", "localhost"):
            raise HsmError(Reason.HSM_PIN_MISSING, f"pin-source {source} names a remote host; use a local file")
        path = urllib.parse.unquote(parsed.path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise HsmError(
            Reason.HSM_PIN_MISSING,
            f"cannot read the PIN file {path} ({exc.strerror or type(exc).__name__}): fix pin-source",
        ) from exc
    # The line ending `echo PIN > file` leaves is not part of the PIN.
    try:
        pin = data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        # The codec's message quotes the offending byte: a piece of the PIN. Say nothing of it.
        raise HsmError(Reason.HSM_PIN_MISSING, f"the PIN file {path} is not UTF-8 text") from None
    if not pin:
        raise HsmError(Reason.HSM_PIN_MISSING, f"the PIN file {path} is empty")
    return pin


def open_token(
    uri: Pkcs11Uri,
    *,
    login: bool = True,
    rw: bool = False,
    module_override: str | None = None,
    warn: Warn | None = None,
) -> OpenToken:
    """The cached session of the token the URI selects, opened (and logged in) on first use.

    Raises:
        HsmError: library_not_found, token_not_found, pin_missing, pin_incorrect, device_error.
    """
    module_path = resolve_module(uri, module_override)
    lib = load_module(module_path)
    with PKCS11_LOCK:
        token = select_token(lib, uri)
        key = (module_path, int(token.slot.slot_id))
        cached = _OPEN.get(key)
        if cached is not None and (cached.logged_in or not login) and (cached.rw or not rw):
            return cached
        need_pin = login and not (cached is not None and cached.logged_in)
        user_pin: Any = None
        if need_pin and token.flags & TokenFlag.USER_PIN_LOCKED:
            # Do not spend a login attempt (or read a PIN) on a token that refuses them all.
            raise HsmError(
                Reason.HSM_PIN_INCORRECT,
                f"token {token.label!s}: the user PIN is locked after too many failures: the"
                " token's security officer must unlock it",
                context={"token_flags": "CKF_USER_PIN_LOCKED"},
            )
        if need_pin:
            if token.flags & TokenFlag.PROTECTED_AUTHENTICATION_PATH and not _pin_configured(uri):
                user_pin = pkcs11.PROTECTED_AUTH  # PIN pad on the device
            else:
                user_pin = read_pin(uri, str(token.label), warn=warn)
        try:
            session = token.open(rw=rw or (cached is not None and cached.rw), user_pin=user_pin,
                                 attribute_mapper=attribute_mapper())
        except p11e.UserAlreadyLoggedIn:
            # Login state is per token and application: another session of ours logged in.
            session = token.open(rw=rw or (cached is not None and cached.rw), attribute_mapper=attribute_mapper())
        except p11e.PKCS11Error as exc:
            raise translate(
                exc, f"opening a session on token {token.label!s}", pin_from=pin_origin(uri) if need_pin else None
            ) from exc
        finally:
            user_pin = None  # drop our reference as soon as C_Login is done
        opened = OpenToken(module_path, token, session, logged_in=login or bool(cached and cached.logged_in), rw=rw or bool(cached and cached.rw))
        _OPEN[key] = opened
        if cached is not None:
            _close_quietly(cached.session)  # after the new one: closing the last session logs out
        return opened


def pin_origin(uri: Pkcs11Uri) -> str:
    """Where `read_pin` takes the PIN from, for a message about a rejected PIN."""
    if uri.pin_source is not None:
        return f"the pin-source file {uri.pin_source[:200]}"
    if uri.pin_value is not None:
        return "the URI's pin-value"
    if os.environ.get(ENV_PIN):
        return ENV_PIN
    return "the terminal prompt"


def _pin_configured(uri: Pkcs11Uri) -> bool:
    return uri.pin_source is not None or uri.pin_value is not None or bool(os.environ.get(ENV_PIN))


def _close_quietly(session: Any) -> None:
    try:
        session.close()
    except p11e.PKCS11Error:
        pass


def close_all() -> None:
    """Close every cached session and finalize loaded modules.

    For tests and long-lived callers: after this, the next `open_token` starts from
    C_Initialize, which is when SoftHSM re-reads SOFTHSM2_CONF.
    """
    with PKCS11_LOCK:
        modules = {entry.module_path for entry in _OPEN.values()}
        for entry in list(_OPEN.values()):
            _close_quietly(entry.session)
        _OPEN.clear()
        loaded = getattr(pkcs11, "_loaded", {})
        for path in set(loaded) | modules:
            lib = loaded.get(path)
            if lib is not None and getattr(lib, "initialized", False):
                try:
                    lib.finalize()
                except p11e.PKCS11Error:
                    pass


def iter_objects(session: Any, attrs: dict[Any, Any]) -> Iterator[Any]:
    """get_objects drained under the lock (the search is a C_FindObjects* sequence)."""
    with PKCS11_LOCK:
        try:
            found = list(session.get_objects(attrs))
        except p11e.PKCS11Error as exc:
            raise translate(exc, "searching the token") from exc
    return iter(found)


_MESSAGES: tuple[tuple[type[Exception], Reason, str], ...] = (
    (p11e.PinIncorrect, Reason.HSM_PIN_INCORRECT,
     "the token rejected the user PIN: check AIRSEAL_PKCS11_PIN or the pin-source file"
     " (repeated failures may lock the token)"),
    (p11e.PinInvalid, Reason.HSM_PIN_INCORRECT, "the token says the PIN has invalid characters"),
    (p11e.PinLenRange, Reason.HSM_PIN_INCORRECT, "the PIN has the wrong length for this token"),
    (p11e.PinLocked, Reason.HSM_PIN_INCORRECT,
     "the user PIN is locked after too many failures: the token's security officer must unlock it"),
    (p11e.PinExpired, Reason.HSM_PIN_INCORRECT, "the user PIN has expired: change it with the vendor's tool"),
    (p11e.UserPinNotInitialized, Reason.HSM_TOKEN_NOT_FOUND,
     "the token has no user PIN yet: initialize it (softhsm2-util --init-token ... --pin)"),
    (p11e.UserNotLoggedIn, Reason.HSM_PIN_MISSING, "the operation needs a logged-in session: provide a PIN"),
    (p11e.TokenNotPresent, Reason.HSM_TOKEN_NOT_FOUND, "the token was removed: reconnect it and retry"),
    (p11e.DeviceRemoved, Reason.HSM_TOKEN_NOT_FOUND, "the token was removed: reconnect it and retry"),
    (p11e.TokenNotRecognised, Reason.HSM_TOKEN_NOT_FOUND, "the module does not recognise the token"),
    (p11e.SlotIDInvalid, Reason.HSM_TOKEN_NOT_FOUND, "no such slot: check slot-id (airseal hsm tokens)"),
    (p11e.MechanismInvalid, Reason.HSM_MECHANISM_UNSUPPORTED,
     "the token or this key does not allow the signing mechanism: check the key's allowed mechanisms"
     " or choose another key type"),
    (p11e.MechanismParamInvalid, Reason.HSM_MECHANISM_UNSUPPORTED,
     "the token rejected the mechanism parameters (e.g. RSA-PSS settings)"),
    (p11e.FunctionNotSupported, Reason.HSM_MECHANISM_UNSUPPORTED, "the module does not implement this function"),
    (p11e.KeyTypeInconsistent, Reason.HSM_KEY_UNUSABLE, "the key's type does not fit the mechanism"),
    (p11e.KeySizeRange, Reason.HSM_KEY_UNUSABLE, "the token does not support this key size"),
    (p11e.TokenWriteProtected, Reason.HSM_DEVICE_ERROR, "the token is write-protected"),
    (p11e.SessionReadOnly, Reason.HSM_DEVICE_ERROR, "the session is read-only"),
    (p11e.DeviceMemory, Reason.HSM_DEVICE_ERROR, "the token is out of memory (too many objects?)"),
)


def translate(exc: Exception, action: str, *, pin_from: str | None = None) -> HsmError:
    """A python-pkcs11 exception as an HsmError saying what failed and what to do.

    `pin_from` (see `pin_origin`) names where a rejected PIN came from.
    """
    if pin_from is not None and isinstance(exc, p11e.PinIncorrect):
        return HsmError(
            Reason.HSM_PIN_INCORRECT,
            f"{action}: the token rejected the user PIN from {pin_from}: check it"
            " (repeated failures may lock the token)",
            context={"pkcs11_error": type(exc).__name__, "pin_from": pin_from},
        )
    for kind, reason, hint in _MESSAGES:
        if isinstance(exc, kind):
            return HsmError(reason, f"{action}: {hint}", context={"pkcs11_error": type(exc).__name__})
    text = str(exc)
    # python-pkcs11 has no class for CKR_KEY_FUNCTION_NOT_PERMITTED (0x68).
    if "0x68" in text:
        return HsmError(
            Reason.HSM_KEY_UNUSABLE,
            f"{action}: the key is not permitted to sign (CKA_SIGN is false): use a signing key",
        )
    return HsmError(
        Reason.HSM_DEVICE_ERROR,
        f"{action}: the token refused it with {ckr_name(exc)}: `airseal hsm doctor` shows what"
        " this token supports; otherwise check it with the vendor's tools",
        context={"pkcs11_error": ckr_name(exc)},
    )


def ckr_name(exc: BaseException) -> str:
    """python-pkcs11's exception class as the PKCS#11 return value name it stands for
    (GeneralError -> CKR_GENERAL_ERROR), for messages that name what the token said."""
    import re

    name = type(exc).__name__
    if name == "PKCS11Error":
        return "an unknown CKR_ value" + (f" ({exc})" if str(exc) else "")
    return "CKR_" + re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


__all__ = [
    "ENV_MODULE",
    "ENV_PIN",
    "OpenToken",
    "PKCS11_LOCK",
    "TokenInfo",
    "attribute_mapper",
    "ckr_name",
    "close_all",
    "present_tokens",
    "token_matches",
    "token_uri",
    "iter_objects",
    "list_tokens",
    "load_module",
    "open_token",
    "read_pin",
    "resolve_module",
    "select_token",
    "translate",
]
