"""Read and search for every resource type: query parameters -> one page of resources.

Each finder takes the parsed query (name -> values), the page window, and answers the page
plus the total that matched. A read is a search by `_id`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import msgspec
import phonenumbers

from app.core.errors import invalid
from app.fhir import adapter, ids, params, resources
from app.fhir import store as fs
from app.fhir.resources import Resource, SlotView, Systems
from app.identity.contacts import ContactError, normalize_email

Query = dict[str, list[str]]
SLOT_DEFAULT_DAYS = 7
SLOT_STATUSES = frozenset({"free", "busy"})
LIVE = ("SCHEDULED", "CONFIRMED", "CHECKED_IN", "IN_TREATMENT", "CHECKED_OUT", "NO_SHOW")


class Ctx(msgspec.Struct, frozen=True):
    pool: asyncpg.Pool
    account_id: int
    systems: Systems
    now: datetime


Found = tuple[list[Resource], int]
Finder = Callable[[Ctx, Query, int, int], Awaitable[Found]]


def _one(q: Query, name: str) -> str | None:
    values = q.get(name)
    if not values:
        return None
    if len(values) > 1:
        raise invalid(name, "may be given once")
    return values[0]


def _ids(q: Query, number: Callable[[str], object | None] = ids.number) -> list | None:
    raw = _one(q, "_id")
    if raw is None:
        return None
    return [v for part in raw.split(",") if (v := number(part.strip())) is not None]


def _ref(q: Query, name: str, resource_type: str) -> int | None:
    raw = _one(q, name)
    return None if raw is None else params.reference(raw, resource_type, name)


def _service(q: Query, systems: Systems) -> int | None:
    raw = _one(q, "service-type")
    if raw is None:
        return None
    system, code = params.token(raw)
    number = ids.number(code)
    if number is None or system not in (None, systems.service):
        raise invalid("service-type", f"must be an appointment type code of {systems.service}")
    return number


def _page(rows: fs.Page, mapper: Callable[[object], Resource]) -> Found:
    return [mapper(row) for row in rows.rows], rows.total


async def locations(ctx: Ctx, q: Query, offset: int, limit: int) -> Found:
    rows = await fs.locations(
        ctx.pool, ctx.account_id, ids=_ids(q), name=_one(q, "name"), offset=offset, limit=limit
    )
    return _page(rows, resources.location)


async def practitioners(ctx: Ctx, q: Query, offset: int, limit: int) -> Found:
    rows = await fs.practitioners(
        ctx.pool, ctx.account_id, ids=_ids(q), name=_one(q, "name"), offset=offset, limit=limit
    )
    return _page(rows, resources.practitioner)


async def services(ctx: Ctx, q: Query, offset: int, limit: int) -> Found:
    rows = await fs.services(
        ctx.pool,
        ctx.account_id,
        ids=_ids(q),
        location_id=_ref(q, "location", "Location"),
        offset=offset,
        limit=limit,
    )
    return _page(rows, lambda row: resources.healthcare_service(row, ctx.systems))


async def roles(ctx: Ctx, q: Query, offset: int, limit: int) -> Found:
    practitioner_id = _ref(q, "practitioner", "Practitioner")
    location_id = _ref(q, "location", "Location")
    wanted = _ids(q, ids.parse_role)
    if wanted is not None:
        if len(wanted) != 1:
            return [], 0
        key = wanted[0]
        if practitioner_id not in (None, key.practitioner_id) or location_id not in (
            None,
            key.location_id,
        ):
            return [], 0
        practitioner_id, location_id = key.practitioner_id, key.location_id
    rows = await fs.roles(
        ctx.pool,
        ctx.account_id,
        practitioner_id=practitioner_id,
        location_id=location_id,
        offset=offset,
        limit=limit,
    )
    return _page(rows, resources.practitioner_role)


def _actor(q: Query) -> tuple[list[int] | None, list[int] | None]:
    """`actor=Practitioner/7`, `Location/3` or `PractitionerRole/7-3` -> (practitioners,
    locations) to filter schedules by."""
    raw = _one(q, "actor")
    if raw is None:
        return None, None
    for resource_type in ("Practitioner", "Location", "PractitionerRole"):
        value = ids.reference_id(raw, resource_type)
        if value is None or "/" not in raw:
            continue
        if resource_type == "PractitionerRole":
            key = ids.parse_role(value)
            return ([key.practitioner_id], [key.location_id]) if key else ([], [])
        number = ids.number(value)
        found = [number] if number is not None else []
        return (found, None) if resource_type == "Practitioner" else (None, found)
    raise invalid("actor", "must reference a Practitioner, Location or PractitionerRole")


async def schedules(ctx: Ctx, q: Query, offset: int, limit: int) -> Found:
    practitioner_ids, location_ids = _actor(q)
    active = _one(q, "active")
    if active not in (None, "true", "false"):
        raise invalid("active", "must be true or false")
    rows = await fs.schedules(
        ctx.pool,
        ctx.account_id,
        ids=_ids(q),
        practitioner_ids=practitioner_ids,
        location_ids=location_ids,
        service_id=_service(q, ctx.systems),
        active=None if active is None else active == "true",
        offset=offset,
        limit=limit,
    )
    return _page(rows, lambda row: resources.schedule(row, ctx.systems))


async def _slot_window(ctx: Ctx, q: Query) -> tuple[datetime, datetime]:
    zone = ZoneInfo(await fs.account_zone(ctx.pool, ctx.account_id))
    window = params.date_window(q.get("start", []), "start", zone)
    low = window.low or ctx.now
    high = window.high or low + timedelta(days=SLOT_DEFAULT_DAYS)
    adapter.check_range(low, high)  # the engine's limits, whether or not a schedule matches
    return low, high


async def slots(ctx: Ctx, q: Query, offset: int, limit: int) -> Found:
    statuses = set((_one(q, "status") or "free").split(","))
    if not statuses <= SLOT_STATUSES:
        raise invalid("status", "must be free, busy or free,busy")
    schedule_id = _ref(q, "schedule", "Schedule")
    service_id = _service(q, ctx.systems)
    low, high = await _slot_window(ctx, q)
    rows = (
        await fs.schedules(
            ctx.pool,
            ctx.account_id,
            ids=None if schedule_id is None else [schedule_id],
            service_id=service_id,
        )
    ).rows
    views: list[SlotView] = []
    if "free" in statuses:
        for type_id in sorted({t for row in rows for t in row.appointment_type_ids}):
            if service_id in (None, type_id):
                views += await adapter.free_slots(
                    ctx.pool, ctx.account_id, rows, type_id, low, high, ctx.now
                )
    if "busy" in statuses:
        views += await _busy_slots(ctx, rows, service_id, low, high)
    views.sort(key=lambda v: (v.key.start, v.key.schedule_id, v.key.service_id))
    page = views[offset : offset + limit]
    return [resources.slot(v, ctx.systems) for v in page], len(views)


async def _busy_slots(
    ctx: Ctx, rows: list[fs.ScheduleRow], service_id: int | None, low: datetime, high: datetime
) -> list[SlotView]:
    views = []
    for row in rows:
        booked = await fs.appointments(
            ctx.pool,
            ctx.account_id,
            config_id=row.id,
            start_from=low,
            start_to=high,
            statuses=list(LIVE),
            limit=10_000,
        )
        views += [
            SlotView(
                ids.SlotKey(row.id, a.appointment_type_id, a.start_at),
                a.end_at,
                ZoneInfo(row.time_zone),
                practitioner_id=a.practitioner_id,
                location_id=a.location_id,
                busy=True,
            )
            for a in booked.rows
            if service_id in (None, a.appointment_type_id)
        ]
    return views


async def slot_by_id(ctx: Ctx, raw: str) -> Resource | None:
    key = ids.parse_slot(raw)
    if key is None:
        return None
    rows = (await fs.schedules(ctx.pool, ctx.account_id, ids=[key.schedule_id])).rows
    if not rows:
        return None
    view = await adapter.is_free(ctx.pool, ctx.account_id, rows[0], key, ctx.now)
    if view is None:
        busy = await _busy_slots(
            ctx, rows, key.service_id, key.start, key.start + timedelta(seconds=1)
        )
        view = next((v for v in busy if v.key == key), None)
    return None if view is None else resources.slot(view, ctx.systems)


def _e164(raw: str) -> str:
    """Stored phones are E.164; a search may give 10 US digits, E.164 or formatted text."""
    try:
        number = phonenumbers.parse(raw.strip()[:40], "US")
    except phonenumbers.NumberParseException:
        raise ContactError("phone", "must be a phone number") from None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _contact(raw: str | None, normalize: Callable[[str], str], field: str) -> str | None:
    if raw is None:
        return None
    try:
        return normalize(raw)
    except ContactError:
        raise invalid(field, f"must be a valid {field}") from None


def _birthdate(raw: str | None) -> date | None:
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw.removeprefix("eq"))
    except ValueError:
        raise invalid("birthdate", "must be a date such as 1980-01-31 (optionally eq)") from None


async def patients(ctx: Ctx, q: Query, offset: int, limit: int) -> Found:
    wanted = _ids(q)
    identifier = _one(q, "identifier")
    if identifier is not None:
        system, value = params.token(identifier)
        number = ids.number(value) if system in (None, ctx.systems.patient_id) else None
        wanted = [n for n in [number] if n is not None and (wanted is None or n in wanted)]
    email = _contact(_one(q, "email"), normalize_email, "email")
    phone = _contact(_one(q, "phone"), _e164, "phone")
    birth_date = _birthdate(_one(q, "birthdate"))
    if wanted is None and email is None and phone is None and birth_date is None:
        raise invalid("_id", "a Patient search needs _id, identifier, birthdate, email or phone")
    rows = await fs.patients(
        ctx.pool,
        ctx.account_id,
        ids=wanted,
        birth_date=birth_date,
        email=email,
        phone=phone,
        offset=offset,
        limit=limit,
    )
    return _page(rows, lambda row: resources.patient(row, ctx.systems))


async def appointments(ctx: Ctx, q: Query, offset: int, limit: int) -> Found:
    statuses = None
    if (status := _one(q, "status")) is not None:
        unknown = [s for s in status.split(",") if s not in resources.STATUS_SEARCH]
        if unknown:
            raise invalid("status", "must be FHIR appointment statuses, comma-separated")
        statuses = [ours for s in status.split(",") for ours in resources.STATUS_SEARCH[s]]
    window = params.Window()
    if "date" in q:
        zone = ZoneInfo(await fs.account_zone(ctx.pool, ctx.account_id))
        window = params.date_window(q["date"], "date", zone)
    rows = await fs.appointments(
        ctx.pool,
        ctx.account_id,
        ids=_ids(q),
        patient_id=_ref(q, "patient", "Patient"),
        start_from=window.low,
        start_to=window.high,
        statuses=statuses,
        location_id=_ref(q, "location", "Location"),
        practitioner_id=_ref(q, "practitioner", "Practitioner"),
        offset=offset,
        limit=limit,
    )
    return _page(rows, lambda row: resources.appointment(row, ctx.systems))


FINDERS: dict[str, Finder] = {
    "Location": locations,
    "Practitioner": practitioners,
    "PractitionerRole": roles,
    "HealthcareService": services,
    "Schedule": schedules,
    "Slot": slots,
    "Patient": patients,
    "Appointment": appointments,
}
