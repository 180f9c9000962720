"""Unit tests of the pure availability engine (app/availability/engine.py).

Explicit cases assert exact expected slots (with UTC offsets) around the 2026 DST changes;
hypothesis compares the engine with a deliberately naive reference model and checks the
invariants of every offered slot.
"""

from __future__ import annotations

import os
import time as time_module
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.availability import engine
from app.availability.engine import (
    OVERRIDE,
    RULE,
    Block,
    Busy,
    Override,
    Rule,
    SchedulerConfig,
    Slot,
    SlotGroup,
    Window,
    assign_unselectable,
    compute_slots,
    first_available,
    group_selectable,
    lobbie_date_key,
    nearest_slots,
    to_unix_ms,
)

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
PHOENIX = ZoneInfo("America/Phoenix")
CHICAGO = ZoneInfo("America/Chicago")
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)
ALL_WEEK = tuple(range(7))


def config(
    *,
    id: int = 101,
    practitioner_id: int = 7,
    location_id: int = 1,
    tz: str = "America/New_York",
    types: tuple[int, ...] = (1,),
    interval: int = 30,
    rules: tuple[Rule, ...] = (),
    **kw,
) -> SchedulerConfig:
    return SchedulerConfig(
        id=id,
        practitioner_id=practitioner_id,
        location_id=location_id,
        time_zone=tz,
        appointment_type_ids=types,
        slot_interval_minutes=interval,
        rules=rules,
        **kw,
    )


def daily(start: str, end: str, days: tuple[int, ...] = ALL_WEEK) -> tuple[Rule, ...]:
    return tuple(Rule(d, time.fromisoformat(start), time.fromisoformat(end)) for d in days)


def slots_on(
    configs,
    day_start: datetime,
    day_end: datetime,
    *,
    duration: int = 30,
    busy=(),
    now: datetime = LONG_AGO,
    min_notice: timedelta = timedelta(0),
    max_ahead: timedelta | None = None,
    appointment_type_id: int | None = None,
) -> list[Slot]:
    return compute_slots(
        configs,
        duration_minutes=duration,
        busy=busy,
        now=now,
        min_notice=min_notice,
        max_ahead=max_ahead,
        range_start=day_start,
        range_end=day_end,
        appointment_type_id=appointment_type_id,
    )


