"""A throw-away CDS Client identity for `derm3r demo`: an ES384 key generated per run, registered
as the only trusted issuer, signing one JWT per request. The demo therefore goes through the same
JWT verification as a production call (signature, audience, expiry, jti replay check)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

DEMO_ISSUER = "https://ehr.demo.derm3r.invalid"  # .invalid: can never be a real client's issuer
TOKEN_LIFETIME_SECONDS = 300  # the spec's example lifetime; well under the verifier's maximum


@dataclass
class DemoIssuer:
    issuer: str = DEMO_ISSUER
    kid: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    _key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP384R1()), repr=False)

    def public_jwk(self) -> dict:
        jwk = json.loads(ECAlgorithm.to_jwk(self._key.public_key()))
        return {**jwk, "kid": self.kid, "alg": "ES384", "use": "sig"}

    def write_trust_file(self, directory: Path) -> Path:
        """The trust file (`DERM3R_TRUSTED_ISSUERS` format) naming only this issuer, with its JWK
        Set inline (no JWKS URL to serve)."""
        path = directory / "demo-trusted-issuers.json"
        path.write_text(json.dumps({self.issuer: {"jwks": {"keys": [self.public_jwk()]}, "algorithms": ["ES384"]}}, indent=2))
        return path

    def write_private_key(self, directory: Path) -> Path:
        """PEM of the signing key (0600), so that `derm3r demo --serve` users can mint their own
        client JWTs (`iss` = this issuer, header `kid` = `self.kid`, alg ES384)."""
        from cryptography.hazmat.primitives import serialization

        path = directory / "demo-issuer-key.pem"
        pem = self._key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        path.touch(mode=0o600)
        path.write_bytes(pem)
        return path

    def token(self, audience: str, *, subject: str = "derm3r-demo-ehr") -> str:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "exp": now + TOKEN_LIFETIME_SECONDS,
            "jti": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self._key, algorithm="ES384", headers={"kid": self.kid, "typ": "JWT"})

    def authorization(self, audience: str) -> str:
        return f"Bearer {self.token(audience)}"
