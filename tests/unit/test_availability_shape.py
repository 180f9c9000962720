"""The integer-instant plan and the byte-level shaping (app/availability/plan.py, shape.py)
give exactly the response the slot-object path gives: `compute_slots` (checked against the
reference model in test_availability_engine.py) shaped by the response builder this module
keeps as the reference (the one the service used before instants became plain integers).

Both ways a response is made are compared: the plan of the requested range encoded at once,
and whole local days planned separately, then cut to the range and assembled (what the cache
serves from its per-day pieces)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.availability import engine as e
from app.availability import schemas as s
from app.availability.limits import earliest_start, latest_start
from app.availability.plan import Scope, SlotSearch, plan
from app.availability.shape import assemble, days_of, encode, midnight, span
from tests.unit.test_availability_engine import scenarios

NOTICES = [(0, "HOURS", False), (2, "HOURS", True), (1, "DAYS", True)]
FORWARDS = [(0, "DAYS", False), (6, "HOURS", True), (2, "DAYS", True), (1, "WEEKS", True)]


def reference_response(
    slots: list[e.Slot],
    *,
    selectable: bool,
    time_zone: str,
    practitioner_ids: list[int],
    names: dict[int, str],
    busy: list[e.BusySpan],
) -> bytes:
    """The Lobbie response built from `Slot` objects with the engine's shaping helpers."""
    first: dict[int, int] = {}
    by_date: dict[str, list[s.AvailableSlot]] = {}
    for slot in slots:
        first.setdefault(slot.practitioner_id, e.to_unix_ms(slot.start))
    if selectable:
        for key, groups in e.group_selectable(slots).items():
            by_date[key] = [
                s.AvailableSlot(
                    start_unix=e.to_unix_ms(g.start),
                    start_date_time=g.start.isoformat(),
                    end_date_time=g.end.isoformat(),
                    practitioner_to_config={str(p): c for p, c in g.practitioner_to_config.items()},
                )
                for g in groups
            ]
    else:
        tz = e.zone(time_zone)
        load: dict[tuple[int, date], int] = dict(
            Counter(
                (b.practitioner_id, datetime.fromtimestamp(b.counted_at, tz).date())
                for b in busy
                if b.counted_at is not None
            )
        )
        for slot in e.assign_unselectable(slots, load):
            by_date.setdefault(e.lobbie_date_key(slot.start.date()), []).append(
                s.AvailableSlot(
                    start_unix=e.to_unix_ms(slot.start),
                    start_date_time=slot.start.isoformat(),
                    end_date_time=slot.end.isoformat(),
                    practitioner_id=slot.practitioner_id,
                    scheduler_config_id=slot.scheduler_config_id,
                )
            )
    return msgspec.json.encode(
        s.Availability(
            are_practitioners_selectable=selectable,
            time_zone=time_zone,
            practitioners=[
                s.PractitionerAvailability(
                    practitioner_id=pid,
                    display_name=names[pid],
                    first_available_slot=first.get(pid),
                )
                for pid in practitioner_ids
            ],
            slots_by_date=by_date,
        )
    )


@st.composite
def cases(draw):
    configs, kw = draw(scenarios())
    zone = configs[0].time_zone  # one location: every config in its zone
    configs = [msgspec.structs.replace(c, time_zone=zone) for c in configs]
    pids = sorted({c.practitioner_id for c in configs})
    query = SlotSearch(
        setting_id=1,
        location_id=1,
        appointment_type_id=draw(st.sampled_from([1, 2])),
        range_start=kw["range_start"],
        range_end=max(kw["range_end"], kw["range_start"] + timedelta(minutes=1)),
    )
    scope = Scope(
        query=query,
        configs=configs,
        rows=[],
        practitioner_ids=pids,
        names={p: f'Dr "{p}" Ruiz' for p in pids},
        time_zone=zone,
        selectable=draw(st.booleans()),
        duration_minutes=kw["duration_minutes"],
        notice=draw(st.sampled_from(NOTICES)),
        forward=draw(st.sampled_from(FORWARDS)),
    )
    return scope, [b.span() for b in kw["busy"]], kw["now"]


def expected(scope: Scope, busy: list[e.BusySpan], now: datetime) -> bytes:
    query = scope.query
    earliest = earliest_start(now, *scope.notice)
    latest = latest_start(now, *scope.forward)
    slots = e.compute_slots(
        scope.configs,
        duration_minutes=scope.duration_minutes,
        busy=busy,
        now=now,
        min_notice=earliest - now,
        max_ahead=None if latest is None else latest - now,
        range_start=query.range_start,
        range_end=query.range_end,
        appointment_type_id=query.appointment_type_id,
    )
    return reference_response(
        slots,
        selectable=scope.selectable,
        time_zone=scope.time_zone,
        practitioner_ids=scope.practitioner_ids,
        names=scope.names,
        busy=busy,
    )


PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(cases())
def test_the_plan_encodes_to_the_slot_object_response(case):
    scope, busy, now = case
    found = plan(scope, busy, now, scope.query.range_start, scope.query.range_end)
    assert encode(found) == expected(scope, busy, now)


@PROPERTY
@given(cases())
def test_whole_days_cut_to_the_range_give_the_same_response(case):
    scope, busy, now = case
    query, zone = scope.query, scope.time_zone
    first, last = span(query.range_start, query.range_end)
    ordinals = list(
        range(
            e.local_datetime(zone, first).toordinal(), e.local_datetime(zone, last).toordinal() + 1
        )
    )
    slack = timedelta(hours=3)
    start = e.utc_datetime(midnight(zone, ordinals[0])) - slack
    end = e.utc_datetime(midnight(zone, ordinals[-1] + 1)) + slack
    days = days_of(plan(scope, busy, now, start, end), ordinals)
    assert [d.ordinal for d in days] == ordinals
    assert assemble(scope, days, first, last) == expected(scope, busy, now)


def test_unselectable_times_go_to_the_practitioner_least_booked_that_day():
    day = datetime(2026, 3, 10, 13, 0, tzinfo=e.UTC)  # 09:00 in New York
    rule = e.Rule(1, datetime(2026, 1, 1, 9).time(), datetime(2026, 1, 1, 12).time())
    configs = [
        e.SchedulerConfig(id=100 + pid, practitioner_id=pid, location_id=1,
                          time_zone="America/New_York", appointment_type_ids=(1,),
                          slot_interval_minutes=30, rules=(rule,))
        for pid in (7, 8)
    ]  # fmt: skip
    # practitioner 7 already has a visit at 11:30 that day
    busy = [e.BusySpan(7, int(day.timestamp()) + 9000, int(day.timestamp()) + 10800, 107,
                       int(day.timestamp()) + 9000)]  # fmt: skip
    scope = Scope(
        query=SlotSearch(setting_id=1, location_id=1, appointment_type_id=1,
                         range_start=day, range_end=day + timedelta(hours=3)),
        configs=configs, rows=[], practitioner_ids=[7, 8], names={7: "A", 8: "B"},
        time_zone="America/New_York", selectable=False, duration_minutes=30,
        notice=NOTICES[0], forward=FORWARDS[0],
    )  # fmt: skip
    body = encode(plan(scope, busy, day - timedelta(days=1), day, day + timedelta(hours=3)))
    assert body == expected(scope, busy, day - timedelta(days=1))
    times = msgspec.json.decode(body)["slotsByDate"]["3/10/2026"]
    assert {t["practitionerId"] for t in times} == {8}
