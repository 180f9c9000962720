"""The self-scheduling funnel, pure: request ranges, shaping the SQL aggregates into the
response, and the CSV rows of both analytics calls. Imports nothing from the app.

An attempt belongs to the group of its creation (day in the account's zone, setting or
location). For each funnel step, `reached` counts the attempts that recorded that step or any
later one: the funnel is monotone by construction (every `reached` ≤ the one before, every
conversion ≤ 1, every `dropOff` ≥ 0), so a partner flow that never asked for availability or a
proof verified before its attempt existed still counts through those steps. Times use each
step's first occurrence in an attempt:

* `secondsFromPrevious`: first(step) - first(previous funnel step), over the attempts that have
  both with the step not earlier than the previous one (the partner flow verifies before it
  selects a slot, so the funnel order is not every attempt's order);
* `secondsToBooking`: first(BOOKED) - first(step), over the attempts that booked.

Conversions are ratios of `reached` (None when the denominator is 0).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from app.core.instants import OUT_OF_RANGE, in_range

FUNNEL_STEPS = (
    "STARTED",
    "AVAILABILITY_VIEWED",
    "SLOT_SELECTED",
    "CODE_SENT",
    "VERIFIED",
    "PATIENT_SET",
    "BOOKED",
)
ABANDONED = "ABANDONED"
GROUP_BY = ("day", "setting", "location")
MAX_RANGE_DAYS = 400


class RangeError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# --- wire shapes --------------------------------------------------------------------------------


class _Wire(msgspec.Struct, rename="camel", kw_only=True):
    pass


class Stat(_Wire):
    median: float
    p90: float


class FunnelStep(_Wire):
    step: str
    reached: int
    conversion_from_previous: float | None
    conversion_from_start: float | None
    drop_off: int | None
    drop_off_rate: float | None
    seconds_from_previous: Stat | None
    seconds_to_booking: Stat | None


class FunnelGroup(_Wire):
    key: str | int | None
    attempts: int
    abandoned: int
    steps: list[FunnelStep]


class Funnel(_Wire):
    start: datetime = msgspec.field(name="from")
    end: datetime = msgspec.field(name="to")
    time_zone: str
    group_by: str
    self_scheduling_setting_id: int | None
    groups: list[FunnelGroup]


# --- what the SQL returns, per group ---------------------------------------------------------


class GroupAggregate(msgspec.Struct, frozen=True, kw_only=True):
    """One group's aggregates: `reached[i]` for FUNNEL_STEPS[i]; `from_previous[i]` the
    (median, p90) seconds from FUNNEL_STEPS[i-1] to FUNNEL_STEPS[i] (index 0 unused);
    `to_booking[i]` from FUNNEL_STEPS[i] to BOOKED (the last index unused)."""

    key: str | int | None
    attempts: int
    abandoned: int
    reached: tuple[int, ...]
    from_previous: tuple[tuple[float, float] | None, ...]
    to_booking: tuple[tuple[float, float] | None, ...]


def empty_aggregate(key: str | int | None) -> GroupAggregate:
    n = len(FUNNEL_STEPS)
    return GroupAggregate(
        key=key,
        attempts=0,
        abandoned=0,
        reached=(0,) * n,
        from_previous=(None,) * n,
        to_booking=(None,) * n,
    )


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _stat(pair: tuple[float, float] | None) -> Stat | None:
    if pair is None or pair[0] is None or pair[1] is None:
        return None
    median, p90 = float(pair[0]), float(pair[1])
    if not (math.isfinite(median) and math.isfinite(p90)):
        return None
    return Stat(median=round(median, 3), p90=round(p90, 3))


def shape_group(agg: GroupAggregate) -> FunnelGroup:
    steps: list[FunnelStep] = []
    start = agg.reached[0]
    last = len(FUNNEL_STEPS) - 1
    for i, name in enumerate(FUNNEL_STEPS):
        reached = agg.reached[i]
        previous = agg.reached[i - 1] if i else None
        conversion = _ratio(reached, previous) if previous is not None else None
        steps.append(
            FunnelStep(
                step=name,
                reached=reached,
                conversion_from_previous=conversion,
                conversion_from_start=_ratio(reached, start),
                drop_off=None if previous is None else previous - reached,
                drop_off_rate=None if conversion is None else round(1 - conversion, 4),
                seconds_from_previous=_stat(agg.from_previous[i]) if i else None,
                seconds_to_booking=_stat(agg.to_booking[i]) if i < last else None,
            )
        )
    return FunnelGroup(key=agg.key, attempts=agg.attempts, abandoned=agg.abandoned, steps=steps)


def local_days(start: datetime, end: datetime, zone: ZoneInfo) -> list[date]:
    """Every local date that [start, end) touches in `zone`."""
    first = start.astimezone(zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(zone).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def day_starts(days: Sequence[date], zone: ZoneInfo) -> list[datetime]:
    """The instants at which days[1:] begin in `zone` (DST-proof: zoneinfo resolves each)."""
    return [datetime.combine(d, time(0), tzinfo=zone) for d in days[1:]]


def shape(
    aggregates: Iterable[GroupAggregate], group_by: str, days: Sequence[date] | None = None
) -> list[FunnelGroup]:
    """Groups in key order; grouped by day, every day of the range appears (empty days as
    zeros), keyed `YYYY-MM-DD`."""
    by_key = {agg.key: agg for agg in aggregates}
    if group_by == "day" and days is not None:
        keys: list[Any] = [d.isoformat() for d in days]
        extra = sorted(k for k in by_key if k not in set(keys))  # outside the range: none
        ordered = [by_key.get(k) or empty_aggregate(k) for k in [*keys, *extra]]
    else:
        ordered = sorted(by_key.values(), key=lambda a: (a.key is None, a.key or 0))
    return [shape_group(agg) for agg in ordered]


# --- request ranges --------------------------------------------------------------------------


def parse_bound(raw: str, field: str, zone: ZoneInfo, *, end: bool) -> datetime:
    """An instant with an offset, or a date `YYYY-MM-DD` in the account's zone: its midnight
    for `from`, the next midnight for `to` (a `to` date is inclusive)."""
    text = raw.strip()
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise RangeError(field, "must be a date YYYY-MM-DD or a time with an offset") from None
        if not in_range(day):
            raise RangeError(field, OUT_OF_RANGE)
        if end:
            day += timedelta(days=1)
        return datetime.combine(day, time(0), tzinfo=zone)
    if len(text) > 6 and text[-6] == " " and text[-5:-3].isdigit():
        text = f"{text[:-6]}+{text[-5:]}"  # an unencoded "+" arrives as a space
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise RangeError(
            field, "must be a date YYYY-MM-DD or an ISO 8601 time such as 2026-03-09T09:00:00-04:00"
        ) from None
    if value.utcoffset() is None:
        raise RangeError(field, "must include a UTC offset, e.g. 2026-03-09T09:00:00-04:00")
    if not in_range(value):
        raise RangeError(field, OUT_OF_RANGE)
    return value


def check_range(start: datetime, end: datetime, max_days: int = MAX_RANGE_DAYS) -> None:
    if end <= start:
        raise RangeError("to", "must be after from")
    if end - start > timedelta(days=max_days):
        raise RangeError("to", f"the range may span at most {max_days} days")


# --- CSV -------------------------------------------------------------------------------------

FUNNEL_CSV_HEADER = (
    "groupBy",
    "key",
    "attempts",
    "step",
    "reached",
    "conversionFromPrevious",
    "conversionFromStart",
    "dropOff",
    "dropOffRate",
    "medianSecondsFromPrevious",
    "p90SecondsFromPrevious",
    "medianSecondsToBooking",
    "p90SecondsToBooking",
)

ATTEMPT_CSV_HEADER = (
    "attemptId",
    "selfSchedulingSettingId",
    "locationId",
    "source",
    "status",
    "isVerified",
    "createdAt",
    "updatedAt",
    "step",
    "at",
)


def cell(value: Any) -> str:
    """The CSV text of a value: empty for None, lower-case booleans, ISO times as in JSON."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return msgspec.json.encode(value).decode().strip('"')
    return str(value)


