"""Access tokens: short-lived HS256 JWTs signed with a key derived from the server secret."""

from __future__ import annotations

import secrets
import time

import jwt
import msgspec

from app.core.secrets import derive_key

_ALGORITHM = "HS256"
_AUDIENCE = "slotproof-partner-api"


class AccessClaims(msgspec.Struct, frozen=True):
    client_id: str
    scopes: frozenset[str]
    expires_at: int


class InvalidToken(Exception):
    pass


def mint(secret_key: str, issuer: str, client_id: str, scopes: list[str], ttl: int) -> str:
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": _AUDIENCE,
        "sub": client_id,
        "scope": " ".join(scopes),
        "iat": now,
        "exp": now + ttl,
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, derive_key(secret_key, "jwt-access"), algorithm=_ALGORITHM)


def verify(secret_key: str, issuer: str, token: str) -> AccessClaims:
    try:
        claims = jwt.decode(
            token,
            derive_key(secret_key, "jwt-access"),
            algorithms=[_ALGORITHM],
            audience=_AUDIENCE,
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "aud", "iss"]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(type(exc).__name__) from None
    scope = claims.get("scope", "")
    if not isinstance(scope, str) or not isinstance(claims["sub"], str):
        raise InvalidToken("malformed claims")
    return AccessClaims(claims["sub"], frozenset(scope.split()), int(claims["exp"]))
