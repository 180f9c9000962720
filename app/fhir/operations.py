"""IHE ITI Scheduling operations: `$find` (ITI-115), `$hold` (ITI-116), `$book` (ITI-117).

Parameter names are IHE's. Each operation turns its Parameters into a slot of a schedule and
calls the adapter; answers are searchset Bundles of Appointments. A conflict (409
`slot_unavailable`) carries the engine's nearest alternatives as proposed Appointments."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
from litestar.datastructures import State

from app.config import Settings
from app.core.errors import Problem, invalid, not_found
from app.fhir import adapter, ids, params, patients, resources
from app.fhir import store as fs
from app.fhir.outcome import ALTERNATIVES
from app.fhir.resources import Names, Resource, SlotView
from app.fhir.schemas import AppointmentIn, Parameter, Parameters
from app.fhir.search import Ctx

FIND_IN = frozenset({"start", "end", "visit-type", "location-reference", "practitioner"})
HOLD_IN = frozenset({"appointment-reference", "appointment-resource"})
BOOK_IN = frozenset(
    {"appointment-reference", "appointment-resource", "patient-resource", "comment"}
)


class FindQuery(msgspec.Struct, frozen=True):
    start: str
    end: str
    visit_types: list[str] = []
    locations: list[str] = []
    practitioners: list[str] = []

    def as_query(self) -> list[tuple[str, str]]:
        pairs = [("start", self.start), ("end", self.end)]
        pairs += [("visit-type", v) for v in self.visit_types]
        pairs += [("location-reference", v) for v in self.locations]
        pairs += [("practitioner", v) for v in self.practitioners]
        return pairs


def _check_names(body_names: list[str], allowed: frozenset[str]) -> None:
    for name in body_names:
        if name not in allowed:
            raise invalid(name, "is not a parameter this server supports for this operation")


def _text(p: Parameter) -> str | None:
    if p.value_reference is not None:
        return p.value_reference.reference
    if p.value_coding is not None:
        system, code = p.value_coding.system, p.value_coding.code
        return f"{system}|{code}" if system else code
    return p.value_date_time or p.value_instant or p.value_date or p.value_string or p.value_code


def find_query_from_parameters(body: Parameters) -> FindQuery:
    _check_names([p.name for p in body.parameter], FIND_IN)
    values: dict[str, list[str]] = {}
    for p in body.parameter:
        text = _text(p)
        if text is None:
            raise invalid(p.name, "needs a value")
        values.setdefault(p.name, []).append(text)
    return find_query(values)


def find_query(values: dict[str, list[str]]) -> FindQuery:
    _check_names(list(values), FIND_IN | {"_count", "_offset"})
    for name in ("start", "end"):
        if len(values.get(name, [])) != 1:
            raise invalid(name, "is required once")
    return FindQuery(
        start=values["start"][0],
        end=values["end"][0],
        visit_types=values.get("visit-type", []),
        locations=values.get("location-reference", []),
        practitioners=values.get("practitioner", []),
    )


async def _names(ctx: Ctx, views: list[SlotView]) -> Names:
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


async def find(ctx: Ctx, query: FindQuery, offset: int, count: int) -> tuple[list[Resource], int]:
    zone = ZoneInfo(await fs.account_zone(ctx.pool, ctx.account_id))
    start = params.instant(query.start, "start", zone)[0]
    end_first, end_after = params.instant(query.end, "end", zone)
    end = end_after if len(query.end.strip()) == 10 else end_first  # a date: the whole day
    adapter.check_range(start, end)
    visit_types = []
    for raw in query.visit_types:
        system, code = params.token(raw)
        number = ids.number(code)
        if number is None or system not in (None, ctx.systems.service):
            raise invalid(
                "visit-type", f"must be an appointment type code of {ctx.systems.service}"
            )
        visit_types.append(number)
    schedules = (
        await fs.schedules(
            ctx.pool,
            ctx.account_id,
            practitioner_ids=[
                params.reference(r, "Practitioner", "practitioner") for r in query.practitioners
            ]
            or None,
            location_ids=[
                params.reference(r, "Location", "location-reference") for r in query.locations
            ]
            or None,
            active=True,
        )
    ).rows
    types = visit_types or sorted({t for row in schedules for t in row.appointment_type_ids})
    views: list[SlotView] = []
    for type_id in types:
        views += await adapter.free_slots(
            ctx.pool, ctx.account_id, schedules, type_id, start, end, ctx.now
        )
    views.sort(key=lambda v: (v.key.start, v.practitioner_id, v.key.schedule_id, v.key.service_id))
    page = views[offset : offset + count]
    names = await _names(ctx, page)
    return [resources.proposed_appointment(v, ctx.systems, names=names) for v in page], len(views)


# ------------------------------------------------------------------ which slot is meant


def _one(body: Parameters, name: str) -> Parameter | None:
    found = [p for p in body.parameter if p.name == name]
    if len(found) > 1:
        raise invalid(name, "may be given once")
    return found[0] if found else None


def _appointment(body: Parameters) -> tuple[str | None, AppointmentIn | None]:
    """(the referenced id, the resource) of appointment-reference / appointment-resource."""
    reference = _one(body, "appointment-reference")
    resource = _one(body, "appointment-resource")
    if (reference is None) == (resource is None):
        raise invalid(
            "appointment-reference",
            "give exactly one of appointment-reference or appointment-resource",
        )
    if reference is not None:
        raw = _text(reference)
        appointment_id = ids.reference_id(raw or "", "Appointment")
        if appointment_id is None:
            raise invalid(
                "appointment-reference",
                "must reference an Appointment, e.g. Appointment/proposed-…",
            )
        return appointment_id, None
    if not isinstance(resource.resource, AppointmentIn):  # type: ignore[union-attr]
        raise invalid("appointment-resource", "must be an Appointment resource")
    return resource.resource.id, resource.resource  # type: ignore[union-attr]


async def _slot_from_resource(ctx: Ctx, resource: AppointmentIn) -> ids.SlotKey:
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
    start = _start_of(ctx, resource.start)
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


def _start_of(ctx: Ctx, raw: str) -> datetime:
    start, _ = params.instant(raw, "appointment-resource.start", ZoneInfo("UTC"))
    if len(raw.strip()) == 10:
        raise invalid("appointment-resource.start", "must be a time with an offset")
    return start


async def _schedule(ctx: Ctx, key: ids.SlotKey) -> fs.ScheduleRow:
    rows = (await fs.schedules(ctx.pool, ctx.account_id, ids=[key.schedule_id])).rows
    if not rows or not rows[0].active or key.service_id not in rows[0].appointment_type_ids:
        raise not_found("appointment")
    return rows[0]


async def _slot_of(
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
        return await _slot_from_resource(ctx, resource), None
    raise not_found("appointment")


@contextmanager
def _alternatives(
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


async def _minutes(ctx: Ctx, service_id: int) -> int:
    rows = await fs.services(
        ctx.pool, ctx.account_id, ids=[service_id], location_id=None, offset=0, limit=1
    )
    if not rows.rows:
        raise not_found("appointment")
    return rows.rows[0].duration_minutes


async def _view(ctx: Ctx, schedule: fs.ScheduleRow, key: ids.SlotKey) -> SlotView:
    minutes = await _minutes(ctx, key.service_id)
    return SlotView(
        key,
        key.start + timedelta(minutes=minutes),
        ZoneInfo(schedule.time_zone),
        practitioner_id=schedule.practitioner_id,
        location_id=schedule.location_id,
    )


async def hold(ctx: Ctx, state: State, body: Parameters) -> Resource:
    """`$hold`: a pending Appointment (`hold-…`) withheld like a widget hold."""
    _check_names([p.name for p in body.parameter], HOLD_IN)
    appointment_id, resource = _appointment(body)
    key, _ = await _slot_of(ctx, appointment_id, resource)
    schedule = await _schedule(ctx, key)
    view = await _view(ctx, schedule, key)
    minutes = int((view.end - key.start).total_seconds() // 60)
    with _alternatives(ctx, schedule, key.service_id, minutes):
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
    schedule = await _schedule(ctx, key)
    view = await _view(ctx, schedule, key)
    return resources.proposed_appointment(
        view,
        ctx.systems,
        names=await _names(ctx, [view]),
        status=status,
        id_=appointment_id,
        expires_at=expires_at,
    )


class Booked(msgspec.Struct, frozen=True):
    appointment_id: int
    created: bool


class Released(msgspec.Struct, frozen=True):
    """A hold given back: the pending Appointment, now cancelled (it has no row)."""

    appointment: Resource


async def book(ctx: Ctx, state: State, body: Parameters) -> Booked | Released:
    """`$book`: book a proposed or held Appointment for a patient; cancel (`status:
    cancelled`) or move (a new `start`) a booked one."""
    _check_names([p.name for p in body.parameter], BOOK_IN)
    appointment_id, resource = _appointment(body)
    comment_parameter = _one(body, "comment")
    comment = _text(comment_parameter) if comment_parameter else None
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
    key, attempt_id = await _slot_of(ctx, appointment_id, resource)
    schedule = await _schedule(ctx, key)
    patient_parameter = _one(body, "patient-resource")
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
    minutes = await _minutes(ctx, key.service_id)
    with _alternatives(ctx, schedule, key.service_id, minutes):
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
    start = _start_of(ctx, resource.start)
    schedules = (
        (await fs.schedules(ctx.pool, ctx.account_id, ids=[row.scheduler_config_id])).rows
        if row.scheduler_config_id
        else []
    )
    minutes = int((row.end_at - row.start_at).total_seconds() // 60)
    conflicts = (
        _alternatives(ctx, schedules[0], row.appointment_type_id, minutes)
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
