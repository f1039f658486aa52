"""A tiny OpenID Connect issuer on 127.0.0.1 for keyless-signing tests (Fulcio trusts it).

It does only what a relying party such as Fulcio (go-oidc) needs to check an ID token:

* ``GET /.well-known/openid-configuration``: the discovery document (``issuer`` is the base
  URL, ``jwks_uri``, the signing algorithm);
* ``GET /jwks``: the JSON Web Key Set holding its one public key.

Tokens are not fetched over HTTP: the test mints them directly with :meth:`OIDCIssuer.mint`
(compact JWS, ``aud`` ``sigstore`` by default), signed with the issuer's RSA 2048 key (RS256)
or its ECDSA P-256 key (ES256); the JWKS publishes both, each with its own ``kid``. There is no login, no
authorization or token endpoint behind the URLs the discovery document names (sigstore-python's
``Issuer`` wants them listed; nothing calls them here).

Standard library and ``cryptography`` only; the server runs on a thread of the test process.
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.support.loopback import QuietHandler, serve

DEFAULT_AUDIENCE = "sigstore"  # the client id Fulcio and sigstore-python expect


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64url(value: int, length: int | None = None) -> str:
    length = length or (value.bit_length() + 7) // 8
    return b64url(value.to_bytes(length, "big"))


ALGORITHMS = ("RS256", "ES256")


@dataclass
class OIDCIssuer:
    url: str
    keys: dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey]  # by JWS alg
    requests: list[str] = field(default_factory=list)  # "METHOD PATH" of every request served

    @staticmethod
    def kid(alg: str) -> str:
        return "airseal-test-" + alg.lower()

    def discovery(self) -> dict:
        return {
            "issuer": self.url,
            "jwks_uri": self.url + "/jwks",
            "authorization_endpoint": self.url + "/auth",  # listed, not served
            "token_endpoint": self.url + "/token",  # listed, not served
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": list(self.keys),
        }

    def jwks(self) -> dict:
        keys = []
        for alg, key in self.keys.items():
            public = key.public_key()
            if isinstance(public, rsa.RSAPublicKey):
                n = public.public_numbers()
                keys.append({"kty": "RSA", "use": "sig", "alg": alg, "kid": self.kid(alg),
                             "n": _int_b64url(n.n), "e": _int_b64url(n.e)})  # fmt: skip
            else:
                p = public.public_numbers()
                keys.append({"kty": "EC", "use": "sig", "alg": alg, "kid": self.kid(alg), "crv": "P-256",
                             "x": _int_b64url(p.x, 32), "y": _int_b64url(p.y, 32)})  # fmt: skip
        return {"keys": keys}

    def mint(self, subject: str, alg: str = "RS256", lifetime: int = 300, **claims: object) -> str:
        """A signed ID token for ``subject``: ``iss`` this issuer, ``aud`` sigstore, valid for
        ``lifetime`` seconds from now; ``claims`` add or replace claims (e.g. ``email``)."""
        now = int(time.time())
        body: dict[str, object] = {"iss": self.url, "sub": subject, "aud": DEFAULT_AUDIENCE,
                                   "iat": now, "nbf": now, "exp": now + lifetime}  # fmt: skip
        body.update(claims)
        header = {"alg": alg, "typ": "JWT", "kid": self.kid(alg)}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(body).encode())}".encode()
        key = self.keys[alg]
        if isinstance(key, rsa.RSAPrivateKey):
            signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")  # JWS: raw r || s, not DER
        return f"{signing_input.decode()}.{b64url(signature)}"


def _handler(issuer: OIDCIssuer) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def do_GET(self) -> None:
            issuer.requests.append(f"GET {self.path}")
            if self.path == "/.well-known/openid-configuration":
                self.send_json(issuer.discovery())
            elif self.path == "/jwks":
                self.send_json(issuer.jwks())
            else:
                self.send_error(404)

    return Handler


@contextlib.contextmanager
def oidc_issuer() -> Iterator[OIDCIssuer]:
    """Serve an issuer at ``http://127.0.0.1:PORT`` (a free port) until the block ends."""
    keys: dict[str, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey] = {
        "RS256": rsa.generate_private_key(65537, 2048),
        "ES256": ec.generate_private_key(ec.SECP256R1()),
    }
    issuer = OIDCIssuer("", keys)
    with serve(_handler(issuer), "oidc-issuer") as base_url:
        issuer.url = base_url
        yield issuer
