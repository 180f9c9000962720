"""When each reminder of an appointment goes out, and whether it still should. Pure: no I/O.

Offsets are absolute minutes before the start (1440 = 24 hours, also across a DST change).
SMS keeps quiet hours in the location's zone: nothing after 21:00 or before 08:00 wall-clock
time. A text that would fall due in them goes out at `LAST_SMS_TIME` on the evening the quiet
period began (the last allowed time before it, with a few minutes' margin for worker lag), so
the patient hears the night before rather than at 3 a.m. Wall-clock times are turned into
instants through the zone, so a DST change between the reminder and the visit moves nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal
from zoneinfo import ZoneInfo

import msgspec

Channel = Literal["SMS", "EMAIL"]

QUIET_START: Final = time(21, 0)
QUIET_END: Final = time(8, 0)
LAST_SMS_TIME: Final = time(20, 55)
MIN_OFFSET: Final = 30
MAX_OFFSET: Final = 20160  # 14 days
MAX_REMINDERS: Final = 3
DEFAULT_REMINDERS: Final = ((1440, "SMS"), (4320, "EMAIL"))
# appointment statuses that still get reminders
REMINDED_STATUSES: Final = frozenset({"SCHEDULED", "CONFIRMED"})


class Reminder(msgspec.Struct, frozen=True, rename="camel"):
    offset_minutes: int
    channel: Channel


class Planned(msgspec.Struct, frozen=True, kw_only=True):
    offset_minutes: int
    channel: Channel
    due_at: datetime
    status: Literal["SCHEDULED", "SKIPPED"]
    reason: str | None = None


def in_quiet_hours(at: datetime, zone: ZoneInfo) -> bool:
    local = at.astimezone(zone).time()
    return local >= QUIET_START or local < QUIET_END


def _wall(day: date, at: time, zone: ZoneInfo) -> datetime:
    # a wall time in a DST gap reads with the earlier offset; via UTC it becomes a real instant
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def due_time(start: datetime, reminder: Reminder, zone: ZoneInfo) -> datetime:
    """The instant the reminder goes out: `offset` before the start, moved out of quiet hours
    for SMS."""
    due = (start - timedelta(minutes=reminder.offset_minutes)).astimezone(UTC)
    if reminder.channel != "SMS" or not in_quiet_hours(due, zone):
        return due
    local = due.astimezone(zone)
    evening = local.date() if local.time() >= QUIET_START else local.date() - timedelta(days=1)
    return _wall(evening, LAST_SMS_TIME, zone)


def next_morning(at: datetime, zone: ZoneInfo) -> datetime:
    """The end of the quiet period `at` falls in (08:00 local)."""
    local = at.astimezone(zone)
    day = local.date() if local.time() < QUIET_END else local.date() + timedelta(days=1)
    return _wall(day, QUIET_END, zone)


def plan(
    reminders: Iterable[Reminder],
    start: datetime,
    now: datetime,
    zone: ZoneInfo,
    channels: frozenset[str],
) -> list[Planned]:
    """One entry per reminder for an appointment starting at `start`, booked (or moved) at
    `now`, for a patient reachable on `channels`: SCHEDULED, or SKIPPED with the reason (its
    time has passed, or no such contact)."""
    planned = []
    for reminder in reminders:
        due = due_time(start, reminder, zone)
        reason = (
            "no_contact"
            if reminder.channel not in channels
            else "past_at_booking"
            if due < now
            else None
        )
        planned.append(
            Planned(
                offset_minutes=reminder.offset_minutes,
                channel=reminder.channel,
                due_at=due,
                status="SKIPPED" if reason else "SCHEDULED",
                reason=reason,
            )
        )
    return planned


class Send(msgspec.Struct, frozen=True):
    pass


class Skip(msgspec.Struct, frozen=True):
    reason: str


class Postpone(msgspec.Struct, frozen=True):
    until: datetime


Decision = Send | Skip | Postpone


def at_due_time(
    *,
    channel: str,
    status: str,
    start: datetime,
    now: datetime,
    zone: ZoneInfo,
    has_contact: bool,
    opted_out: bool,
) -> Decision:
    """What to do with a reminder that fell due: the world may have changed since it was
    armed (a status, a contact, a STOP), or it may come late (workers were down)."""
    if status not in REMINDED_STATUSES:
        return Skip("appointment_" + status.lower())
    if start <= now:
        return Skip("too_late")
    if not has_contact:
        return Skip("no_contact")
    if opted_out:
        return Skip("opted_out")
    if channel == "SMS" and in_quiet_hours(now, zone):
        morning = next_morning(now, zone)
        return Postpone(morning) if morning < start else Skip("quiet_hours")
    return Send()


def parse_reminders(raw: object) -> list[Reminder]:
    """The stored jsonb list (already validated on the way in)."""
    return msgspec.convert(raw, list[Reminder])
