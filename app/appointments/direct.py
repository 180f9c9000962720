"""A booking made by a partner or staff outside the widget (Lobbie `createAppointment`,
`POST /location/{locationId}/appointment`).

The time is re-checked like any booking, against the scheduler config of the practitioner at
this location offering the type (or the one named), through `booking.create` — the one path
every new appointment takes. `overrideAvailability` (the caller must hold the `config` scope)
skips the availability check, never the practitioner's lock nor the exclusion constraint, so
even an override cannot double-book.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from app.appointments import booking, store
from app.appointments import schemas as s
from app.config import Settings
from app.core.crud import Row
from app.core.db import transaction
from app.core.errors import invalid, not_found
from app.core.instants import check_instant
from app.practice import store as practice_store
from app.selfscheduling import store as settings_store

DIRECT = "PARTNER"
# an override needs no config: then the appointment has no buffers
_NO_CONFIG = {"id": None, "buffer_before_minutes": 0, "buffer_after_minutes": 0}


def requested_start(body: s.LocationAppointmentIn) -> datetime:
    start = body.start_time or body.start_date_time
    if start is None:
        raise invalid("startTime", "is required (or startDateTime)")
    if body.start_time and body.start_date_time and body.start_time != body.start_date_time:
        raise invalid("startDateTime", "differs from startTime; send one of them")
    if start.utcoffset() is None:
        raise invalid("startTime", "must include a UTC offset, e.g. 2026-03-09T09:00:00-04:00")
    return check_instant(start, "startTime")


async def _config_id(
    conn: asyncpg.Connection, account_id: int, location_id: int, body: s.LocationAppointmentIn
) -> int | None:
    if body.scheduler_config_id is not None:
        if await store.config_owner(conn, account_id, body.scheduler_config_id) is None:
            raise not_found("scheduler config")
        return body.scheduler_config_id
    return await store.find_config(
        conn,
        account_id,
        practitioner_id=body.practitioner_id,
        location_id=location_id,
        appointment_type_id=body.appointment_type_id,
        prefer_setting_id=None,
    )


async def _referenced(
    conn: asyncpg.Connection, account_id: int, location_id: int, body: s.LocationAppointmentIn
) -> Row:
    """404 unless every id in the path and body is the account's; the appointment type row."""
    await practice_store.locations.get(conn, account_id, location_id)
    await practice_store.practitioners.get(conn, account_id, body.practitioner_id)
    kind = await practice_store.appointment_types.get(conn, account_id, body.appointment_type_id)
    exists = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM patients WHERE account_id = $1 AND id = $2)",
        account_id,
        body.patient_id,
    )
    if not exists:
        raise not_found("patient")
    return kind


async def create(
    pool: asyncpg.Pool,
    settings: Settings,
    account_id: int,
    location_id: int,
    body: s.LocationAppointmentIn,
    now: datetime,
) -> Row:
    start = requested_start(body)
    async with transaction(pool) as conn:
        kind = await _referenced(conn, account_id, location_id, body)
        config_id = await _config_id(conn, account_id, location_id, body)
        request = s.SlotRequest(
            appointment_type_id=body.appointment_type_id,
            location_id=location_id,
            practitioner_id=body.practitioner_id,
            scheduler_config_id=config_id,  # type: ignore[arg-type]  # None: override only
            start_date_time=start,
        )
        if config_id is None:
            if not body.override_availability:
                raise invalid(
                    "practitionerId",
                    "has no scheduler config at this location offering this appointment type",
                )
            setting, target = None, _unconfigured(request, kind)
        else:
            owner = await store.config_owner(conn, account_id, config_id)
            setting = await settings_store.get_setting(conn, account_id, owner["setting_id"])  # type: ignore[index]
            target = await booking.check_request(conn, account_id, setting, request)
        created = await booking.create(
            conn,
            settings,
            account_id,
            setting,
            target,
            now,
            patient_id=body.patient_id,
            attempt_id=None,
            source=DIRECT,
            note=body.note,
            override_availability=body.override_availability,
        )
        return await store.get(conn, account_id, created.appointment_id)


def _unconfigured(request: s.SlotRequest, kind: Row) -> booking.Target:
    return booking.Target(
        request=request,
        config=_NO_CONFIG,  # type: ignore[arg-type]
        configs=[],
        kind=kind,
        minutes=kind["duration_minutes"],
        telehealth=kind["telehealth"],
        form_count=kind["form_count"],
    )
