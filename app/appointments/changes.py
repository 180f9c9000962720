"""Changes to an existing appointment: cancel, reschedule, status, note.

Shared by the partner API (`PUT /location/{id}/appointment/{id}`) and the patient's manage
link. Every public operation is one transaction that first locks the appointment row, then —
when the appointment's time is (re)claimed — the practitioner's advisory lock, the same lock
bookings and holds take. A reschedule moves the *same* row (its id stays stable) and is checked
exactly like a booking: the config must belong to a setting that offers the location, type and
practitioner, and the new start must be an offered slot right now (the appointment's own time
does not block it). The exclusion constraint stays the last word: its violation is a 409
`slot_unavailable` with alternatives.

Status rules (the `actor` "patient" is the manage link; anything else is staff/partner):
- cancellable: SCHEDULED, CONFIRMED, CHECKED_IN, NO_SHOW for partners; SCHEDULED, CONFIRMED
  for patients, and only before the appointment starts (409 `appointment_in_past`). Anything
  else is 409 `not_cancellable` (already CANCELLED/RESCHEDULED/VOIDED, or the visit happened:
  IN_TREATMENT, CHECKED_OUT).
- reschedulable: SCHEDULED, CONFIRMED (409 `not_reschedulable` otherwise); the status is kept.
  A patient's move stays within the setting the appointment was booked through (400 for
  another setting's config; 409 `not_reschedulable` when its config is gone).
- a partner may set any of the nine statuses; CANCELLED goes through `cancel`. Moving from an
  off-calendar status (CANCELLED, RESCHEDULED, VOIDED) back to a live one reclaims the time:
  409 `slot_unavailable` when another appointment or an unexpired hold now has it.
- the patient is notified of cancellations (not of the clean-up of a past appointment), of
  reschedules and of an upcoming appointment put back on the calendar (the confirmation),
  unless the partner's PUT says `notifyPatient: false` (the practice tells them itself);
  `appointment.cancelled` / `appointment.rescheduled` events always, with `patientNotified`;
  every status change (a cancellation included) also emits
  `appointment.status_changed`, plus `appointment.confirmed` when it confirms, and appears in
  the appointment's `statusHistory` with the `reason` given for it. The reason is free text
  the practice wrote (it may concern the patient's health): it is stored on the change (and as
  the cancellation's reason) and read back through the audited partner API only; events,
  patient messages and logs never carry it.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from app import events
from app.appointments import booking, notify, store
from app.appointments import schemas as s
from app.availability import engine as e
from app.config import Settings
from app.core.crud import Row
from app.core.db import transaction
from app.core.errors import Problem, invalid, not_found
from app.core.instants import check_instant
from app.notifications.messages import (
    APPOINTMENT_CANCELLED,
    APPOINTMENT_CONFIRMATION,
    APPOINTMENT_RESCHEDULED,
)
from app.reminders import service as reminders
from app.selfscheduling import store as settings_store

PATIENT = "patient"
PARTNER = "partner"

# the statuses the exclusion constraint (and availability) ignore: the time is free
OFF_CALENDAR = frozenset({"CANCELLED", "RESCHEDULED", "VOIDED"})
CANCELLABLE = frozenset({"SCHEDULED", "CONFIRMED", "CHECKED_IN", "NO_SHOW"})
PATIENT_CANCELLABLE = frozenset({"SCHEDULED", "CONFIRMED"})
RESCHEDULABLE = frozenset({"SCHEDULED", "CONFIRMED"})


# ------------------------------------------------------------------ public operations


async def cancel(
    pool: asyncpg.Pool,
    settings: Settings,
    account_id: int,
    appointment_id: int,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
    location_id: int | None = None,
    manage_token: str | None = None,
) -> Row:
    """`manage_token`: the patient's link, when that link cancelled (the notice repeats it);
    otherwise the notice carries a new link. `reason`: shown on the statusHistory entry."""
    async with transaction(pool) as conn:
        appointment = await _locked(conn, account_id, appointment_id, location_id)
        await _cancel(
            conn, settings, appointment, actor=actor, now=now, reason=reason,
            manage_token=manage_token,
        )  # fmt: skip
        return await store.get(conn, account_id, appointment_id)


async def reschedule(
    pool: asyncpg.Pool,
    settings: Settings,
    account_id: int,
    appointment_id: int,
    *,
    start: datetime,
    actor: str,
    now: datetime,
    practitioner_id: int | None = None,
    scheduler_config_id: int | None = None,
    manage_token: str | None = None,
    location_id: int | None = None,
) -> Row:
    """Move the appointment (same id, same status). `manage_token`: the patient's link, when
    that link made the change, so the notice carries it again; None -> a new link."""
    async with transaction(pool) as conn:
        appointment = await _locked(conn, account_id, appointment_id, location_id)
        await reschedule_locked(
            conn,
            settings,
            appointment,
            start=start,
            actor=actor,
            now=now,
            practitioner_id=practitioner_id,
            scheduler_config_id=scheduler_config_id,
            manage_token=manage_token,
        )
        return await store.get(conn, account_id, appointment_id)


async def update_status(
    pool: asyncpg.Pool,
    settings: Settings,
    account_id: int,
    appointment_id: int,
    status: str,
    *,
    actor: str,
    now: datetime,
    location_id: int | None = None,
) -> Row:
    async with transaction(pool) as conn:
        appointment = await _locked(conn, account_id, appointment_id, location_id)
        await _set_status(conn, settings, appointment, status, actor=actor, now=now)
        return await store.get(conn, account_id, appointment_id)


async def confirm(
    pool: asyncpg.Pool,
    settings: Settings,
    account_id: int,
    appointment_id: int,
    *,
    actor: str,
    now: datetime,
) -> Row:
    """The patient confirms (a reminder's reply or confirm link): SCHEDULED -> CONFIRMED,
    only while upcoming; confirming twice is a no-op. Anything else is 409 `not_confirmable`
    (a cancelled appointment is never brought back by a late confirmation)."""
    async with transaction(pool) as conn:
        appointment = await _locked(conn, account_id, appointment_id, None)
        status = appointment["status"]
        if status not in RESCHEDULABLE or appointment["start_at"] <= now:
            raise Problem(409, "not_confirmable", "This appointment can no longer be confirmed.")
        if status != "CONFIRMED":
            await _set_status(conn, settings, appointment, "CONFIRMED", actor=actor, now=now)
        return await store.get(conn, account_id, appointment_id)


async def update_note(
    pool: asyncpg.Pool,
    account_id: int,
    appointment_id: int,
    note: str | None,
    *,
    actor: str,
    now: datetime,
    location_id: int | None = None,
) -> Row:
    async with transaction(pool) as conn:
        appointment = await _locked(conn, account_id, appointment_id, location_id)
        await _set_note(conn, appointment, note, actor=actor, now=now)
        return await store.get(conn, account_id, appointment_id)


async def apply(
    pool: asyncpg.Pool,
    settings: Settings,
    account_id: int,
    appointment_id: int,
    patch: s.AppointmentPatch,
    *,
    actor: str,
    now: datetime,
    location_id: int | None = None,
) -> Row:
    """A partner PUT: any of {status, startTime, practitionerId, note}, in one transaction,
    with the status change's `reason` and `notifyPatient`. Order: note, then the move (new time
    and/or practitioner), then the status — so `{startTime, status: CONFIRMED}` moves and
    confirms. Taking an appointment off the calendar and moving it at once is refused (400); a
    cancelled appointment is restored first (`{status}`), then moved. A `reason` without a
    `status` is refused (400): it would be recorded nowhere."""
    changes = patch.changes()
    if patch.reason is not None and "status" not in changes:
        raise invalid("reason", "explains a status change: send it together with status")
    notify_patient = patch.notify_patient
    start = changes.get("start_time")
    if start is not None:
        if start.utcoffset() is None:
            raise invalid("startTime", "must include a UTC offset, e.g. 2026-03-09T09:00:00-04:00")
        check_instant(start, "startTime")
    moves = "start_time" in changes or "practitioner_id" in changes
    if moves and changes.get("status") in OFF_CALENDAR:
        raise invalid("status", "cannot be set together with a new startTime or practitionerId")
    async with transaction(pool) as conn:
        appointment = await _locked(conn, account_id, appointment_id, location_id)
        if "note" in changes:
            await _set_note(conn, appointment, changes["note"], actor=actor, now=now)
        if moves:
            moved = await reschedule_locked(
                conn,
                settings,
                appointment,
                start=start or appointment["start_at"],
                actor=actor,
                now=now,
                practitioner_id=changes.get("practitioner_id"),
                scheduler_config_id=None,
                manage_token=None,
                notify_patient=notify_patient,
            )
            if moved:
                appointment = await store.get(conn, account_id, appointment_id)
        if "status" in changes:
            await _set_status(
                conn, settings, appointment, changes["status"], actor=actor, now=now,
                reason=patch.reason, notify_patient=notify_patient,
            )  # fmt: skip
        return await store.get(conn, account_id, appointment_id)


# ------------------------------------------------------------------ steps (caller's transaction)


async def _locked(
    conn: asyncpg.Connection, account_id: int, appointment_id: int, location_id: int | None
) -> Row:
    appointment = await store.get(conn, account_id, appointment_id, for_update=True)
    if location_id is not None and appointment["location_id"] != location_id:
        raise not_found("appointment")
    return appointment


def _local(appointment: Row, at: datetime) -> str:
    return at.astimezone(e.zone(appointment["time_zone"])).isoformat()


async def _cancel(
    conn: asyncpg.Connection,
    settings: Settings,
    appointment: Row,
    *,
    actor: str,
    now: datetime,
    reason: str | None,
    manage_token: str | None = None,
    notify_patient: bool = True,
) -> None:
    status = appointment["status"]
    reason = reason or None  # an empty FHIR comment is no reason
    allowed = PATIENT_CANCELLABLE if actor == PATIENT else CANCELLABLE
    if status not in allowed:
        raise Problem(
            409, "not_cancellable", f"An appointment with status {status} cannot be cancelled."
        )
    upcoming = appointment["start_at"] > now
    if actor == PATIENT and not upcoming:
        raise Problem(
            409,
            "appointment_in_past",
            "The appointment has already started; it can no longer be changed online.",
        )
    await store.set_status(conn, appointment["id"], "CANCELLED", cancel_reason=reason)
    await store.record_change(conn, appointment, "cancelled", "CANCELLED", actor, now, reason)
    await reminders.sync(conn, appointment["id"], now)  # disarms them
    # the clean-up of a past appointment is not news to the patient; partners still hear of it
    contacts = (
        await notify.patient_contacts(conn, appointment["patient_id"])
        if upcoming and notify_patient
        else []
    )
    await notify.announce(
        conn,
        account_id=appointment["account_id"],
        appointment_id=appointment["id"],
        event_type=events.APPOINTMENT_CANCELLED,
        purpose=APPOINTMENT_CANCELLED,
        contacts=contacts,
        public_url=settings.public_url,
        secret_key=settings.secret_key,
        now=now,
        manage_token=manage_token,
        extra={"previousStatus": status, "changedBy": actor, "patientNotified": bool(contacts)},
    )
    await notify.status_changed(conn, appointment["id"], status, actor)


async def _target_config(
    conn: asyncpg.Connection,
    appointment: Row,
    practitioner_id: int | None,
    scheduler_config_id: int | None,
) -> tuple[int, int, int]:
    """(config id, its setting id, practitioner id) to check the new time against: the given
    config; else the appointment's own when the practitioner stays; else a config of the
    (new) practitioner at the appointment's location offering its type — preferably in the
    same setting. 400 when there is none."""
    account_id = appointment["account_id"]
    if scheduler_config_id is not None:
        owner = await store.config_owner(conn, account_id, scheduler_config_id)
        if owner is None:
            raise invalid("schedulerConfigId", "is not a scheduler config of this account")
        return scheduler_config_id, owner["setting_id"], practitioner_id or owner["practitioner_id"]
    practitioner = practitioner_id or appointment["practitioner_id"]
    current = appointment["scheduler_config_id"]
    owner = await store.config_owner(conn, account_id, current) if current is not None else None
    if owner is not None and owner["practitioner_id"] == practitioner:
        return current, owner["setting_id"], practitioner
    found = await store.find_config(
        conn,
        account_id,
        practitioner_id=practitioner,
        location_id=appointment["location_id"],
        appointment_type_id=appointment["appointment_type_id"],
        prefer_setting_id=owner["setting_id"] if owner is not None else None,
    )
    if found is None:
        if practitioner != appointment["practitioner_id"]:
            raise invalid(
                "practitionerId",
                "has no scheduler config at this location for this appointment type",
            )
        raise invalid("startTime", "the appointment has no scheduler config to check it against")
    setting_id = (await store.config_owner(conn, account_id, found))["setting_id"]  # type: ignore[index]
    return found, setting_id, practitioner


async def _check_own_setting(
    conn: asyncpg.Connection, appointment: Row, setting_id: int, scheduler_config_id: int | None
) -> None:
    """A patient moves an appointment only within the setting it was booked through (that
    setting's hours, rules and limits): not into another setting's scheduler config."""
    current = appointment["scheduler_config_id"]
    owner = (
        await store.config_owner(conn, appointment["account_id"], current)
        if current is not None
        else None
    )
    if owner is None:
        raise Problem(409, "not_reschedulable", "This appointment can no longer be moved online.")
    if owner["setting_id"] != setting_id:
        field = "schedulerConfigId" if scheduler_config_id is not None else "practitionerId"
        raise invalid(field, "is not part of the setting this appointment was booked through")


async def reschedule_locked(
    conn: asyncpg.Connection,
    settings: Settings,
    appointment: Row,
    *,
    start: datetime,
    actor: str,
    now: datetime,
    practitioner_id: int | None,
    scheduler_config_id: int | None,
    manage_token: str | None,
    notify_patient: bool = True,
) -> bool:
    """Move the appointment, locked by the caller in its transaction; False when nothing
    changes (same start, practitioner and config: a repeated PUT is a no-op). Also the path of
    a waitlist earlier-claim."""
    if (
        start == appointment["start_at"]
        and practitioner_id in (None, appointment["practitioner_id"])
        and scheduler_config_id in (None, appointment["scheduler_config_id"])
    ):
        return False  # nothing to move: a repeated PUT is a no-op, whatever the status
    status = appointment["status"]
    if status not in RESCHEDULABLE:
        raise Problem(
            409,
            "not_reschedulable",
            f"An appointment with status {status} cannot be rescheduled.",
        )
    if actor == PATIENT and appointment["start_at"] <= now:
        raise Problem(
            409,
            "appointment_in_past",
            "The appointment has already started; it can no longer be changed online.",
        )
    account_id = appointment["account_id"]
    config_id, setting_id, practitioner = await _target_config(
        conn, appointment, practitioner_id, scheduler_config_id
    )
    if actor == PATIENT:
        await _check_own_setting(conn, appointment, setting_id, scheduler_config_id)
    if (
        start == appointment["start_at"]
        and practitioner == appointment["practitioner_id"]
        and config_id == appointment["scheduler_config_id"]
    ):
        return False
    setting = await settings_store.get_setting(conn, account_id, setting_id)
    if actor == PATIENT and not setting["active"]:
        raise Problem(422, "setting_inactive", "This self-scheduling setting is not active.")
    request = s.SlotRequest(
        appointment_type_id=appointment["appointment_type_id"],
        location_id=appointment["location_id"],
        practitioner_id=practitioner,
        scheduler_config_id=config_id,
        start_date_time=start,
    )
    target = await booking.check_request(conn, account_id, setting, request)
    slot = await booking.require_offered(  # takes the practitioner lock
        conn,
        account_id,
        setting,
        target,
        now,
        except_attempt_id=None,
        except_appointment_id=appointment["id"],
    )
    try:
        async with conn.transaction():  # a savepoint: the constraint may still say no
            await store.move(
                conn,
                appointment["id"],
                practitioner_id=practitioner,
                scheduler_config_id=config_id,
                start=slot.start,
                minutes=target.minutes,
                buffer_before=target.config.buffer_before_minutes,
                buffer_after=target.config.buffer_after_minutes,
                generated_from=slot.generated_from,
            )
    except asyncpg.ExclusionViolationError:
        raise booking.slot_unavailable(
            await booking.alternatives(
                conn,
                account_id,
                setting,
                request,
                now,
                except_attempt_id=None,
                except_appointment_id=appointment["id"],
            )
        ) from None
    await store.record_change(conn, appointment, "rescheduled", status, actor, now)
    await reminders.sync(conn, appointment["id"], now)  # re-armed for the new start
    contacts = (
        await notify.patient_contacts(conn, appointment["patient_id"]) if notify_patient else []
    )
    await notify.announce(
        conn,
        account_id=account_id,
        appointment_id=appointment["id"],
        event_type=events.APPOINTMENT_RESCHEDULED,
        purpose=APPOINTMENT_RESCHEDULED,
        contacts=contacts,
        public_url=settings.public_url,
        secret_key=settings.secret_key,
        now=now,
        manage_token=manage_token,
        extra={
            "previousStartDateTime": _local(appointment, appointment["start_at"]),
            "previousPractitionerId": appointment["practitioner_id"],
            "generatedFromType": slot.generated_from,
            "changedBy": actor,
            "patientNotified": bool(contacts),
        },
    )
    return True


async def _set_status(
    conn: asyncpg.Connection,
    settings: Settings,
    appointment: Row,
    status: str,
    *,
    actor: str,
    now: datetime,
    reason: str | None = None,
    notify_patient: bool = True,
) -> None:
    if status == "CANCELLED":
        await _cancel(
            conn, settings, appointment, actor=actor, now=now, reason=reason,
            notify_patient=notify_patient,
        )  # fmt: skip
        return
    if status == appointment["status"]:
        return
    restored = appointment["status"] in OFF_CALENDAR and status not in OFF_CALENDAR
    if restored:
        await _reclaim(conn, settings, appointment, status, now)
    else:
        await store.set_status(conn, appointment["id"], status)
    await store.record_change(conn, appointment, "status", status, actor, now, reason)
    await reminders.sync(conn, appointment["id"], now)
    if restored and appointment["start_at"] > now and notify_patient:
        # the patient was told it was off: without a word they would not come (and its
        # reminders, armed again, would contradict what they were told)
        await notify.tell_patient(
            conn,
            account_id=appointment["account_id"],
            appointment_id=appointment["id"],
            purpose=APPOINTMENT_CONFIRMATION,
            contacts=await notify.patient_contacts(conn, appointment["patient_id"]),
            public_url=settings.public_url,
            secret_key=settings.secret_key,
            now=now,
            manage_token=None,
        )
    # appointment.status_changed, and appointment.confirmed on a confirmation
    await notify.status_changed(conn, appointment["id"], appointment["status"], actor)


async def _reclaim(
    conn: asyncpg.Connection, settings: Settings, appointment: Row, status: str, now: datetime
) -> None:
    """Put an off-calendar appointment back on it at its time, unless that time was taken."""
    await store.lock_practitioner(conn, appointment["practitioner_id"])
    if await store.held_by_others(conn, appointment, now):
        raise booking.slot_unavailable(await _alternatives_for(conn, appointment, now))
    try:
        async with conn.transaction():
            await store.set_status(conn, appointment["id"], status)
    except asyncpg.ExclusionViolationError:
        raise booking.slot_unavailable(await _alternatives_for(conn, appointment, now)) from None


async def _alternatives_for(
    conn: asyncpg.Connection, appointment: Row, now: datetime
) -> list[s.Alternative]:
    """Open slots near the appointment's time, when it still has a config to search with."""
    account_id = appointment["account_id"]
    config_id = appointment["scheduler_config_id"]
    owner = await store.config_owner(conn, account_id, config_id) if config_id else None
    if owner is None:
        return []
    setting = await settings_store.get_setting(conn, account_id, owner["setting_id"])
    request = s.SlotRequest(
        appointment_type_id=appointment["appointment_type_id"],
        location_id=appointment["location_id"],
        practitioner_id=appointment["practitioner_id"],
        scheduler_config_id=config_id,
        start_date_time=appointment["start_at"],
    )
    try:
        async with conn.transaction():  # a search refused by the setting must not poison ours
            return await booking.alternatives(
                conn,
                account_id,
                setting,
                request,
                now,
                except_attempt_id=None,
                except_appointment_id=appointment["id"],
            )
    except Problem:
        return []


async def _set_note(
    conn: asyncpg.Connection, appointment: Row, note: str | None, *, actor: str, now: datetime
) -> None:
    if note == appointment["note"]:
        return
    await store.set_note(conn, appointment["id"], note)
    await store.record_change(conn, appointment, "note", appointment["status"], actor, now)
