"""Booking decisions: is this exact slot offered right now, and write it if so.

Holds and bookings run in one transaction that first takes the practitioner's advisory lock,
then asks the availability engine (with fresh busy times) whether the requested start is an
offered slot. The appointments exclusion constraint is still the last word: a violation there
is answered like any other lost slot (409 `slot_unavailable` with alternatives).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg
import msgspec

from app import events
from app.appointments import notify, store
from app.appointments import schemas as s
from app.availability import engine as e
from app.availability import store as availability_store
from app.availability.service import SlotSearch, search
from app.config import Settings
from app.core.crud import Row
from app.core.errors import Problem, invalid
from app.core.instants import check_instant
from app.notifications.messages import APPOINTMENT_CONFIRMATION
from app.reminders import service as reminders

ALTERNATIVES_WINDOW = timedelta(days=7)


class Target(msgspec.Struct, frozen=True, kw_only=True):
    """A validated slot request with the rows it refers to."""

    request: s.SlotRequest
    config: availability_store.ConfigRow
    inputs: availability_store.Inputs  # setting, type and configs, read once per transaction
    minutes: int
    telehealth: bool
    form_count: int


async def check_request(
    conn: asyncpg.Connection,
    account_id: int,
    setting: Row,
    req: s.SlotRequest,
    field: str = "startDateTime",
) -> Target:
    """400 unless the start is an instant we accept, the config belongs to the setting and the
    ids agree with it; `field` names the start in the caller's body."""
    if req.start_date_time.utcoffset() is None:
        raise invalid(field, "must include a UTC offset, e.g. 2026-03-09T09:00:00-04:00")
    check_instant(req.start_date_time, field)
    inputs = await availability_store.load_inputs(
        conn, account_id, setting["id"], req.appointment_type_id, req.location_id
    )
    config = next((c for c in inputs.configs if c.id == req.scheduler_config_id), None)
    if config is None:
        raise invalid("schedulerConfigId", "is not a scheduler config of this setting")
    if config.practitioner_id != req.practitioner_id:
        raise invalid("practitionerId", "does not match the scheduler config")
    if config.location_id != req.location_id:
        raise invalid("locationId", "does not match the scheduler config")
    if (
        req.appointment_type_id not in config.appointment_type_ids
        or req.appointment_type_id not in setting["appointment_type_ids"]
    ):
        raise invalid("appointmentTypeId", "is not offered by the scheduler config")
    kind = inputs.kind
    if kind is None:
        raise invalid("appointmentTypeId", "is not an appointment type of this account")
    return Target(
        request=req,
        config=config,
        inputs=inputs,
        minutes=kind.duration_minutes,
        telehealth=kind.telehealth,
        form_count=kind.form_count,
    )


async def offered_slot(
    conn: asyncpg.Connection,
    account_id: int,
    setting: Row,
    target: Target,
    now: datetime,
    *,
    except_attempt_id: int | None,
    except_appointment_id: int | None = None,
) -> e.Slot | None:
    req = target.request
    found = await search(
        conn,
        account_id,
        SlotSearch(
            setting_id=setting["id"],
            location_id=req.location_id,
            appointment_type_id=req.appointment_type_id,
            range_start=req.start_date_time,
            range_end=req.start_date_time + timedelta(minutes=1),
            practitioner_ids=(req.practitioner_id,),
            config_id=req.scheduler_config_id,
            except_attempt_id=except_attempt_id,
            except_appointment_id=except_appointment_id,
        ),
        now,
        inputs=target.inputs,
        require_active=False,
    )
    wanted = e.to_unix_ms(req.start_date_time)
    return next((slot for slot in found.slots if e.to_unix_ms(slot.start) == wanted), None)


async def alternatives(
    conn: asyncpg.Connection,
    account_id: int,
    setting: Row,
    req: s.SlotRequest,
    now: datetime,
    *,
    except_attempt_id: int | None,
    except_appointment_id: int | None = None,
) -> list[s.Alternative]:
    """Up to three open slots near the requested start (same location and type): the
    requested practitioner's nearest first, then — only to fill up — other practitioners'
    nearest, each named, so a patient never moves to someone else unawares."""
    start = max(req.start_date_time - ALTERNATIVES_WINDOW, now)
    found = await search(
        conn,
        account_id,
        SlotSearch(
            setting_id=setting["id"],
            location_id=req.location_id,
            appointment_type_id=req.appointment_type_id,
            range_start=start,
            range_end=max(start, req.start_date_time) + ALTERNATIVES_WINDOW,
            except_attempt_id=except_attempt_id,
            except_appointment_id=except_appointment_id,
        ),
        now,
        require_active=False,
    )
    chosen = req.practitioner_id
    picked = e.nearest_slots(
        [x for x in found.slots if x.practitioner_id == chosen], req.start_date_time, 3
    )
    if len(picked) < 3:
        others = [x for x in found.slots if x.practitioner_id != chosen]
        picked += e.nearest_slots(others, req.start_date_time, 3 - len(picked))
    names = await availability_store.display_names(
        conn, account_id, list({x.practitioner_id for x in picked})
    )
    return [
        s.Alternative(
            start_date_time=slot.start.isoformat(),
            start_unix=e.to_unix_ms(slot.start),
            practitioner_id=slot.practitioner_id,
            practitioner_name=names.get(slot.practitioner_id, ""),
            scheduler_config_id=slot.scheduler_config_id,
            location_id=slot.location_id,
        )
        for slot in picked
    ]


def slot_unavailable(options: list[s.Alternative]) -> Problem:
    return Problem(
        409,
        "slot_unavailable",
        "That time is no longer available.",
        alternatives=[msgspec.to_builtins(a) for a in options],
    )


