"""Opaque keyset cursors (`cursor` / `nextCursor`) and the shared `limit` rule (1..100)."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta

import msgspec

from app.core.errors import invalid

MAX_LIMIT = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
DEFAULT_LIMIT = 50


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"id:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The id after which the next page starts (0 for the first page)."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        if prefix != "id":
            raise ValueError
        last_id = int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid("cursor", "not a cursor returned by this API") from None
    if not 0 <= last_id <= 2**63 - 1:  # a bigint id
        raise invalid("cursor", "not a cursor returned by this API")
    return last_id


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid("limit", f"must be between 1 and {MAX_LIMIT}")
    return limit


def page(rows: list, limit: int) -> tuple[list, str | None]:
    """Rows fetched with LIMIT limit+1 -> (the page, next cursor or None)."""
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, encode_cursor(rows[-1]["id"])
    return rows, None


def encode_sorted_cursor(order: str, value: datetime | str, last_id: int) -> str:
    """A cursor for a list ordered by (`value`, id) under `order` (e.g. "START_TIME:ASC"):
    a time (kept to the microsecond, as PostgreSQL keeps it) or a text such as a name."""
    key: int | str = (value - _EPOCH) // _MICROSECOND if isinstance(value, datetime) else value
    raw = msgspec.json.encode([order, key, last_id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_sorted_cursor(cursor: str | None, order: str) -> tuple[datetime | str, int] | None:
    """(value, id) after which the next page starts, or None for the first page; 400 for a
    cursor of another order or not ours."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        head, key, last_id = msgspec.json.decode(raw, type=tuple[str, int | str, int])
        if head != order or not 0 <= last_id <= 2**63 - 1:
            raise ValueError
        value = _EPOCH + key * _MICROSECOND if isinstance(key, int) else key
    except (ValueError, OverflowError, binascii.Error, msgspec.DecodeError):
        raise invalid("cursor", "not a cursor returned by this API for this sort order") from None
    return value, last_id
