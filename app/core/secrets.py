"""Random identifiers and secret hashing.

Client secrets are hashed with scrypt (salted, memory-hard). High-entropy tokens we mint
ourselves (identity tokens, manage links) are stored as HMAC-SHA256 under the server key:
fast lookups by hash, and useless to anyone without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32}


def random_token(prefix: str = "", nbytes: int = 24) -> str:
    return prefix + secrets.token_urlsafe(nbytes)


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${b64(salt).decode()}${b64(digest).decode()}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
    except ValueError:
        return False
    actual = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)
    return hmac.compare_digest(actual, expected)


def keyed_hash(key: str, purpose: str, value: str) -> str:
    """HMAC-SHA256(key, purpose || value) as hex; `purpose` keeps uses apart."""
    return hmac.new(key.encode(), f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


def derive_key(key: str, purpose: str) -> bytes:
    return hmac.new(key.encode(), f"derive\x00{purpose}".encode(), hashlib.sha256).digest()
