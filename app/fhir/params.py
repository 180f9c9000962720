"""Search and operation parameter values (pure): dates with FHIR prefixes, references, tokens.

Every bad value is a 400 `validation_failed` naming the parameter, never a 500."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.core.errors import invalid
from app.core.instants import OUT_OF_RANGE, check_instant, in_range
from app.fhir import ids

_PREFIX = re.compile(r"^(eq|gt|lt|ge|le)?(.+)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TICK = timedelta(microseconds=1)


class Window:
    """A half-open range of instants [low, high); None is unbounded."""

    def __init__(self, low: datetime | None = None, high: datetime | None = None) -> None:
        self.low, self.high = low, high

    def narrow(self, low: datetime | None, high: datetime | None) -> None:
        if low is not None and (self.low is None or low > self.low):
            self.low = low
        if high is not None and (self.high is None or high < self.high):
            self.high = high


def instant(raw: str, field: str, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The range a FHIR date or dateTime value covers: a date is its whole day in `zone`; a
    time must carry an offset and covers one microsecond."""
    raw = raw.strip()
    try:
        if _DATE.match(raw):
            day = date.fromisoformat(raw)
            if not in_range(day):
                raise invalid(field, OUT_OF_RANGE)
            start = datetime.combine(day, time(), zone)
            return start, datetime.combine(day + timedelta(days=1), time(), zone)
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise invalid(
            field, "must be a date or a time with an offset, e.g. 2026-03-09T09:00:00-04:00"
        ) from None
    if value.utcoffset() is None:
        raise invalid(field, "must include a UTC offset, e.g. 2026-03-09T09:00:00-04:00")
    return check_instant(value, field), value + _TICK


def date_window(values: list[str], field: str, zone: ZoneInfo) -> Window:
    """`date=ge2026-03-09&date=lt2026-03-16` -> the instants both allow."""
    window = Window()
    for raw in values:
        match = _PREFIX.match(raw.strip())
        if not match:
            raise invalid(
                field, "must be a date or time, optionally prefixed by eq, gt, ge, lt or le"
            )
        prefix, value = match[1] or "eq", match[2]
        first, after = instant(value, field, zone)
        low, high = {
            "eq": (first, after),
            "ge": (first, None),
            "gt": (after, None),
            "lt": (None, first),
            "le": (None, after),
        }[prefix]
        window.narrow(low, high)
    return window


def reference(raw: str, resource_type: str, field: str) -> int:
    """`Patient/5` (or `5`, or an absolute URL ending so) -> 5; anything else 400."""
    value = ids.reference_id(raw, resource_type)
    number = ids.number(value) if value is not None else None
    if number is None:
        raise invalid(field, f"must reference a {resource_type}, e.g. {resource_type}/7")
    return number


def token(raw: str) -> tuple[str | None, str]:
    """`system|code` -> (system, code); `code` -> (None, code)."""
    system, bar, code = raw.partition("|")
    return (system or None, code) if bar else (None, raw)


def count(raw: str | None, default: int, maximum: int) -> int:
    if raw is None:
        return default
    if not raw.isdigit() or not 0 <= int(raw) <= maximum:
        raise invalid("_count", f"must be a whole number from 0 to {maximum}")
    return int(raw)


def offset(raw: str | None) -> int:
    if raw is None:
        return 0
    if not raw.isdigit() or int(raw) > 1_000_000:
        raise invalid("_offset", "must be a whole number from 0 to 1000000")
    return int(raw)
