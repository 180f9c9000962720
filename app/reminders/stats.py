"""Reminder analytics, shaped (pure): per day of the appointment's start (the account's zone)
or per setting, how many appointments, reminders sent, confirmations, and no-shows with and
without a confirmation. No PHI: counts and ratios only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Final

import msgspec

GROUP_BY: Final = ("day", "setting")


class Aggregate(msgspec.Struct, frozen=True, kw_only=True):
    key: str | int | None
    appointments: int = 0
    reminders_sent: int = 0
    confirmed: int = 0
    no_shows: int = 0
    no_shows_confirmed: int = 0


class ReminderGroup(msgspec.Struct, rename="camel", kw_only=True):
    """`confirmedRate` = confirmed / appointments; `noShowRateConfirmed` = no-shows among the
    confirmed; `noShowRateUnconfirmed` = no-shows among the others (null over 0)."""

    key: str | int | None
    appointments: int
    reminders_sent: int
    confirmed: int
    confirmed_rate: float | None
    no_shows: int
    no_show_rate_confirmed: float | None
    no_show_rate_unconfirmed: float | None


class ReminderStats(msgspec.Struct, rename="camel", kw_only=True):
    start: datetime = msgspec.field(name="from")
    end: datetime = msgspec.field(name="to")
    time_zone: str
    group_by: str
    self_scheduling_setting_id: int | None
    groups: list[ReminderGroup]


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def shape_group(agg: Aggregate) -> ReminderGroup:
    unconfirmed = agg.appointments - agg.confirmed
    return ReminderGroup(
        key=agg.key,
        appointments=agg.appointments,
        reminders_sent=agg.reminders_sent,
        confirmed=agg.confirmed,
        confirmed_rate=_ratio(agg.confirmed, agg.appointments),
        no_shows=agg.no_shows,
        no_show_rate_confirmed=_ratio(agg.no_shows_confirmed, agg.confirmed),
        no_show_rate_unconfirmed=_ratio(agg.no_shows - agg.no_shows_confirmed, unconfirmed),
    )


def shape(aggregates: Sequence[Aggregate], days: Sequence[date] | None) -> list[ReminderGroup]:
    """Groups in key order; with `days`, every day of the range, empty ones as zeros."""
    if days is None:
        return [shape_group(a) for a in aggregates]
    found = {a.key: a for a in aggregates}
    return [shape_group(found.get(d.isoformat(), Aggregate(key=d.isoformat()))) for d in days]
