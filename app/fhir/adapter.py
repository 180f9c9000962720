"""The facade's only door into availability and booking: every call to the engine, the
attempt flow and appointment changes goes through here, at their highest public level, so
that FHIR answers and FHIR bookings are exactly the partner API's and the widget's.

A FHIR hold or booking is a self-scheduling attempt with source `FHIR`: the same hold table
and expiry as a widget hold, the same booking transaction (practitioner lock, engine
re-check, exclusion constraint), and so the same funnel, events, webhooks, reminders and
audit. The EHR names the patient itself, as a partner does on its own booking calls."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from app.appointments import changes
from app.appointments import store as appointment_store
from app.appointments.schemas import SlotRequest
from app.attempts import service as attempts
from app.attempts import store as attempt_store
from app.attempts.schemas import AttemptIn
from app.availability.service import SlotSearch, search
from app.availability.service import check_range as check_availability_range
from app.config import Settings
from app.core.db import transaction
from app.core.errors import not_found
from app.fhir.ids import SlotKey
from app.fhir.resources import SlotView
from app.fhir.store import ScheduleRow

SOURCE = "FHIR"


async def free_slots(
    conn: asyncpg.Connection | asyncpg.Pool,
    account_id: int,
    schedules: list[ScheduleRow],
    service_id: int,
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[SlotView]:
    """Every slot the engine offers now for this appointment type on these schedules, in
    [start, end), in start order. One engine search per (setting, location)."""
    groups: dict[tuple[int, int], list[ScheduleRow]] = defaultdict(list)
    for row in schedules:
        if row.active and service_id in row.appointment_type_ids:
            groups[(row.setting_id, row.location_id)].append(row)
    views: list[SlotView] = []
    for (setting_id, location_id), rows in groups.items():
        wanted = {row.id: row for row in rows}
        result = await search(
            conn,
            account_id,
            SlotSearch(
                setting_id=setting_id,
                location_id=location_id,
                appointment_type_id=service_id,
                range_start=start,
                range_end=end,
                practitioner_ids=tuple(sorted({row.practitioner_id for row in rows})),
                config_id=rows[0].id if len(rows) == 1 else None,
            ),
            now,
        )
        zone = ZoneInfo(rows[0].time_zone)
        views.extend(
            SlotView(
                SlotKey(slot.scheduler_config_id, service_id, slot.start),
                slot.end,
                zone,
                practitioner_id=slot.practitioner_id,
                location_id=slot.location_id,
            )
            for slot in result.slots
            if slot.scheduler_config_id in wanted
        )
    views.sort(key=lambda v: (v.key.start, v.practitioner_id, v.key.schedule_id))
    return views


async def is_free(
    conn: asyncpg.Connection | asyncpg.Pool,
    account_id: int,
    schedule: ScheduleRow,
    key: SlotKey,
    now: datetime,
) -> SlotView | None:
    found = await free_slots(
        conn,
        account_id,
        [schedule],
        key.service_id,
        key.start,
        key.start + timedelta(minutes=1),
        now,
    )
    return next((v for v in found if v.key.start == key.start), None)


def _request(schedule: ScheduleRow, key: SlotKey) -> SlotRequest:
    return SlotRequest(
        appointment_type_id=key.service_id,
        location_id=schedule.location_id,
        practitioner_id=schedule.practitioner_id,
        scheduler_config_id=schedule.id,
        start_date_time=key.start,
    )


async def _start(pool: asyncpg.Pool, account_id: int, schedule: ScheduleRow, now: datetime) -> int:
    attempt = await attempts.start(
        pool,
        account_id,
        AttemptIn(self_scheduling_setting_id=schedule.setting_id),
        now,
        source=SOURCE,
    )
    return attempt.id


async def hold(
    pool: asyncpg.Pool,
    settings: Settings,
    account_id: int,
    schedule: ScheduleRow,
    key: SlotKey,
    now: datetime,
) -> tuple[int, datetime]:
    """(attempt id, expiry) of a new hold on the slot; 409 `slot_unavailable` when taken."""
    attempt_id = await _start(pool, account_id, schedule, now)
    held = await attempts.hold(
        pool, settings, account_id, attempt_id, _request(schedule, key), now, staff=True
    )
    return attempt_id, held.expires_at


async def fhir_attempt(pool: asyncpg.Pool, account_id: int, attempt_id: int) -> int:
    """The attempt behind a `hold-…` id: only a FHIR attempt of this account (else 404)."""
    attempt = await attempt_store.get(pool, account_id, attempt_id)
    if attempt.source != SOURCE:
        raise not_found("appointment")
    return attempt.id


async def release(pool: asyncpg.Pool, account_id: int, attempt_id: int) -> None:
    """Give a FHIR attempt's held slot back at once (its attempt is abandoned when idle)."""
    attempt_id = await fhir_attempt(pool, account_id, attempt_id)
    async with transaction(pool) as conn:
        await appointment_store.release_hold(conn, attempt_id)


async def book(
    pool: asyncpg.Pool,
    settings: Settings,
    account_id: int,
    schedule: ScheduleRow,
    key: SlotKey,
    *,
    patient_id: int,
    attempt_id: int | None,
    now: datetime,
) -> int:
    """Book the slot for the patient (consuming the attempt's hold); the appointment id."""
    if attempt_id is None:
        attempt_id = await _start(pool, account_id, schedule, now)
    booked = await attempts.book(
        pool, settings, account_id, attempt_id, _request(schedule, key), now, patient_id=patient_id
    )
    return booked.appointment["id"]


async def cancel(
    pool: asyncpg.Pool,
    settings: Settings,
    account_id: int,
    appointment_id: int,
    *,
    reason: str | None,
    now: datetime,
) -> None:
    await changes.cancel(
        pool, settings, account_id, appointment_id, actor=changes.PARTNER, now=now, reason=reason
    )


async def move(
    pool: asyncpg.Pool,
    settings: Settings,
    account_id: int,
    appointment_id: int,
    *,
    start: datetime,
    practitioner_id: int | None,
    now: datetime,
) -> None:
    await changes.reschedule(
        pool,
        settings,
        account_id,
        appointment_id,
        start=start,
        actor=changes.PARTNER,
        now=now,
        practitioner_id=practitioner_id,
    )


async def set_note(
    pool: asyncpg.Pool, account_id: int, appointment_id: int, note: str, now: datetime
) -> None:
    await changes.update_note(
        pool, account_id, appointment_id, note, actor=changes.PARTNER, now=now
    )


def check_range(start: datetime, end: datetime) -> None:
    """400 `invalid_range` / `range_too_long` exactly as the availability search says."""
    check_availability_range(start, end)
