"""The instants this service accepts from callers.

`datetime` reaches from year 1 to 9999, but arithmetic near those ends (a day added, a zone
offset applied, a search window widened) overflows, and PostgreSQL cannot store every such
value. No appointment, availability search or report needs them: every time a caller sends is
checked to lie in [EARLIEST, LATEST) and is otherwise a 400 naming the field.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from app.core.errors import invalid

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
OUT_OF_RANGE = "must lie between the years 1900 and 2199"


def in_range(value: datetime | date) -> bool:
    """Aware datetimes are compared as instants (no offset arithmetic that could overflow);
    dates by their year."""
    if isinstance(value, datetime):
        return EARLIEST <= value < LATEST
    return EARLIEST.year <= value.year < LATEST.year


def check_instant(value: datetime, field: str) -> datetime:
    """`value` (aware), or 400 validation_failed naming `field`."""
    if not in_range(value):
        raise invalid(field, OUT_OF_RANGE)
    return value
