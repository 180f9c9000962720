"""Which slot a `$hold` or `$book` means: a proposed or held id, a Slot, or a described
Appointment; and a conflict's alternatives as proposed Appointments."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from app.core.errors import Problem, invalid, not_found
from app.fhir import adapter, ids, params, resources
from app.fhir import store as fs
from app.fhir.outcome import ALTERNATIVES
from app.fhir.resources import Names, SlotView
from app.fhir.schemas import AppointmentIn
from app.fhir.search import Ctx


async def display_names(ctx: Ctx, views: list[SlotView]) -> Names:
    def ids_of(attr: str) -> list[int]:
        return sorted({getattr(v, attr) for v in views})

    pool, account = ctx.pool, ctx.account_id
    practitioners = await fs.practitioners(
        pool, account, ids=ids_of("practitioner_id"), name=None, offset=0, limit=10_000
    )
    locations = await fs.locations(
        pool, account, ids=ids_of("location_id"), name=None, offset=0, limit=10_000
    )
    services = await fs.services(
        pool,
        account,
        ids=sorted({v.key.service_id for v in views}),
        location_id=None,
        offset=0,
        limit=10_000,
    )
    return Names(
        {r.id: r.display_name for r in practitioners.rows},
        {r.id: r.name for r in locations.rows},
        {r.id: r.name for r in services.rows},
    )


async def slot_from_resource(ctx: Ctx, resource: AppointmentIn) -> ids.SlotKey:
    for slot in resource.slot:
        key = ids.parse_slot(ids.reference_id(slot.reference or "", "Slot") or "")
        if key is not None:
            return key
    refs = {}
    for participant in resource.participant:
        reference = (participant.actor.reference if participant.actor else None) or ""
        for kind in ("Practitioner", "Location", "HealthcareService"):
            if "/" in reference and (value := ids.reference_id(reference, kind)):
                refs[kind] = params.reference(value, kind, "appointment-resource.participant")
    service = next(
        (
            ids.number(c.code or "")
            for concept in resource.service_type
            for c in concept.coding
            if c.system in (None, ctx.systems.service)
        ),
        None,
    ) or refs.get("HealthcareService")
    if (
        resource.start is None
        or service is None
        or "Practitioner" not in refs
        or "Location" not in refs
    ):
        raise invalid(
            "appointment-resource",
            "needs a proposed id, a Slot, or a start, a serviceType and Practitioner and"
            " Location participants",
        )
    start = start_of(ctx, resource.start)
    rows = (
        await fs.schedules(
            ctx.pool,
            ctx.account_id,
            practitioner_ids=[refs["Practitioner"]],
            location_ids=[refs["Location"]],
            service_id=service,
            active=True,
        )
    ).rows
    if not rows:
        raise not_found("schedule")
    return ids.SlotKey(rows[0].id, service, start)


def start_of(ctx: Ctx, raw: str) -> datetime:
    start, _ = params.instant(raw, "appointment-resource.start", ZoneInfo("UTC"))
    if len(raw.strip()) == 10:
        raise invalid("appointment-resource.start", "must be a time with an offset")
    return start


async def active_schedule(ctx: Ctx, key: ids.SlotKey) -> fs.ScheduleRow:
    rows = (await fs.schedules(ctx.pool, ctx.account_id, ids=[key.schedule_id])).rows
    if not rows or not rows[0].active or key.service_id not in rows[0].appointment_type_ids:
        raise not_found("appointment")
    return rows[0]


async def slot_of(
    ctx: Ctx, appointment_id: str | None, resource: AppointmentIn | None
) -> tuple[ids.SlotKey, int | None]:
    """(slot, the attempt of a hold) an appointment id or resource means for a new booking."""
    if appointment_id is not None:
        if (key := ids.parse_proposed(appointment_id)) is not None:
            return key, None
        if (held := ids.parse_hold(appointment_id)) is not None:
            attempt_id = await adapter.fhir_attempt(ctx.pool, ctx.account_id, held[0])
            return held[1], attempt_id
        if resource is None:
            raise not_found("appointment")
    if resource is not None:
        return await slot_from_resource(ctx, resource), None
    raise not_found("appointment")


@contextmanager
def alternatives(
    ctx: Ctx, schedule: fs.ScheduleRow, service_id: int, minutes: int
) -> Iterator[None]:
    """A conflict's alternatives, as proposed Appointments for the OperationOutcome."""
    try:
        yield
    except Problem as problem:
        options = problem.extra.get("alternatives")
        if problem.status == 409 and isinstance(options, list):
            zone = ZoneInfo(schedule.time_zone)
            proposals = []
            for option in options:
                start = datetime.fromisoformat(option["startDateTime"])
                view = SlotView(
                    ids.SlotKey(option["schedulerConfigId"], service_id, start),
                    start + timedelta(minutes=minutes),
                    zone,
                    practitioner_id=option["practitionerId"],
                    location_id=option["locationId"],
                )
                proposals.append(resources.proposed_appointment(view, ctx.systems))
            problem.extra[ALTERNATIVES] = proposals
        raise


async def duration_minutes(ctx: Ctx, service_id: int) -> int:
    rows = await fs.services(
        ctx.pool, ctx.account_id, ids=[service_id], location_id=None, offset=0, limit=1
    )
    if not rows.rows:
        raise not_found("appointment")
    return rows.rows[0].duration_minutes


async def view(ctx: Ctx, schedule: fs.ScheduleRow, key: ids.SlotKey) -> SlotView:
    minutes = await duration_minutes(ctx, key.service_id)
    return SlotView(
        key,
        key.start + timedelta(minutes=minutes),
        ZoneInfo(schedule.time_zone),
        practitioner_id=schedule.practitioner_id,
        location_id=schedule.location_id,
    )