async def require_offered(
    conn: asyncpg.Connection,
    account_id: int,
    setting: Row,
    target: Target,
    now: datetime,
    *,
    except_attempt_id: int | None,
    except_appointment_id: int | None = None,
) -> e.Slot:
    """Lock the practitioner's time and return the slot, or raise 409 with alternatives."""
    await store.lock_practitioner(conn, target.request.practitioner_id)
    slot = await offered_slot(
        conn,
        account_id,
        setting,
        target,
        now,
        except_attempt_id=except_attempt_id,
        except_appointment_id=except_appointment_id,
    )
    if slot is None:
        raise slot_unavailable(
            await alternatives(
                conn,
                account_id,
                setting,
                target.request,
                now,
                except_attempt_id=except_attempt_id,
                except_appointment_id=except_appointment_id,
            )
        )
    return slot


async def insert_appointment(
    conn: asyncpg.Connection,
    account_id: int,
    setting: Row,
    target: Target,
    slot: e.Slot,
    now: datetime,
    *,
    patient_id: int,
    attempt_id: int | None,
    manage_token_hash: str | None,
    source: s.Source,
    rescheduled_from_id: int | None = None,
    note: str | None = None,
) -> int:
    try:
        async with conn.transaction():  # a savepoint: the constraint may still say no
            appointment_id = await store.insert(
                conn,
                account_id=account_id,
                location_id=target.request.location_id,
                practitioner_id=target.request.practitioner_id,
                patient_id=patient_id,
                appointment_type_id=target.request.appointment_type_id,
                scheduler_config_id=target.request.scheduler_config_id,
                start=slot.start,
                minutes=target.minutes,
                buffer_before=target.config.buffer_before_minutes,
                buffer_after=target.config.buffer_after_minutes,
                telehealth=target.telehealth,
                form_count=target.form_count,
                generated_from=slot.generated_from,
                attempt_id=attempt_id,
                manage_token_hash=manage_token_hash,
                rescheduled_from_id=rescheduled_from_id,
                source=source,
                note=note,
            )
    except asyncpg.ExclusionViolationError:
        options = (
            await alternatives(
                conn, account_id, setting, target.request, now, except_attempt_id=attempt_id
            )
            if setting is not None
            else []
        )
        raise slot_unavailable(options) from None
    # every booking path gets its reminders; the row is this transaction's own
    await reminders.sync(conn, appointment_id, now, new=True)
    return appointment_id


class Created(msgspec.Struct, frozen=True):
    appointment_id: int
    manage_token: str


async def create(
    conn: asyncpg.Connection,
    settings: Settings,
    account_id: int,
    setting: Row | None,
    target: Target,
    now: datetime,
    *,
    patient_id: int,
    attempt_id: int | None,
    source: s.Source,
    note: str | None = None,
    override_availability: bool = False,
    contacts: notify.Contacts | None = None,
    extra: dict[str, object] | None = None,
) -> Created:
    """Every new appointment goes through here (attempt bookings and direct ones): the slot is
    re-checked like any booking unless `override_availability` (the practitioner's lock and
    the exclusion constraint still hold), then the row, the patient's confirmation with a
    manage link, and `appointment.created` — all in the caller's transaction."""
    if override_availability:
        await store.lock_practitioner(conn, target.request.practitioner_id)
        slot = _requested_slot(target)
    else:
        assert setting is not None, "a re-checked booking needs its setting"
        slot = await require_offered(
            conn, account_id, setting, target, now, except_attempt_id=attempt_id
        )
    token, token_hash = notify.new_manage_token(settings.secret_key)
    appointment_id = await insert_appointment(
        conn,
        account_id,
        setting,  # type: ignore[arg-type]  # None only with override: no alternatives
        target,
        slot,
        now,
        patient_id=patient_id,
        attempt_id=attempt_id,
        manage_token_hash=token_hash,
        source=source,
        note=note,
    )
    if contacts is None:
        contacts = await notify.patient_contacts(conn, patient_id)
    await notify.announce(
        conn,
        account_id=account_id,
        appointment_id=appointment_id,
        event_type=events.APPOINTMENT_CREATED,
        purpose=APPOINTMENT_CONFIRMATION,
        contacts=contacts,
        public_url=settings.public_url,
        secret_key=settings.secret_key,
        now=now,
        manage_token=token,
        extra={**(extra or {}), "source": source, "generatedFromType": slot.generated_from},
    )
    return Created(appointment_id, token)


def _requested_slot(target: Target) -> e.Slot:
    """The requested time as a slot, for a booking that overrides availability."""
    req = target.request
    return e.Slot(
        start=req.start_date_time,
        end=req.start_date_time + timedelta(minutes=target.minutes),
        practitioner_id=req.practitioner_id,
        scheduler_config_id=req.scheduler_config_id,
        location_id=req.location_id,
        generated_from=None,  # type: ignore[arg-type]  # neither a rule nor an override
    )


def to_appointment(row: Row) -> s.Appointment:
    tz = e.zone(row["time_zone"])
    return s.Appointment(
        id=row["id"],
        appointment_type_id=row["appointment_type_id"],
        location_id=row["location_id"],
        practitioner_id=row["practitioner_id"],
        patient_id=row["patient_id"],
        start_date_time=row["start_at"].astimezone(tz).isoformat(),
        end_date_time=row["end_at"].astimezone(tz).isoformat(),
        status=row["status"],
        telehealth=row["telehealth"],
        form_count=row["form_count"],
        created_at=row["created_at"],
    )
