"""A stand-in identity provider for unit tests: RSA keys, a JWKS and signed tokens.

HTTP is answered with `responses` (the network boundary); nothing of ours is patched.
"""

import json
import time
from functools import lru_cache

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://idp.example.com"
JWKS_URI = "https://idp.example.com/jwks"
CLIENT_ID = "campaign-sso-client"


@lru_cache(maxsize=4)
def rsa_key(name: str = "main") -> rsa.RSAPrivateKey:
    # Cached: generating RSA keys is the slowest part of these tests.
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str | None) -> dict:
    data = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    data.update({"use": "sig", "alg": "RS256"})
    if kid is not None:
        data["kid"] = kid
    return data


class IdPStub:
    def __init__(self, *, issuer: str = ISSUER, client_id: str = CLIENT_ID, kid: str = "key-1"):
        self.issuer = issuer
        self.client_id = client_id
        self.kid = kid
        self.key = rsa_key("main")

    def jwks(self, *extra: dict) -> dict:
        return {"keys": [public_jwk(self.key, self.kid), *extra]}

    def claims(self, **overrides) -> dict:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.client_id,
            "sub": "user-123",
            "iat": now,
            "exp": now + 300,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def sign(self, claims, *, key=None, kid: str | None = "default", alg="RS256", headers=None):
        headers = dict(headers or {})
        kid = self.kid if kid == "default" else kid
        if kid is not None:
            headers["kid"] = kid
        return jwt.encode(claims, key or self.key, algorithm=alg, headers=headers)

    def id_token(self, **overrides) -> str:
        return self.sign(self.claims(**overrides))
