"""IHE ITI Scheduling `$hold` (ITI-116) and `$book` (ITI-117).

Parameter names are IHE's. Each operation turns its Parameters into a slot of a schedule
(app.fhir.target) and calls the adapter; answers are Appointments for a searchset Bundle. A
conflict (409 `slot_unavailable`) carries the engine's nearest alternatives as proposed
Appointments."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import datetime

import msgspec
from litestar.datastructures import State

from app.config import Settings
from app.core.errors import invalid, not_found
from app.fhir import adapter, ids, params, patients, resources, target
from app.fhir import store as fs
from app.fhir.inputs import appointment, check_names, one, value_text
from app.fhir.resources import Resource
from app.fhir.schemas import AppointmentIn, Parameters
from app.fhir.search import Ctx

HOLD_IN = frozenset({"appointment-reference", "appointment-resource"})
BOOK_IN = frozenset(
    {"appointment-reference", "appointment-resource", "patient-resource", "comment"}
)


async def hold(ctx: Ctx, state: State, body: Parameters) -> Resource:
    """`$hold`: a pending Appointment (`hold-…`) withheld like a widget hold."""
    check_names([p.name for p in body.parameter], HOLD_IN)
    appointment_id, resource = appointment(body)
    key, _ = await target.slot_of(ctx, appointment_id, resource)
    schedule = await target.active_schedule(ctx, key)
    view = await target.view(ctx, schedule, key)
    minutes = int((view.end - key.start).total_seconds() // 60)
    with target.alternatives(ctx, schedule, key.service_id, minutes):
        attempt_id, expires_at = await adapter.hold(
            ctx.pool, state.settings, ctx.account_id, schedule, key, ctx.now
        )
    return await _pending(ctx, ids.hold_id(attempt_id, key), key, "pending", expires_at)


async def _pending(
    ctx: Ctx,
    appointment_id: str,
    key: ids.SlotKey,
    status: str,
    expires_at: datetime | None = None,
) -> Resource:
    schedule = await target.active_schedule(ctx, key)
    view = await target.view(ctx, schedule, key)
    return resources.proposed_appointment(
        view,
        ctx.systems,
        names=await target.display_names(ctx, [view]),
        status=status,
        id_=appointment_id,
        expires_at=expires_at,
    )


async def read_virtual(ctx: Ctx, raw: str) -> Resource | None:
    """`Appointment/proposed-…` while the engine still offers it; `Appointment/hold-…` while
    its hold lasts; else None (404)."""
    if (key := ids.parse_proposed(raw)) is not None:
        rows = (await fs.schedules(ctx.pool, ctx.account_id, ids=[key.schedule_id])).rows
        if (
            not rows
            or await adapter.is_free(ctx.pool, ctx.account_id, rows[0], key, ctx.now) is None
        ):
            return None
        return await _pending(ctx, raw, key, "proposed")
    if (held := ids.parse_hold(raw)) is not None:
        attempt_id, key = held
        expires_at = await fs.hold_expiry(
            ctx.pool, ctx.account_id, attempt_id, key.schedule_id, key.start
        )
        if expires_at is None or expires_at <= ctx.now:
            return None
        return await _pending(ctx, raw, key, "pending", expires_at)
    return None


class Booked(msgspec.Struct, frozen=True):
    appointment_id: int
    created: bool


class Released(msgspec.Struct, frozen=True):
    """A hold given back: the pending Appointment, now cancelled (it has no row)."""

    appointment: Resource


async def book(ctx: Ctx, state: State, body: Parameters) -> Booked | Released:
    """`$book`: book a proposed or held Appointment for a patient; cancel (`status:
    cancelled`) or move (a new `start`) a booked one."""
    check_names([p.name for p in body.parameter], BOOK_IN)
    appointment_id, resource = appointment(body)
    comment_parameter = one(body, "comment")
    comment = value_text(comment_parameter) if comment_parameter else None
    status = resource.status if resource else None
    existing = ids.number(appointment_id) if appointment_id else None
    settings = state.settings
    if existing is not None:
        if resource is None:
            raise invalid(
                "appointment-reference",
                "a booked appointment changes through appointment-resource"
                " (status cancelled, or a new start)",
            )
        return Booked(await _change(ctx, settings, existing, resource, comment), created=False)
    held = ids.parse_hold(appointment_id) if appointment_id else None
    if status == "cancelled" and held is not None:
        await adapter.release(ctx.pool, ctx.account_id, held[0])
        return Released(await _pending(ctx, appointment_id, held[1], "cancelled"))
    if status not in (None, "pending", "proposed"):
        raise invalid("appointment-resource.status", "must be pending to book a new appointment")
    key, attempt_id = await target.slot_of(ctx, appointment_id, resource)
    schedule = await target.active_schedule(ctx, key)
    patient_parameter = one(body, "patient-resource")
    patient_resource = patient_parameter.resource if patient_parameter else None
    if patient_parameter is not None and not isinstance(patient_resource, patients.PatientIn):
        raise invalid("patient-resource", "must be a Patient resource")
    patient_id = await patients.resolve(
        ctx.pool,
        ctx.account_id,
        patient_resource,
        patients.named_patient(resource),
        ctx.now,  # type: ignore[arg-type]
    )
    minutes = await target.duration_minutes(ctx, key.service_id)
    with target.alternatives(ctx, schedule, key.service_id, minutes):
        booked_id = await adapter.book(
            ctx.pool,
            settings,
            ctx.account_id,
            schedule,
            key,
            patient_id=patient_id,
            attempt_id=attempt_id,
            now=ctx.now,
        )
    if comment:
        await adapter.set_note(ctx.pool, ctx.account_id, booked_id, comment, ctx.now)
    return Booked(booked_id, created=True)


async def _change(
    ctx: Ctx, settings: Settings, appointment_id: int, resource: AppointmentIn, comment: str | None
) -> int:
    current = await fs.appointments(ctx.pool, ctx.account_id, ids=[appointment_id], limit=1)
    if not current.rows:
        raise not_found("appointment")
    row = current.rows[0]
    if resource.status == "cancelled":
        await adapter.cancel(
            ctx.pool, settings, ctx.account_id, appointment_id, reason=comment, now=ctx.now
        )
        return appointment_id
    if resource.status not in (None, "booked"):
        raise invalid(
            "appointment-resource.status", "must be cancelled, or booked with a new start"
        )
    practitioner = next(
        (
            params.reference(p.actor.reference, "Practitioner", "appointment-resource.participant")
            for p in resource.participant
            if p.actor
            and p.actor.reference
            and ids.reference_id(p.actor.reference, "Practitioner")
            and "/" in p.actor.reference
        ),
        None,
    )
    if resource.start is None:
        raise invalid("appointment-resource.start", "is required to move an appointment")
    start = target.start_of(ctx, resource.start)
    schedules = (
        (await fs.schedules(ctx.pool, ctx.account_id, ids=[row.scheduler_config_id])).rows
        if row.scheduler_config_id
        else []
    )
    minutes = int((row.end_at - row.start_at).total_seconds() // 60)
    conflicts = (
        target.alternatives(ctx, schedules[0], row.appointment_type_id, minutes)
        if schedules
        else nullcontext()
    )
    with conflicts:
        await adapter.move(
            ctx.pool,
            settings,
            ctx.account_id,
            appointment_id,
            start=start,
            practitioner_id=practitioner,
            now=ctx.now,
        )
    if comment:
        await adapter.set_note(ctx.pool, ctx.account_id, appointment_id, comment, ctx.now)
    return appointment_id
