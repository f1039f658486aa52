"""airseal's offline Sigstore verifier: the library API.

Everything a program needs to verify Sigstore evidence without a network::

    from verifier import (ArtifactInput, Identity, VerificationPolicy, load_bundle,
                          load_trusted_root, verify_bundle)

    bundle = load_bundle(open("app.tar.gz.sigstore.json", "rb").read())
    root = load_trusted_root(open("trusted_root.json", "rb").read())
    policy = VerificationPolicy(identity=Identity(san="https://github.com/org/repo/...",
                                                  issuer="https://token.actions.githubusercontent.com"))
    result = verify_bundle(bundle, root, ArtifactInput(path="app.tar.gz"), policy)
    print(result.signer.describe())

`verify_bundle` returns a `VerificationResult` or raises a `VerificationError` (or another
`AirsealError`) carrying a stable `Reason` code; the algorithm is docs/verification.md. Names
not listed in `__all__` (everything under `verifier._internal` and `verifier.cli`) are private.

Imports are lazy: `import verifier` (which `hsm` does, for its errors) loads nothing but this
file, so it never pulls in click, tuf or any HTTP library, and costs nothing at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # verification
    "verify_bundle": "verifier._internal.verify",
    "load_bundle": "verifier._internal.bundle.parse",
    "load_trusted_root": "verifier._internal.trustroot.load",
    "Bundle": "verifier._internal.bundle.model",
    "TrustedRoot": "verifier._internal.trustroot.model",
    # policy
    "VerificationPolicy": "verifier._internal.policy",
    "TrustedKey": "verifier._internal.policy",
    "load_pem_public_key": "verifier._internal.policy",
    "Identity": "verifier._internal.identity",
    "ArtifactInput": "verifier._internal.artifact",
    "parse_artifact_argument": "verifier._internal.artifact",
    "Limits": "verifier._internal.limits",
    "DEFAULT_LIMITS": "verifier._internal.limits",
    # results
    "VerificationResult": "verifier._internal.result",
    "VerifiedSigner": "verifier._internal.result",
    "TimeSource": "verifier._internal.result",
    "TlogEvidence": "verifier._internal.result",
    "Threshold": "verifier._internal.result",
    # errors
    "AirsealError": "verifier.errors",
    "CheckResult": "verifier.errors",
    "HsmError": "verifier.errors",
    "InputError": "verifier.errors",
    "Reason": "verifier.errors",
    "ServiceError": "verifier.errors",
    "TrustRootError": "verifier.errors",
    "VerificationError": "verifier.errors",
}

__all__ = [
    "DEFAULT_LIMITS",
    "AirsealError",
    "ArtifactInput",
    "Bundle",
    "CheckResult",
    "HsmError",
    "Identity",
    "InputError",
    "Limits",
    "Reason",
    "ServiceError",
    "Threshold",
    "TimeSource",
    "TlogEvidence",
    "TrustRootError",
    "TrustedKey",
    "TrustedRoot",
    "VerificationError",
    "VerificationPolicy",
    "VerificationResult",
    "VerifiedSigner",
    "__version__",
    "load_bundle",
    "load_pem_public_key",
    "load_trusted_root",
    "parse_artifact_argument",
    "verify_bundle",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'verifier' has no attribute {name!r}")
    # __import__ rather than importlib: `import verifier` stays free of the importlib package.
    value = getattr(__import__(module, fromlist=[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # static type checkers see the real names
    from verifier._internal.artifact import ArtifactInput, parse_artifact_argument
    from verifier._internal.bundle.model import Bundle
    from verifier._internal.bundle.parse import load_bundle
    from verifier._internal.identity import Identity
    from verifier._internal.limits import DEFAULT_LIMITS, Limits
    from verifier._internal.policy import TrustedKey, VerificationPolicy, load_pem_public_key
    from verifier._internal.result import Threshold, TimeSource, TlogEvidence, VerificationResult, VerifiedSigner
    from verifier._internal.trustroot.load import load_trusted_root
    from verifier._internal.trustroot.model import TrustedRoot
    from verifier._internal.verify import verify_bundle
    from verifier.errors import (
        AirsealError,
        CheckResult,
        HsmError,
        InputError,
        Reason,
        ServiceError,
        TrustRootError,
        VerificationError,
    )