def funnel_csv_rows(funnel: Funnel) -> Iterator[list[str]]:
    """One row per group and step, then one ABANDONED row per group (count in `reached`)."""
    for group in funnel.groups:
        for s in group.steps:
            frm, to_booking = s.seconds_from_previous, s.seconds_to_booking
            yield [
                cell(v)
                for v in (
                    funnel.group_by,
                    group.key,
                    group.attempts,
                    s.step,
                    s.reached,
                    s.conversion_from_previous,
                    s.conversion_from_start,
                    s.drop_off,
                    s.drop_off_rate,
                    frm and frm.median,
                    frm and frm.p90,
                    to_booking and to_booking.median,
                    to_booking and to_booking.p90,
                )
            ]
        yield [
            cell(v)
            for v in (funnel.group_by, group.key, group.attempts, ABANDONED, group.abandoned)
        ] + [""] * (len(FUNNEL_CSV_HEADER) - 5)


def attempt_csv_rows(attempt: Any) -> Iterator[list[str]]:
    """One row per recorded step of an attempt (the attempt's columns repeated)."""
    head = [
        cell(v)
        for v in (
            attempt.id,
            attempt.self_scheduling_setting_id,
            attempt.location_id,
            attempt.source,
            attempt.status,
            attempt.is_verified,
            attempt.created_at,
            attempt.updated_at,
        )
    ]
    for step in attempt.steps:
        yield [*head, step.step, cell(step.at)]
