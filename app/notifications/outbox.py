"""`enqueue`: queue one message in the caller's transaction (the transactional outbox).

The row commits or rolls back with the change that caused it; the worker delivers it after
commit. Bad arguments are programming errors and raise ValueError before anything is written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

import asyncpg
import msgspec

from app.notifications import store
from app.notifications.base import CHANNELS
from app.notifications.messages import check_params, normalize_locale

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_RECIPIENT = 320


class Queued(msgspec.Struct, frozen=True, kw_only=True):
    """One message of `enqueue_many`."""

    account_id: int
    channel: Literal["SMS", "EMAIL"]
    to: str
    purpose: str
    params: dict[str, str]
    locale: str = "en"


def _in_transaction(conn: asyncpg.Connection) -> None:
    in_transaction = getattr(conn, "is_in_transaction", None)
    if in_transaction is None or not in_transaction():
        raise RuntimeError("enqueue must run on a connection inside the caller's transaction")


def _recipient(channel: str, to: str) -> str:
    if channel not in CHANNELS:
        raise ValueError(f"channel must be one of {', '.join(CHANNELS)}")
    recipient = to.strip() if isinstance(to, str) else ""
    if not 1 <= len(recipient) <= MAX_RECIPIENT or _CONTROL.search(recipient):
        raise ValueError("recipient is empty, too long or contains control characters")
    return recipient


async def enqueue_many(conn: asyncpg.Connection, messages: Sequence[Queued]) -> list[int]:
    """`enqueue` for many messages in one statement (the reminder release's batches); the
    ids in the order given."""
    _in_transaction(conn)
    rows = [
        (
            m.account_id,
            m.channel,
            _recipient(m.channel, m.to),
            m.purpose,
            normalize_locale(m.locale),
            check_params(m.purpose, m.params),
        )
        for m in messages
    ]
    return await store.insert_many(conn, rows) if rows else []


async def enqueue(
    conn: asyncpg.Connection,
    *,
    account_id: int,
    channel: Literal["SMS", "EMAIL"],
    to: str,
    purpose: str,
    params: dict[str, str],
    locale: str = "en",
) -> int:
    """Insert a QUEUED notification; returns its id. `to` is an E.164 number for SMS or an
    address for EMAIL, already validated by the caller. `conn` must be inside a transaction."""
    _in_transaction(conn)
    return await store.insert(
        conn,
        account_id=account_id,
        channel=channel,
        recipient=_recipient(channel, to),
        purpose=purpose,
        locale=normalize_locale(locale),
        params=check_params(purpose, params),
    )


def mask_recipient(channel: str, recipient: str) -> str:
    """For API responses and logs that must show whom: '+1*******4567', 'j***@example.com'."""
    if channel == "EMAIL":
        local, at, domain = recipient.rpartition("@")
        if not at:
            return "***"
        return f"{local[:1]}***@{domain}"
    digits = recipient[-4:] if len(recipient) > 6 else ""
    prefix = recipient[:2] if recipient.startswith("+") else ""
    return f"{prefix}{'*' * max(3, len(recipient) - len(prefix) - len(digits))}{digits}"