def local_day(tz: ZoneInfo, y: int, m: int, d: int) -> tuple[datetime, datetime]:
    start = datetime(y, m, d, tzinfo=tz)
    end = datetime.combine(start.date() + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


def iso_pairs(slots: list[Slot]) -> list[tuple[str, str]]:
    return [(s.start.isoformat(), s.end.isoformat()) for s in slots]


def local(tz: ZoneInfo, text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


# --------------------------------------------------------------------------------------------
# DST: America/New_York
# --------------------------------------------------------------------------------------------


def test_new_york_spring_forward_gap_gives_no_slot_and_slots_last_real_time():
    c = config(rules=daily("00:00", "05:00"))
    got = slots_on([c], *local_day(NY, 2026, 3, 8))
    assert iso_pairs(got) == [
        ("2026-03-08T00:00:00-05:00", "2026-03-08T00:30:00-05:00"),
        ("2026-03-08T00:30:00-05:00", "2026-03-08T01:00:00-05:00"),
        ("2026-03-08T01:00:00-05:00", "2026-03-08T01:30:00-05:00"),
        # 01:30 EST + 30 real minutes is 03:00 EDT; 02:00 and 02:30 do not exist
        ("2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00"),
        ("2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"),
        ("2026-03-08T03:30:00-04:00", "2026-03-08T04:00:00-04:00"),
        ("2026-03-08T04:00:00-04:00", "2026-03-08T04:30:00-04:00"),
        ("2026-03-08T04:30:00-04:00", "2026-03-08T05:00:00-04:00"),
    ]
    assert all(s.generated_from == RULE for s in got)


def test_new_york_gap_grid_times_are_skipped_not_shifted():
    # 45-minute grid from 00:45: 02:15 does not exist and must not become 03:15 EDT
    c = config(interval=45, rules=daily("00:45", "05:00"))
    got = slots_on([c], *local_day(NY, 2026, 3, 8))
    assert [s.start.isoformat() for s in got] == [
        "2026-03-08T00:45:00-05:00",
        "2026-03-08T01:30:00-05:00",
        "2026-03-08T03:00:00-04:00",
        "2026-03-08T03:45:00-04:00",
        "2026-03-08T04:30:00-04:00",
    ]


def test_new_york_window_ending_inside_the_gap_ends_at_the_jump():
    c = config(rules=daily("00:00", "02:30"))
    got = slots_on([c], *local_day(NY, 2026, 3, 8))
    assert [s.start.isoformat() for s in got] == [
        "2026-03-08T00:00:00-05:00",
        "2026-03-08T00:30:00-05:00",
        "2026-03-08T01:00:00-05:00",
        "2026-03-08T01:30:00-05:00",
    ]
    assert got[-1].end.isoformat() == "2026-03-08T03:00:00-04:00"
    # a 60-minute slot at 01:30 would end at 03:30 EDT, after the window's end (the jump)
    got60 = slots_on([c], *local_day(NY, 2026, 3, 8), duration=60)
    assert [s.start.isoformat() for s in got60] == [
        "2026-03-08T00:00:00-05:00",
        "2026-03-08T00:30:00-05:00",
        "2026-03-08T01:00:00-05:00",
    ]


def test_new_york_window_starting_inside_the_gap_keeps_its_wall_clock_grid():
    c = config(interval=60, rules=daily("02:30", "06:00"))
    got = slots_on([c], *local_day(NY, 2026, 3, 8))
    assert [s.start.isoformat() for s in got] == [
        "2026-03-08T03:30:00-04:00",
        "2026-03-08T04:30:00-04:00",
        "2026-03-08T05:30:00-04:00",
    ]


def test_new_york_fall_back_each_grid_time_once_at_first_occurrence():
    c = config(rules=daily("00:00", "03:00"))
    got = slots_on([c], *local_day(NY, 2026, 11, 1))
    assert iso_pairs(got) == [
        ("2026-11-01T00:00:00-04:00", "2026-11-01T00:30:00-04:00"),
        ("2026-11-01T00:30:00-04:00", "2026-11-01T01:00:00-04:00"),
        ("2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00"),
        ("2026-11-01T01:30:00-04:00", "2026-11-01T01:00:00-05:00"),
        # no start in the repeated 01:00-02:00 EST hour
        ("2026-11-01T02:00:00-05:00", "2026-11-01T02:30:00-05:00"),
        ("2026-11-01T02:30:00-05:00", "2026-11-01T03:00:00-05:00"),
    ]
    assert got[3].end.fold == 1
    assert to_unix_ms(got[3].end) - to_unix_ms(got[3].start) == 30 * 60_000


def test_new_york_fall_back_honours_the_windows_real_length():
    # 00:00-02:00 lasts 3 real hours that night, so 90-minute slots fit up to 01:30 EDT
    c = config(rules=daily("00:00", "02:00"))
    got = slots_on([c], *local_day(NY, 2026, 11, 1), duration=90)
    assert iso_pairs(got) == [
        ("2026-11-01T00:00:00-04:00", "2026-11-01T01:30:00-04:00"),
        ("2026-11-01T00:30:00-04:00", "2026-11-01T01:00:00-05:00"),
        ("2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-05:00"),
        ("2026-11-01T01:30:00-04:00", "2026-11-01T02:00:00-05:00"),
    ]


def test_new_york_window_ending_in_the_repeated_hour_ends_at_its_first_occurrence():
    c = config(rules=daily("00:00", "01:30"))
    got = slots_on([c], *local_day(NY, 2026, 11, 1), duration=60)
    assert iso_pairs(got) == [
        ("2026-11-01T00:00:00-04:00", "2026-11-01T01:00:00-04:00"),
        ("2026-11-01T00:30:00-04:00", "2026-11-01T01:30:00-04:00"),
    ]


def test_new_york_offsets_on_the_days_around_each_change():
    c = config(rules=daily("09:00", "10:00"), interval=60)
    start = datetime(2026, 3, 7, tzinfo=NY)
    got = slots_on([c], start, start + timedelta(days=3))
    assert [s.start.isoformat() for s in got] == [
        "2026-03-07T09:00:00-05:00",
        "2026-03-08T09:00:00-04:00",
        "2026-03-09T09:00:00-04:00",
    ]
    assert [to_unix_ms(s.start) for s in got] == [1772892000000, 1772974800000, 1773061200000]
    start = datetime(2026, 10, 31, tzinfo=NY)
    got = slots_on([c], start, start + timedelta(days=3))
    assert [s.start.isoformat() for s in got] == [
        "2026-10-31T09:00:00-04:00",
        "2026-11-01T09:00:00-05:00",
        "2026-11-02T09:00:00-05:00",
    ]


# --------------------------------------------------------------------------------------------
# DST: Europe/Berlin, and America/Phoenix (no DST)
# --------------------------------------------------------------------------------------------


def test_berlin_spring_forward():
    c = config(tz="Europe/Berlin", rules=daily("01:00", "04:00"))
    got = slots_on([c], *local_day(BERLIN, 2026, 3, 29))
    assert iso_pairs(got) == [
        ("2026-03-29T01:00:00+01:00", "2026-03-29T01:30:00+01:00"),
        ("2026-03-29T01:30:00+01:00", "2026-03-29T03:00:00+02:00"),
        ("2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00"),
        ("2026-03-29T03:30:00+02:00", "2026-03-29T04:00:00+02:00"),
    ]


def test_berlin_fall_back():
    c = config(tz="Europe/Berlin", rules=daily("01:00", "04:00"))
    got = slots_on([c], *local_day(BERLIN, 2026, 10, 25))
    assert iso_pairs(got) == [
        ("2026-10-25T01:00:00+02:00", "2026-10-25T01:30:00+02:00"),
        ("2026-10-25T01:30:00+02:00", "2026-10-25T02:00:00+02:00"),
        ("2026-10-25T02:00:00+02:00", "2026-10-25T02:30:00+02:00"),
        ("2026-10-25T02:30:00+02:00", "2026-10-25T02:00:00+01:00"),
        ("2026-10-25T03:00:00+01:00", "2026-10-25T03:30:00+01:00"),
        ("2026-10-25T03:30:00+01:00", "2026-10-25T04:00:00+01:00"),
    ]


def test_berlin_ordinary_days_around_the_changes():
    c = config(tz="Europe/Berlin", rules=daily("09:00", "09:30"))
    for first, offsets in (
        (datetime(2026, 3, 28, tzinfo=BERLIN), ["+01:00", "+02:00", "+02:00"]),
        (datetime(2026, 10, 24, tzinfo=BERLIN), ["+02:00", "+01:00", "+01:00"]),
    ):
        got = slots_on([c], first, first + timedelta(days=3))
        assert [s.start.isoformat()[-6:] for s in got] == offsets
        assert [s.start.isoformat()[11:19] for s in got] == ["09:00:00"] * 3


def test_phoenix_has_no_dst():
    c = config(tz="America/Phoenix", rules=daily("09:00", "10:00"), interval=60)
    for y, m, d in ((2026, 3, 8), (2026, 11, 1), (2026, 7, 1)):
        got = slots_on([c], *local_day(PHOENIX, y, m, d), duration=60)
        day = f"{y}-{m:02}-{d:02}"
        assert iso_pairs(got) == [(f"{day}T09:00:00-07:00", f"{day}T10:00:00-07:00")]
        assert got[0].start.astimezone(UTC).hour == 16


def test_lord_howe_half_hour_shift_keeps_the_wall_grid():
    # Australia/Lord_Howe moves its clocks by 30 minutes (+11:00 -> +10:30 on 2026-04-05)
    tz = ZoneInfo("Australia/Lord_Howe")
    c = config(tz="Australia/Lord_Howe", rules=daily("01:00", "03:00"), interval=30)
    got = slots_on([c], *local_day(tz, 2026, 4, 5))
    assert iso_pairs(got) == [
        ("2026-04-05T01:00:00+11:00", "2026-04-05T01:30:00+11:00"),
        ("2026-04-05T01:30:00+11:00", "2026-04-05T01:30:00+10:30"),
        ("2026-04-05T02:00:00+10:30", "2026-04-05T02:30:00+10:30"),
        ("2026-04-05T02:30:00+10:30", "2026-04-05T03:00:00+10:30"),
    ]


# --------------------------------------------------------------------------------------------
# Filters
# --------------------------------------------------------------------------------------------


MONDAY = datetime(2026, 3, 9, tzinfo=NY)  # a Monday, EDT


def test_busy_at_another_location_and_zone_hides_overlapping_slots():
    ny = config(id=101, location_id=1, rules=daily("09:00", "12:00", (0,)), interval=60)
    chi = config(
        id=102, location_id=2, tz="America/Chicago", rules=daily("08:00", "11:00", (0,)),
        interval=60,
    )  # fmt: skip
    # an appointment at the Chicago location 10:00-10:30 CT (= 11:00-11:30 ET)
    appointment = Busy(
        7, local(CHICAGO, "2026-03-09T10:00"), local(CHICAGO, "2026-03-09T10:30"), 102,
        local(CHICAGO, "2026-03-09T10:00"),
    )  # fmt: skip
    got = slots_on([chi, ny], MONDAY, MONDAY + timedelta(days=1), busy=[appointment])
    assert [(s.start.isoformat(), s.scheduler_config_id, s.location_id) for s in got] == [
        ("2026-03-09T09:00:00-04:00", 101, 1),
        ("2026-03-09T08:00:00-05:00", 102, 2),
        ("2026-03-09T10:00:00-04:00", 101, 1),
        ("2026-03-09T09:00:00-05:00", 102, 2),
    ]
    assert all(s.start.tzinfo is (NY if s.location_id == 1 else CHICAGO) for s in got)


def test_buffers_are_additive_with_busy_ranges():
    c = config(
        rules=daily("09:00", "12:00", (0,)), interval=15, buffer_before_minutes=10,
        buffer_after_minutes=15,
    )  # fmt: skip
    # busy 10:00-10:30 (already widened by its own buffers)
    b = Busy(7, local(NY, "2026-03-09T10:00"), local(NY, "2026-03-09T10:30"))
    got = slots_on([c], MONDAY, MONDAY + timedelta(days=1), busy=[b])
    starts = [s.start.strftime("%H:%M") for s in got]
    # 09:15 ends 09:45 (+15 buffer = 10:00, touching is fine); 09:30 ends 10:00 (+15 overlaps)
    # 10:30 starts with a 10-minute buffer at 10:20 (overlaps); 10:45 -> 10:35 is clear
    assert "09:15" in starts and "09:30" not in starts and "10:30" not in starts
    assert starts[:2] == ["09:00", "09:15"] and starts[2] == "10:45"
    assert starts[-1] == "11:30"


def test_busy_of_another_practitioner_and_touching_busy_do_not_hide():
    c = config(rules=daily("09:00", "11:00", (0,)), interval=30)
    others = [
        Busy(8, local(NY, "2026-03-09T09:00"), local(NY, "2026-03-09T11:00")),
        Busy(7, local(NY, "2026-03-09T08:00"), local(NY, "2026-03-09T09:00")),
        Busy(7, local(NY, "2026-03-09T11:00"), local(NY, "2026-03-09T12:00")),
    ]
    got = slots_on([c], MONDAY, MONDAY + timedelta(days=1), busy=others)
    assert [s.start.strftime("%H:%M") for s in got] == ["09:00", "09:30", "10:00", "10:30"]


def test_busy_with_sub_second_edges_is_respected_exactly():
    c = config(rules=daily("09:00", "10:00", (0,)), interval=30)
    b = Busy(7, local(NY, "2026-03-09T09:29:59.999999"), local(NY, "2026-03-09T09:30:00.000001"))
    got = slots_on([c], MONDAY, MONDAY + timedelta(days=1), busy=[b])
    assert got == []


def test_empty_busy_and_block_ranges_block_nothing():
    c = config(rules=daily("09:00", "10:00", (0,)), interval=30)
    at = local(NY, "2026-03-09T09:15")
    c = msgspec.structs.replace(c, blocks=(Block(at, at),))
    got = slots_on([c], MONDAY, MONDAY + timedelta(days=1), busy=[Busy(7, at, at)])
    assert [s.start.strftime("%H:%M") for s in got] == ["09:00", "09:30"]


def test_override_closing_a_day_and_override_opening_extra_hours():
    c = config(
        rules=daily("09:00", "10:00", (0, 1)), interval=60,
        overrides=(
            Override(date(2026, 3, 9), unavailable=True),  # Monday closed
            Override(date(2026, 3, 10), windows=(Window(time(14), time(16)),)),  # Tuesday
            Override(date(2026, 3, 14), windows=(Window(time(8), time(9)),)),  # a Saturday
        ),
    )  # fmt: skip
    got = slots_on([c], MONDAY, MONDAY + timedelta(days=8))
    assert [(s.start.isoformat(), s.generated_from) for s in got] == [
        ("2026-03-10T14:00:00-04:00", OVERRIDE),
        ("2026-03-10T15:00:00-04:00", OVERRIDE),
        ("2026-03-14T08:00:00-04:00", OVERRIDE),
        ("2026-03-16T09:00:00-04:00", RULE),
    ]


def test_empty_override_is_ignored_and_unavailable_wins():
    c = config(
        rules=daily("09:00", "10:00", (0,)), interval=60,
        overrides=(
            Override(date(2026, 3, 9)),
            Override(date(2026, 3, 16), windows=(Window(time(11), time(12)),)),
            Override(date(2026, 3, 16), unavailable=True),
        ),
    )  # fmt: skip
    got = slots_on([c], MONDAY, MONDAY + timedelta(days=8))
    assert [s.start.isoformat() for s in got] == ["2026-03-09T09:00:00-04:00"]


def test_block_spanning_midnight():
    c = config(rules=daily("20:00", "23:59") + daily("00:00", "04:00"), interval=60)
    block = Block(local(NY, "2026-03-09T22:00"), local(NY, "2026-03-10T02:00"))
    start = local(NY, "2026-03-09T20:00")
    got = slots_on([c], start, start + timedelta(hours=8), busy=[], duration=60)
    got_blocked = compute_slots(
        [msgspec.structs.replace(c, blocks=(block,))], duration_minutes=60, busy=[], now=LONG_AGO,
        min_notice=timedelta(0), max_ahead=None, range_start=start,
        range_end=start + timedelta(hours=8),
    )  # fmt: skip
    assert [s.start.strftime("%d %H:%M") for s in got] == [
        "09 20:00", "09 21:00", "09 22:00", "10 00:00", "10 01:00", "10 02:00", "10 03:00",
    ]  # fmt: skip
    assert [s.start.strftime("%d %H:%M") for s in got_blocked] == [
        "09 20:00", "09 21:00", "10 02:00", "10 03:00",
    ]  # fmt: skip


def test_max_per_day_counts_by_local_day_of_the_appointment():
    c = config(rules=daily("09:00", "11:00", (0, 1)), interval=60, max_per_day=2)
    # counted appointments: 2026-03-10T03:30Z is still Monday 23:30 in New York
    booked = [
        Busy(7, local(NY, "2026-03-09T06:00"), local(NY, "2026-03-09T06:30"), 101,
             local(NY, "2026-03-09T06:00")),
        Busy(7, datetime(2026, 3, 10, 3, 30, tzinfo=UTC), datetime(2026, 3, 10, 4, tzinfo=UTC),
             101, datetime(2026, 3, 10, 3, 30, tzinfo=UTC)),
        # a hold (not counted), and another config's appointment, on Tuesday
        Busy(7, local(NY, "2026-03-10T06:00"), local(NY, "2026-03-10T06:30")),
        Busy(7, local(NY, "2026-03-10T07:00"), local(NY, "2026-03-10T07:30"), 999,
             local(NY, "2026-03-10T07:00")),
    ]  # fmt: skip
    got = slots_on([c], MONDAY, MONDAY + timedelta(days=2), busy=booked)
    assert [s.start.isoformat() for s in got] == [
        "2026-03-10T09:00:00-04:00",
        "2026-03-10T10:00:00-04:00",
    ]
    one_short = slots_on([c], MONDAY, MONDAY + timedelta(days=1), busy=booked[:1])
    assert len(one_short) == 2
    closed = msgspec.structs.replace(c, max_per_day=0)
    assert slots_on([closed], MONDAY, MONDAY + timedelta(days=2)) == []


def test_appointment_type_filter():
    a = config(id=101, types=(1, 2), rules=daily("09:00", "10:00", (0,)), interval=60)
    b = config(id=102, practitioner_id=8, types=(3,), rules=daily("09:00", "10:00", (0,)),
               interval=60)  # fmt: skip
    day = (MONDAY, MONDAY + timedelta(days=1))
    assert [s.scheduler_config_id for s in slots_on([a, b], *day, appointment_type_id=2)] == [101]
    assert [s.scheduler_config_id for s in slots_on([a, b], *day, appointment_type_id=3)] == [102]
    assert slots_on([a, b], *day, appointment_type_id=4) == []
    assert [s.scheduler_config_id for s in slots_on([a, b], *day)] == [101, 102]


def test_notice_forward_limit_and_range_edges_are_exact():
    c = config(rules=daily("09:00", "12:00", (0,)), interval=30)
    now = local(NY, "2026-03-09T08:00")
    got = slots_on(
        [c], MONDAY, MONDAY + timedelta(days=1), now=now, min_notice=timedelta(hours=1, minutes=30),
        max_ahead=timedelta(hours=3),
    )  # fmt: skip
    # starts >= 09:30 and <= 11:00 (both inclusive)
    assert [s.start.strftime("%H:%M") for s in got] == ["09:30", "10:00", "10:30", "11:00"]
    got = slots_on([c], local(NY, "2026-03-09T09:00:00.000001"), local(NY, "2026-03-09T10:30"))
    assert [s.start.strftime("%H:%M") for s in got] == ["09:30", "10:00"]  # end exclusive
    assert slots_on([c], MONDAY, MONDAY, now=now) == []


def test_results_sorted_and_deduplicated():
    a = config(id=102, practitioner_id=7, rules=daily("09:00", "10:00", (0,)), interval=30)
    b = config(id=101, practitioner_id=8, rules=daily("09:00", "10:00", (0,)), interval=30)
    c = config(id=100, practitioner_id=8, rules=daily("09:00", "10:00", (0,)), interval=30)
    # overlapping rules of one config must not duplicate starts
    overlapping = msgspec.structs.replace(
        a, rules=daily("09:00", "10:00", (0,)) + daily("09:30", "10:00", (0,))
    )
    got = slots_on([b, overlapping, c, a], MONDAY, MONDAY + timedelta(days=1))
    assert [(s.start.strftime("%H:%M"), s.practitioner_id, s.scheduler_config_id) for s in got] == [
        ("09:00", 7, 102), ("09:00", 8, 100), ("09:00", 8, 101),
        ("09:30", 7, 102), ("09:30", 8, 100), ("09:30", 8, 101),
    ]  # fmt: skip


def test_windows_with_an_off_grid_second_window():
    c = config(rules=daily("09:00", "10:00", (0,)) + daily("09:10", "10:00", (0,)), interval=30)
    got = slots_on([c], MONDAY, MONDAY + timedelta(days=1))
    assert [s.start.strftime("%H:%M") for s in got] == ["09:00", "09:10", "09:30"]


def test_invalid_inputs():
    c = config(rules=daily("09:00", "10:00"))
    naive = datetime(2026, 3, 9, 9)
    with pytest.raises(ValueError):
        slots_on([c], naive, MONDAY)
    with pytest.raises(ValueError):
        slots_on([c], MONDAY, MONDAY + timedelta(days=1), busy=[Busy(7, naive, naive)])
    with pytest.raises(ValueError):
        slots_on([c], MONDAY, MONDAY + timedelta(days=1), duration=0)
    with pytest.raises(ValueError):
        slots_on([msgspec.structs.replace(c, slot_interval_minutes=0)], MONDAY,
                 MONDAY + timedelta(days=1))  # fmt: skip
    # an empty window (end <= start, e.g. "24:00" written as 00:00) yields nothing
    empty = config(rules=daily("09:00", "00:00"))
    assert slots_on([empty], MONDAY, MONDAY + timedelta(days=1)) == []


def test_structs_decode_from_json():
    raw = (
        b'{"id":1,"practitioner_id":7,"location_id":3,"time_zone":"America/New_York",'
        b'"appointment_type_ids":[1],"slot_interval_minutes":30,'
        b'"rules":[{"weekday":0,"start":"09:00:00","end":"10:00:00"}],'
        b'"overrides":[{"date":"2026-03-10","windows":[{"start":"08:00:00","end":"09:00:00"}]}]}'
    )
    c = msgspec.json.decode(raw, type=SchedulerConfig)
    got = slots_on([c], MONDAY, MONDAY + timedelta(days=2))
    assert [s.start.isoformat() for s in got] == [
        "2026-03-09T09:00:00-04:00",
        "2026-03-09T09:30:00-04:00",
        "2026-03-10T08:00:00-04:00",
        "2026-03-10T08:30:00-04:00",
    ]


# --------------------------------------------------------------------------------------------
# Response shaping helpers
# --------------------------------------------------------------------------------------------


def test_lobbie_date_key_and_unix_ms():
    assert lobbie_date_key(date(2026, 3, 9)) == "3/9/2026"
    assert lobbie_date_key(date(2026, 12, 25)) == "12/25/2026"
    assert lobbie_date_key(date(2027, 1, 1)) == "1/1/2027"
    # the spec's example pair
    assert to_unix_ms(datetime.fromisoformat("2026-03-09T09:00:00-04:00")) == 1773061200000


def _two_practitioners() -> list[Slot]:
    a = config(id=101, practitioner_id=7, rules=daily("22:30", "23:59", (0,)), interval=60)
    b = config(id=102, practitioner_id=8, rules=daily("22:30", "23:59", (0,)), interval=30)
    return slots_on([a, b], MONDAY, MONDAY + timedelta(days=1))


def test_group_selectable_keys_by_local_date_and_maps_practitioners():
    slots = _two_practitioners()
    groups = group_selectable(reversed(slots))  # input order does not matter
    # 22:30 and 23:00 New York are already the next day in UTC: keys use the local date
    assert list(groups) == ["3/9/2026"]
    assert groups["3/9/2026"] == [
        SlotGroup(local(NY, "2026-03-09T22:30"), local(NY, "2026-03-09T23:00"), {7: 101, 8: 102}),
        SlotGroup(local(NY, "2026-03-09T23:00"), local(NY, "2026-03-09T23:30"), {8: 102}),
    ]
    assert group_selectable([]) == {}


def test_group_selectable_one_practitioner_two_configs_maps_to_lowest_config():
    a = config(id=202, rules=daily("09:00", "09:30", (0,)))
    b = config(id=201, location_id=2, rules=daily("09:00", "09:30", (0,)))
    slots = slots_on([a, b], MONDAY, MONDAY + timedelta(days=1))
    groups = group_selectable(slots)
    assert [g.practitioner_to_config for g in groups["3/9/2026"]] == [{7: 201}]


def test_helpers_accept_unsorted_input_and_mixed_durations():
    c = config(id=101, rules=daily("09:00", "10:00", (0,)), interval=30)
    d = config(id=102, practitioner_id=8, rules=daily("09:00", "10:00", (0,)), interval=30)
    day = (MONDAY, MONDAY + timedelta(days=1))
    short = slots_on([c, d], *day, duration=30)
    long = slots_on([c], *day, duration=60)
    mixed = [long[0], short[3], short[1], short[0], short[2]]
    groups = group_selectable(mixed)["3/9/2026"]
    assert [(g.start.strftime("%H:%M"), g.end.strftime("%H:%M"), g.practitioner_to_config)
            for g in groups] == [
        ("09:00", "09:30", {7: 101, 8: 102}),
        ("09:00", "10:00", {7: 101}),
        ("09:30", "10:00", {7: 101, 8: 102}),
    ]  # fmt: skip
    assert [(s.start.strftime("%H:%M"), s.practitioner_id) for s in
            assign_unselectable(mixed[::-1], {})] == [("09:00", 7), ("09:30", 7)]  # fmt: skip
    assert first_available(mixed[::-1]) == {7: local(NY, "2026-03-09T09:00"),
                                            8: local(NY, "2026-03-09T09:00")}  # fmt: skip


def test_assign_unselectable_ranking():
    slots = _two_practitioners()
    monday = date(2026, 3, 9)
    # equal load: lowest practitioner id wins the shared time
    got = assign_unselectable(slots, {})
    assert [(s.start.strftime("%H:%M"), s.practitioner_id) for s in got] == [
        ("22:30", 7), ("23:00", 8),
    ]  # fmt: skip
    # practitioner 7 is busier that local day: 8 gets the shared time
    got = assign_unselectable(slots, {(7, monday): 3, (8, monday): 1})
    assert [(s.start.strftime("%H:%M"), s.practitioner_id) for s in got] == [
        ("22:30", 8), ("23:00", 8),
    ]  # fmt: skip
    # load on another day is irrelevant
    got = assign_unselectable(slots, {(7, date(2026, 3, 10)): 9})
    assert got[0].practitioner_id == 7
    # same practitioner, two configs: the lowest config id
    a = config(id=202, rules=daily("09:00", "09:30", (0,)))
    b = config(id=201, location_id=2, rules=daily("09:00", "09:30", (0,)))
    pair = slots_on([a, b], MONDAY, MONDAY + timedelta(days=1))
    assert [s.scheduler_config_id for s in assign_unselectable(pair, {})] == [201]


def test_first_available_and_nearest_slots():
    slots = _two_practitioners()
    assert first_available(slots) == {
        7: local(NY, "2026-03-09T22:30"),
        8: local(NY, "2026-03-09T22:30"),
    }
    later = [s for s in slots if s.start.minute == 0]
    assert first_available(later) == {8: local(NY, "2026-03-09T23:00")}
    assert first_available([]) == {}
    # slots: 22:30 (7 and 8), 23:00 (8); 23:10 is nearest 23:00, then the 22:30s (by order)
    near = nearest_slots(slots, local(NY, "2026-03-09T23:10"), limit=2)
    assert [(s.start.strftime("%H:%M"), s.practitioner_id) for s in near] == [
        ("22:30", 7), ("23:00", 8),
    ]  # fmt: skip
    assert nearest_slots(slots, local(NY, "2026-03-09T22:00"), limit=0) == []


def test_helpers_compare_instants_not_wall_clocks_across_fall_back():
    # 01:30 EDT is earlier than 01:15 EST although its wall clock is later
    c = config(rules=daily("01:00", "01:45", (6,)), interval=15)
    edt = slots_on([c], *local_day(NY, 2026, 11, 1), duration=15)
    est = Slot(
        datetime(2026, 11, 1, 1, 15, tzinfo=NY, fold=1),
        datetime(2026, 11, 1, 1, 30, tzinfo=NY, fold=1), 8, 300, 1, RULE,
    )  # fmt: skip
    assert first_available([est, *edt])[7].isoformat() == "2026-11-01T01:00:00-04:00"
    order = [s.start.isoformat() for s in assign_unselectable([est, *edt], {})]
    assert order == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:15:00-04:00",
        "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:15:00-05:00",
    ]


# --------------------------------------------------------------------------------------------
# Reference model and properties
# --------------------------------------------------------------------------------------------


def _first_instant_at_or_after(tz: ZoneInfo, day: date, wall: time) -> datetime:
    """Earliest instant (scanning minutes) whose local wall clock reads >= day + wall."""
    target = datetime.combine(day, wall)
    t = datetime.combine(day, wall, tzinfo=tz).astimezone(UTC) - timedelta(hours=4)
    while t.astimezone(tz).replace(tzinfo=None) < target:
        t += timedelta(minutes=1)
    return t


def reference(
    configs, *, duration_minutes, busy, now, min_notice, max_ahead, range_start, range_end,
    appointment_type_id=None,
) -> list[tuple]:  # fmt: skip
    """Straightforward O(candidates x busy) model of the documented semantics."""
    out = set()
    dur = timedelta(minutes=duration_minutes)
    seen = set()
    for c in configs:
        if c.id in seen:
            continue
        seen.add(c.id)
        if appointment_type_id is not None and appointment_type_id not in c.appointment_type_ids:
            continue
        tz = ZoneInfo(c.time_zone)
        before = timedelta(minutes=c.buffer_before_minutes)
        after = timedelta(minutes=c.buffer_after_minutes)
        day = range_start.astimezone(tz).date() - timedelta(days=1)
        while day <= range_end.astimezone(tz).date() + timedelta(days=1):
            todays = [o for o in c.overrides if o.date == day]
            if any(o.unavailable for o in todays):
                windows, source = [], OVERRIDE
            elif any(o.windows for o in todays):
                windows = [(w.start, w.end) for o in todays for w in o.windows]
                source = OVERRIDE
            else:
                windows = [(r.start, r.end) for r in c.rules if r.weekday == day.weekday()]
                source = RULE
            if c.max_per_day is not None:
                n = sum(
                    1 for b in busy
                    if b.scheduler_config_id == c.id and b.counted_at is not None
                    and b.counted_at.astimezone(tz).date() == day
                )  # fmt: skip
                if n >= c.max_per_day:
                    windows = []
            for ws, we in windows:
                if we <= ws:
                    continue
                w_end = _first_instant_at_or_after(tz, day, we)
                wall = datetime.combine(day, ws)
                while wall.time() < we and wall.date() == day:
                    aware = wall.replace(tzinfo=tz)  # fold=0: first occurrence
                    start = aware.astimezone(UTC)
                    exists = start.astimezone(tz).replace(tzinfo=None) == wall
                    end = start + dur
                    ok = (
                        exists
                        and end <= w_end
                        and start >= now + min_notice
                        and (max_ahead is None or start <= now + max_ahead)
                        and range_start <= start < range_end
                        and not any(
                            b.start < end and start < b.end and b.start < b.end
                            for b in c.blocks
                        )
                        and not any(
                            b.practitioner_id == c.practitioner_id
                            and b.start < end + after and start - before < b.end
                            and b.start < b.end  # an empty range blocks nothing
                            for b in busy
                        )
                    )  # fmt: skip
                    if ok:
                        out.add((
                            start.timestamp(), c.practitioner_id, c.id, end.timestamp(),
                            c.location_id, source, start.astimezone(tz).isoformat(),
                            end.astimezone(tz).isoformat(),
                        ))  # fmt: skip
                    wall += timedelta(minutes=c.slot_interval_minutes)
            day += timedelta(days=1)
    return sorted(out)


def as_rows(slots: list[Slot]) -> list[tuple]:
    return [
        (s.start.timestamp(), s.practitioner_id, s.scheduler_config_id, s.end.timestamp(),
         s.location_id, s.generated_from, s.start.isoformat(), s.end.isoformat())
        for s in slots
    ]  # fmt: skip


# each zone with local dates of its 2026 offset changes (or an ordinary date); Santiago changes
# at local midnight, Lord Howe by 30 minutes
TRANSITIONS = {
    "America/New_York": [date(2026, 3, 8), date(2026, 11, 1)],
    "America/Chicago": [date(2026, 3, 8), date(2026, 11, 1)],
    "Europe/Berlin": [date(2026, 3, 29), date(2026, 10, 25)],
    "Australia/Lord_Howe": [date(2026, 4, 5), date(2026, 10, 4)],
    "America/Santiago": [date(2026, 4, 4), date(2026, 9, 6)],
    "America/Phoenix": [date(2026, 3, 8)],
    "Asia/Kolkata": [date(2026, 6, 15)],
    "UTC": [date(2026, 6, 15)],
}
ZONES = list(TRANSITIONS)


@st.composite
def windows(draw):
    """Mostly valid windows, often in the small hours where the DST changes happen."""
    a = draw(st.one_of(st.integers(0, 36), st.integers(264, 287), st.integers(0, 287))) * 5
    b = max(min(a + draw(st.one_of(st.integers(24, 72), st.integers(-2, 96))) * 5, 1439), 0)
    return time(a // 60, a % 60), time(b // 60, b % 60)


@st.composite
def scenarios(draw):
    main_zone = draw(st.sampled_from(ZONES))
    pivot = draw(st.sampled_from(TRANSITIONS[main_zone])) + timedelta(
        days=draw(st.sampled_from([0, 0, -1, 1]))
    )
    # all arithmetic below is on UTC datetimes (aware ZoneInfo arithmetic is wall-clock)
    range_start = datetime.combine(pivot, time(0), tzinfo=ZoneInfo(main_zone)).astimezone(
        UTC
    ) + timedelta(minutes=draw(st.integers(-720, 720)))
    range_end = range_start + timedelta(minutes=draw(st.integers(0, 4 * 1440)))
    instant = st.builds(
        lambda m, s: range_start + timedelta(minutes=m, seconds=s),
        st.integers(-600, 5 * 1440), st.sampled_from([0, 0, 0, 30]),
    )  # fmt: skip
    configs = []
    for i in range(draw(st.integers(1, 3))):
        weekdays = draw(st.one_of(st.just(set(ALL_WEEK)), st.sets(st.integers(0, 6), min_size=1)))
        shared = [draw(windows()) for _ in range(draw(st.integers(1, 2)))]
        rules = tuple(Rule(d, *w) for d in sorted(weekdays) for w in shared) + tuple(
            Rule(draw(st.integers(0, 6)), *draw(windows())) for _ in range(draw(st.integers(0, 2)))
        )
        overrides = tuple(
            Override(
                range_start.date() + timedelta(days=draw(st.integers(-1, 4))),
                unavailable=draw(st.booleans()),
                windows=tuple(Window(*draw(windows())) for _ in range(draw(st.integers(0, 2)))),
            )
            for _ in range(draw(st.integers(0, 2)))
        )
        blocks = []
        for _ in range(draw(st.integers(0, 2))):
            b0 = draw(instant)
            blocks.append(Block(b0, b0 + timedelta(minutes=draw(st.integers(1, 600)))))
        configs.append(
            SchedulerConfig(
                id=100 + i,
                practitioner_id=draw(st.sampled_from([7, 8])),
                location_id=draw(st.sampled_from([1, 2])),
                time_zone=draw(st.sampled_from([main_zone, main_zone, *ZONES])),
                appointment_type_ids=(1, *draw(st.sets(st.integers(2, 3), max_size=2))),
                slot_interval_minutes=draw(st.sampled_from([5, 10, 15, 20, 30, 45, 60, 90])),
                buffer_before_minutes=draw(st.sampled_from([0, 0, 5, 10, 30])),
                buffer_after_minutes=draw(st.sampled_from([0, 0, 5, 15, 30])),
                max_per_day=draw(st.sampled_from([None, None, None, 0, 1, 2])),
                rules=rules,
                overrides=overrides,
                blocks=tuple(blocks),
            )
        )
    busy = []
    for _ in range(draw(st.integers(0, 8))):
        b0 = draw(instant)
        counted = draw(st.booleans())
        busy.append(
            Busy(
                draw(st.sampled_from([7, 8, 9])), b0,
                b0 + timedelta(minutes=draw(st.integers(5, 180))),
                draw(st.sampled_from([100, 101, 102])) if counted else None,
                b0 + timedelta(minutes=10) if counted else None,
            )
        )  # fmt: skip
    now = draw(
        st.one_of(
            instant,
            st.builds(lambda m: range_start - timedelta(minutes=m), st.integers(0, 3000)),
        )
    )
    kwargs = {
        "duration_minutes": draw(st.sampled_from([5, 15, 30, 45, 60, 90, 120])),
        "busy": busy,
        "now": now,
        "min_notice": timedelta(minutes=draw(st.sampled_from([0, 0, 0, 30, 120, 1440]))),
        "max_ahead": draw(st.sampled_from([None, None, None, timedelta(hours=6), timedelta(2)])),
        "range_start": range_start,
        "range_end": range_end,
        "appointment_type_id": draw(st.sampled_from([None, None, 1, 2])),
    }
    return configs, kwargs


PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(scenarios())
def test_engine_matches_the_reference_model(scenario):
    configs, kwargs = scenario
    assert as_rows(compute_slots(configs, **kwargs)) == reference(configs, **kwargs)


@PROPERTY_SETTINGS
@given(scenarios())
def test_every_slot_satisfies_the_invariants(scenario):
    configs, kw = scenario
    slots = compute_slots(configs, **kw)
    by_id = {c.id: c for c in configs}
    dur = timedelta(minutes=kw["duration_minutes"])
    keys = [(s.start.timestamp(), s.practitioner_id, s.scheduler_config_id) for s in slots]
    assert keys == sorted(set(keys))  # sorted, no duplicates
    for s in slots:
        c = by_id[s.scheduler_config_id]
        tz = ZoneInfo(c.time_zone)
        assert s.start.tzinfo is not None and s.start.utcoffset() == tz.utcoffset(s.start)
        assert s.end.astimezone(UTC) - s.start.astimezone(UTC) == dur  # real elapsed time
        assert (s.practitioner_id, s.location_id) == (c.practitioner_id, c.location_id)
        if kw["appointment_type_id"] is not None:
            assert kw["appointment_type_id"] in c.appointment_type_ids
        # notice, forward limit, requested range
        assert s.start >= kw["now"] + kw["min_notice"]
        if kw["max_ahead"] is not None:
            assert s.start <= kw["now"] + kw["max_ahead"]
        assert kw["range_start"] <= s.start < kw["range_end"]
        # outside every block; clear of the practitioner's busy times plus buffers
        assert not any(b.start < s.end and s.start < b.end for b in c.blocks)
        # (in UTC: arithmetic on ZoneInfo datetimes is wall-clock arithmetic)
        lo = s.start.astimezone(UTC) - timedelta(minutes=c.buffer_before_minutes)
        hi = s.end.astimezone(UTC) + timedelta(minutes=c.buffer_after_minutes)
        assert not any(
            b.practitioner_id == c.practitioner_id and b.start < hi and lo < b.end
            for b in kw["busy"]
        )
        # on the wall-clock grid of a window of that local date, and inside the window
        day = s.start.date()
        wall = s.start.hour * 60 + s.start.minute
        todays = [o for o in c.overrides if o.date == day]
        if s.generated_from == OVERRIDE:
            wins = [(w.start, w.end) for o in todays for w in o.windows]
            assert not any(o.unavailable for o in todays)
        else:
            assert not any(o.unavailable or o.windows for o in todays)
            wins = [(r.start, r.end) for r in c.rules if r.weekday == day.weekday()]
        assert s.start.fold == 0  # first occurrence of its wall time
        assert any(
            ws.hour * 60 + ws.minute <= wall < we.hour * 60 + we.minute
            and (wall - ws.hour * 60 - ws.minute) % c.slot_interval_minutes == 0
            and s.end <= _first_instant_at_or_after(tz, day, we)
            for ws, we in wins
        )


@st.composite
def transition_days(draw):
    """One config, one DST-change day, windows in the hours around the change."""
    zone_name = draw(st.sampled_from([z for z in ZONES if len(TRANSITIONS[z]) == 2]))
    day = draw(st.sampled_from(TRANSITIONS[zone_name]))
    tz = ZoneInfo(zone_name)
    wins = tuple(Rule(day.weekday(), *draw(windows())) for _ in range(draw(st.integers(1, 3))))
    c = config(
        tz=zone_name, interval=draw(st.sampled_from([5, 15, 20, 30, 45, 60, 90])), rules=wins,
        buffer_before_minutes=draw(st.sampled_from([0, 10])),
        buffer_after_minutes=draw(st.sampled_from([0, 20])),
    )  # fmt: skip
    start = datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC) - timedelta(hours=2)
    busy = [
        Busy(7, b0, b0 + timedelta(minutes=draw(st.integers(5, 120))))
        for b0 in draw(
            st.lists(
                st.builds(lambda m: start + timedelta(minutes=m), st.integers(0, 28 * 60)),
                max_size=3,
            )
        )
    ]
    kwargs = {
        "duration_minutes": draw(st.sampled_from([5, 15, 30, 45, 60, 90, 120])),
        "busy": busy,
        "now": LONG_AGO,
        "min_notice": timedelta(0),
        "max_ahead": None,
        "range_start": start,
        "range_end": start + timedelta(hours=28),
    }
    return [c], kwargs


@settings(max_examples=300, deadline=None)
@given(transition_days())
def test_transition_days_match_the_reference_model(scenario):
    configs, kwargs = scenario
    assert as_rows(compute_slots(configs, **kwargs)) == reference(configs, **kwargs)


@settings(max_examples=25, deadline=None)
@given(scenarios(), st.sampled_from(["Pacific/Kiritimati", "America/Adak", "Asia/Tehran"]))
def test_results_do_not_depend_on_the_process_time_zone(scenario, process_tz):
    configs, kwargs = scenario
    saved = os.environ.get("TZ")

    def fresh() -> list[tuple]:
        engine._ZONES.clear()  # drop memoised datetimes so the second run recomputes
        engine._STAMPS.clear()
        slots = compute_slots(configs, **kwargs)
        return [
            *as_rows(slots),
            *(str(g) for g in group_selectable(slots).items()),
            *(s.start.isoformat() for s in assign_unselectable(slots, {})),
            *(f"{p}:{t.isoformat()}" for p, t in first_available(slots).items()),
        ]

    try:
        os.environ["TZ"] = "UTC"
        time_module.tzset()
        baseline = fresh()
        os.environ["TZ"] = process_tz
        time_module.tzset()
        assert fresh() == baseline
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time_module.tzset()


def test_memoised_datetimes_do_not_change_results():
    c = config(rules=daily("00:00", "05:00"))
    day = local_day(NY, 2026, 3, 8)
    engine._ZONES.clear()
    engine._STAMPS.clear()
    cold = iso_pairs(slots_on([c], *day))
    warm = iso_pairs(slots_on([c], *day))
    assert cold == warm and len(cold) == 8


def test_busy_span_rounds_outward_to_whole_seconds_and_refuses_naive_times():
    at = datetime(2026, 3, 9, 13, 0, 0, 250_000, tzinfo=UTC)
    span = Busy(7, at, at + timedelta(minutes=30), 101, at).span()
    whole = int(at.replace(microsecond=0).timestamp())
    assert (span.start, span.end, span.counted_at) == (whole, whole + 1801, whole)
    assert (span.practitioner_id, span.scheduler_config_id, span.expires_at) == (7, 101, None)
    with pytest.raises(ValueError):
        Busy(7, at, at, 101, at.replace(tzinfo=None)).span()
    with pytest.raises(ValueError):
        Busy(7, at.replace(tzinfo=None), at).span()
