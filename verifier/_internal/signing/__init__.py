"""Signing: what `sign` and `attest` do between a token key and a written bundle.

`sign.py` hashes artifacts and asks a `Signer` (a token key, `hsm.signer.HsmSigner`) for
signatures; `timestamp_client.py` asks an RFC 3161 authority for a timestamp. Bundles are built
by `verifier._internal.bundle.build` and written by `verifier._internal.atomic`. Nothing here
imports pkcs11: the CLI passes the signer in.
"""
