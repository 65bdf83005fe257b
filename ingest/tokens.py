"""Player tokens: JWTs signed by the studio's own auth service, each naming one player.

A game client sends `Authorization: Bearer <token>`; the service verifies the signature
against a configured public key (PEM) or JWKS file, the algorithm (only those configured:
never `none`, never an HMAC with the public key as its secret), expiry, audience and issuer.
Its `sub` is the only player the request may send events for.
"""

from __future__ import annotations

import json
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from ingest.errors import ApiError

REQUIRED_CLAIMS = ["exp", "sub", "aud", "iss"]


def fits(algorithm: str, key) -> bool:
    """Whether a key can verify `algorithm`: RSA keys RS*/PS*, EC keys ES*. A token whose
    algorithm the key cannot verify is then refused as an algorithm not allowed (401)."""
    if isinstance(key, rsa.RSAPublicKey):
        return algorithm.startswith(("RS", "PS"))
    if isinstance(key, ec.EllipticCurvePublicKey):
        return algorithm.startswith("ES")
    return True


def looks_like_a_token(credential: str) -> bool:
    """A JWT is three base64url parts joined by dots; an API key is not."""
    return credential.count(".") == 2


class PlayerTokens:
    """Verifies player tokens with one public key or the keys of a JWKS file."""

    def __init__(
        self,
        *,
        audience: str,
        issuer: str,
        algorithms: tuple[str, ...],
        public_key_pem: str | None = None,
        jwks: dict | None = None,
    ):
        self.audience, self.issuer, self.algorithms = audience, issuer, list(algorithms)
        # Loaded once (PyJWT would parse a PEM string again on every request).
        self.public_key = (
            serialization.load_pem_public_key(public_key_pem.encode()) if public_key_pem else None
        )
        self.jwks = jwt.PyJWKSet.from_dict(jwks) if jwks else None

    @classmethod
    def from_settings(cls, settings) -> PlayerTokens | None:
        """The verifier the settings configure, or None when player tokens are off."""
        if not (settings.player_token_public_key_file or settings.player_token_jwks_file):
            return None
        pem = jwks = None
        if settings.player_token_public_key_file:
            pem = Path(settings.player_token_public_key_file).read_text()
        if settings.player_token_jwks_file:
            jwks = json.loads(Path(settings.player_token_jwks_file).read_text())
        return cls(
            audience=settings.player_token_audience,
            issuer=settings.player_token_issuer,
            algorithms=settings.player_token_algorithms,
            public_key_pem=pem,
            jwks=jwks,
        )

    def player(self, token: str) -> str:
        """The player a valid token names (`sub`); ApiError 401 saying what is wrong."""
        try:
            key = self._key(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg for alg in self.algorithms if fits(alg, key)],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": REQUIRED_CLAIMS},
            )
        except (jwt.PyJWTError, KeyError) as error:
            raise ApiError(
                401,
                f"the player token is not valid: {error}",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            ) from None
        return str(claims["sub"])

    def _key(self, token: str):
        if self.jwks is None:
            return self.public_key
        kid = jwt.get_unverified_header(token).get("kid")
        return self.jwks[kid].key
