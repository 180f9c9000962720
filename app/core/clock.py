"""The one source of "now" for request handling; tests replace `now` to move time."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
