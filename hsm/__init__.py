"""PKCS#11 signing for airseal: keys stay on the token.

`hsm.uri` is pure (no pkcs11 import). Everything else talks to a token through python-pkcs11,
behind `hsm.token`'s one process-wide lock, and reports failures as `verifier.errors.HsmError`.
Importing this package is cheap: submodules load pkcs11 only when they are imported.
"""
