"""Opaque keyset cursors (`cursor` / `nextCursor`) and the shared `limit` rule (1..100)."""

from __future__ import annotations

import base64
import binascii

from app.core.errors import invalid

MAX_LIMIT = 100
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
