"""Booking limits of a setting, as instants (pure).

`afterwardBookingLimit` is the minimum notice (earliest bookable start = now + limit) and
`forwardBookingLimit` how far ahead one may book (latest start = now + limit). MONTHS are
calendar months (Jan 31 + 1 month = Feb 28/29), counted in UTC; the others are fixed lengths.
An inactive limit imposes nothing (no notice; no horizon).
"""

from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta
from typing import Literal

Unit = Literal["HOURS", "DAYS", "WEEKS", "MONTHS"]
_FIXED = {"HOURS": timedelta(hours=1), "DAYS": timedelta(days=1), "WEEKS": timedelta(weeks=1)}


def add_limit(now: datetime, amount: int, unit: Unit) -> datetime:
    if unit == "MONTHS":
        month_index = now.month - 1 + amount
        year, month = now.year + month_index // 12, month_index % 12 + 1
        day = min(now.day, calendar.monthrange(year, month)[1])
        return now.replace(year=year, month=month, day=day)
    return now + _FIXED[unit] * amount


def earliest_start(now: datetime, amount: int, unit: Unit, active: bool) -> datetime:
    return add_limit(now, amount, unit) if active else now


def latest_start(now: datetime, amount: int, unit: Unit, active: bool) -> datetime | None:
    return add_limit(now, amount, unit) if active else None


def before_limit(at: datetime, amount: int, unit: Unit, active: bool) -> datetime:
    """A `now` before which `add_limit(now)` is certainly earlier than `at`: exact for fixed
    units; for MONTHS a calendar month is taken as 31 days (never later than the truth).

    How long an availability answer stays right as time passes: the minimum notice reaches
    the first slot at `before_limit(first_start, notice…)`, and the forward limit reaches the
    next start beyond it at `before_limit(next_start, forward…)`."""
    # in UTC: arithmetic on a zoned datetime is wall-clock arithmetic, wrong across DST
    return at.astimezone(UTC) - timedelta(seconds=lead_seconds(amount, unit, active))


def lead_seconds(amount: int, unit: Unit, active: bool) -> int:
    """`before_limit` as a number: `before_limit(at) == at - lead_seconds` (in UTC)."""
    if not active:
        return 0
    if unit == "MONTHS":
        return 31 * 86_400 * amount
    return int(_FIXED[unit].total_seconds()) * amount
