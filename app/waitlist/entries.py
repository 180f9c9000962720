"""Joining the waitlist: an earlier-request from a manage link, a window from a verified
widget patient, or either from a partner. Each is one transaction; the limits that keep one
patient or one address from flooding the list are here (docs/threat-model.md)."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
import msgspec

from app.appointments import changes
from app.appointments import store as appointment_store
from app.availability.service import MAX_RANGE
from app.core.crud import Row
from app.core.db import transaction
from app.core.errors import Problem, invalid, not_found
from app.core.instants import check_instant
from app.selfscheduling import store as settings_store
from app.waitlist import schemas as s
from app.waitlist import store

# live entries one patient may hold at once (earlier-requests included)
MAX_ACTIVE_PER_PATIENT = 3
# entries the widget accepts from one client address per hour (any patients)
MAX_JOINS_PER_ORIGIN_PER_HOUR = 10


class NewEntry(msgspec.Struct, frozen=True, kw_only=True):
    setting_id: int
    patient_id: int
    appointment_type_id: int
    location_id: int
    practitioner_ids: tuple[int, ...]
    window_start: datetime
    window_end: datetime
    appointment_id: int | None = None
    locale: str = "en"
    source: str
    origin_hash: str | None = None


def waitlist_setting(setting: Row) -> Row:
    if not setting["active"]:
        raise Problem(422, "setting_inactive", "This self-scheduling setting is not active.")
    if not setting["waitlist"]["enabled"]:
        raise Problem(422, "waitlist_disabled", "This practice does not keep a waitlist online.")
    return setting


async def earlier(
    pool: asyncpg.Pool,
    appointment: Row,
    not_before: datetime | None,
    lang: str | None,
    now: datetime,
    *,
    source: str = "MANAGE",
) -> tuple[int, bool]:
    """(entry id, created?) — asking again for the same appointment returns its live entry,
    with the new `notBefore`."""
    async with transaction(pool) as conn:
        appointment = await appointment_store.get(
            conn, appointment["account_id"], appointment["id"], for_update=True
        )
        if appointment["status"] not in changes.RESCHEDULABLE:
            raise Problem(
                409, "not_reschedulable", "Only a scheduled appointment can be moved earlier."
            )
        if appointment["start_at"] <= now:
            raise Problem(409, "appointment_in_past", "The appointment has already started.")
        if not_before is not None:
            check_instant(not_before, "notBefore")
        start = max(now, not_before or now)
        if start >= appointment["start_at"]:
            raise invalid("notBefore", "must be before the appointment's start")
        owner = (
            await appointment_store.config_owner(
                conn, appointment["account_id"], appointment["scheduler_config_id"]
            )
            if appointment["scheduler_config_id"] is not None
            else None
        )
        if owner is None:
            raise Problem(422, "waitlist_disabled", "This appointment cannot be moved online.")
        setting = waitlist_setting(
            await settings_store.get_setting(conn, appointment["account_id"], owner["setting_id"])
        )
        existing = await store.active_earlier(conn, appointment["id"])
        if existing is not None:
            await store.set_window_start(conn, existing["id"], start)
            return existing["id"], False
        entry = NewEntry(
            setting_id=setting["id"],
            patient_id=appointment["patient_id"],
            appointment_type_id=appointment["appointment_type_id"],
            location_id=appointment["location_id"],
            # a patient moving earlier keeps their practitioner where they could choose one
            practitioner_ids=(
                (appointment["practitioner_id"],) if setting["are_practitioners_selectable"] else ()
            ),
            window_start=start,
            window_end=appointment["start_at"],
            appointment_id=appointment["id"],
            locale=lang or "en",
            source=source,
        )
        return await _insert(conn, appointment["account_id"], entry, now), True


def check_window(start: datetime, end: datetime, now: datetime) -> None:
    check_instant(start, "windowStart")
    check_instant(end, "windowEnd")
    if end <= start:
        raise Problem(400, "invalid_range", "windowEnd must be after windowStart.")
    if end - start > MAX_RANGE:
        raise Problem(400, "range_too_long", "The window may span at most 62 days.")
    if end <= now:
        raise invalid("windowEnd", "must be in the future")


def check_choice(setting: Row, type_id: int, location_id: int, practitioners: list[int]) -> None:
    if location_id not in setting["location_ids"]:
        raise invalid("locationId", "is not a location of this self-scheduling setting")
    if type_id not in setting["appointment_type_ids"]:
        raise invalid("appointmentTypeId", "is not an appointment type of this setting")
    if set(practitioners) - set(setting["practitioner_ids"]):
        raise invalid("practitionerIds", "include a practitioner who is not in this setting")


async def join(pool: asyncpg.Pool, account_id: int, entry: NewEntry, now: datetime) -> int:
    """A window entry (the widget's and partners'); the caller checked the setting."""
    check_window(entry.window_start, entry.window_end, now)
    async with transaction(pool) as conn:
        if entry.origin_hash is not None:
            since = now - timedelta(hours=1)
            if await store.joins_from_origin(conn, entry.origin_hash, since) >= (
                MAX_JOINS_PER_ORIGIN_PER_HOUR
            ):
                raise Problem(
                    429,
                    "rate_limited",
                    "Too many waitlist requests from this address; try again later.",
                    headers={"Retry-After": "3600"},
                    retryAfterSeconds=3600,
                )
        return await _insert(conn, account_id, entry, now)


async def _insert(conn: asyncpg.Connection, account_id: int, entry: NewEntry, now: datetime) -> int:
    # serialise one patient's joins so the cap below cannot be raced past
    await conn.execute("SELECT 1 FROM patients WHERE id = $1 FOR UPDATE", entry.patient_id)
    if await store.active_count_for_patient(conn, entry.patient_id) >= MAX_ACTIVE_PER_PATIENT:
        raise Problem(
            409,
            "waitlist_limit_reached",
            f"A patient may wait for at most {MAX_ACTIVE_PER_PATIENT} times at once.",
        )
    return await store.insert_entry(
        conn,
        account_id=account_id,
        setting_id=entry.setting_id,
        patient_id=entry.patient_id,
        kind="EARLIER" if entry.appointment_id is not None else "WINDOW",
        appointment_id=entry.appointment_id,
        appointment_type_id=entry.appointment_type_id,
        location_id=entry.location_id,
        practitioner_ids=entry.practitioner_ids,
        window_start=entry.window_start,
        window_end=entry.window_end,
        locale=entry.locale,
        source=entry.source,
        origin_hash=entry.origin_hash,
        now=now,
    )


async def partner_add(
    pool: asyncpg.Pool, account_id: int, body: s.PartnerEntryIn, now: datetime
) -> int:
    setting = waitlist_setting(
        await settings_store.get_setting(pool, account_id, body.self_scheduling_setting_id)
    )
    patient = await pool.fetchval(
        "SELECT id FROM patients WHERE account_id = $1 AND id = $2", account_id, body.patient_id
    )
    if patient is None:
        raise not_found("patient")
    if body.appointment_id is not None:
        appointment = await appointment_store.get(pool, account_id, body.appointment_id)
        if appointment["patient_id"] != body.patient_id:
            raise invalid("appointmentId", "is not an appointment of this patient")
        entry_id, _ = await earlier(
            pool, appointment, body.window_start, body.lang, now, source="PARTNER"
        )
        return entry_id
    missing = [
        name
        for name, value in (
            ("appointmentTypeId", body.appointment_type_id),
            ("locationId", body.location_id),
            ("windowStart", body.window_start),
            ("windowEnd", body.window_end),
        )
        if value is None
    ]
    if missing:
        raise invalid(missing[0], "is required without appointmentId")
    practitioners = body.practitioner_ids or []
    check_choice(setting, body.appointment_type_id, body.location_id, practitioners)  # type: ignore[arg-type]
    return await join(
        pool,
        account_id,
        NewEntry(
            setting_id=setting["id"],
            patient_id=body.patient_id,
            appointment_type_id=body.appointment_type_id,  # type: ignore[arg-type]
            location_id=body.location_id,  # type: ignore[arg-type]
            practitioner_ids=tuple(dict.fromkeys(practitioners)),
            window_start=body.window_start,  # type: ignore[arg-type]
            window_end=body.window_end,  # type: ignore[arg-type]
            locale=body.lang or "en",
            source="PARTNER",
        ),
        now,
    )


async def remove(pool: asyncpg.Pool, account_id: int, entry_id: int, now: datetime) -> None:
    async with transaction(pool) as conn:
        entry = await store.get_entry(conn, account_id, entry_id, for_update=True)
        if entry["status"] == "ACTIVE":
            await store.end_entry(conn, entry["id"], "REMOVED", "REMOVED", now)


def to_entry(row: Row) -> s.Entry:
    return s.Entry(
        id=row["id"],
        self_scheduling_setting_id=row["setting_id"],
        patient_id=row["patient_id"],
        kind=row["kind"],
        appointment_id=row["appointment_id"],
        appointment_type_id=row["appointment_type_id"],
        location_id=row["location_id"],
        practitioner_ids=list(row["practitioner_ids"]),
        window_start=row["window_start"],
        window_end=row["window_end"],
        status=row["status"],
        source=row["source"],
        created_at=row["created_at"],
        ended_at=row["ended_at"],
        end_reason=row["end_reason"],
    )
