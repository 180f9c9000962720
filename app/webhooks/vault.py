"""Endpoint signing secrets at rest: AES-256-GCM under a key derived from SLOTPROOF_SECRET_KEY.

A webhook secret is a signing key, not a password: we must be able to sign with it, so it
cannot be hashed. It is sealed (encrypted and authenticated, bound to its account) so a copy of
the database alone does not reveal it, and it is never returned after the create call.
Changing SLOTPROOF_SECRET_KEY makes existing secrets unusable: their deliveries fail with
`signing key unavailable` and the endpoints must be created again.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.core.secrets import derive_key

_VERSION = "v1"
_PURPOSE = "webhook-endpoint-secret"
_NONCE_BYTES = 12


class SealError(ValueError):
    """A sealed secret that this server key cannot open."""


def _aad(account_id: int) -> bytes:
    return f"{_PURPOSE}:{account_id}".encode()


def seal(server_key: str, account_id: int, secret: str) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    sealed = AESGCM(derive_key(server_key, _PURPOSE)).encrypt(
        nonce, secret.encode(), _aad(account_id)
    )
    return f"{_VERSION}:{base64.b64encode(nonce + sealed).decode()}"


def unseal(server_key: str, account_id: int, stored: str) -> str:
    version, _, encoded = stored.partition(":")
    if version != _VERSION:
        raise SealError("unknown sealed-secret version")
    try:
        raw = base64.b64decode(encoded, validate=True)
        nonce, sealed = raw[:_NONCE_BYTES], raw[_NONCE_BYTES:]
        plain = AESGCM(derive_key(server_key, _PURPOSE)).decrypt(nonce, sealed, _aad(account_id))
    except (binascii.Error, ValueError, InvalidTag):
        raise SealError("the sealed secret does not open with this server key") from None
    return plain.decode()
