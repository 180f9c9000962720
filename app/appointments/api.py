"""Location-scoped appointments (partner API, `scheduling` scope), in Lobbie's shape: list
(filters, sort, cursor), get, create (staff or partner booking outside the widget), change.

Thin handlers: the rules live in `app.appointments.direct` (create) and
`app.appointments.changes` (change)."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated

from litestar import Controller, Request, get, post, put
from litestar.params import QueryParameter

from app.appointments import changes, direct, store, views
from app.appointments import schemas as s
from app.audit.spec import audit
from app.availability import engine as e
from app.core import clock
from app.core.crud import Row
from app.core.errors import Problem, invalid, not_found
from app.core.http import Cursor, DbPool, JSONBody, Limit, PathId
from app.core.instants import OUT_OF_RANGE, check_instant, in_range
from app.core.pagination import (
    DEFAULT_LIMIT,
    check_limit,
    decode_sorted_cursor,
    encode_sorted_cursor,
)
from app.core.schema import MAX_ID
from app.partners.guard import holds_scope, scope
from app.partners.scopes import CONFIG, SCHEDULING
from app.practice import store as practice_store

_SORT_COLUMN = {"START_TIME": "start_at", "CREATED_DATE": "created_at"}
# "+04:00" arrives as " 04:00" when a client forgets to percent-encode the plus sign
_UNENCODED_PLUS = re.compile(r" (\d{2}(?::?\d{2})?)$")


def _id_query(name: str) -> QueryParameter:
    return QueryParameter(name=name, ge=1, le=MAX_ID)


def _instant(raw: str | None, field: str, time_zone: str) -> datetime | None:
    """An ISO time with an offset, or a date (midnight at the location)."""
    if raw is None:
        return None
    text = _UNENCODED_PLUS.sub(r"+\1", raw.strip())
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            if not in_range(day):
                raise invalid(field, OUT_OF_RANGE)
            return datetime.combine(day, time(), e.zone(time_zone))
        value = datetime.fromisoformat(text)
    except ValueError:
        raise invalid(
            field, "must be a date (2026-03-09) or an ISO 8601 time with an offset"
        ) from None
    if value.utcoffset() is None:
        raise invalid(field, "must include a UTC offset, e.g. 2026-03-09T09:00:00-04:00")
    return check_instant(value, field)


def _check_ids(*ids: int) -> None:
    if any(not 1 <= i <= MAX_ID for i in ids):
        raise not_found("appointment")


async def _at_location(pool: DbPool, account_id: int, location_id: int, id_: int) -> Row:
    _check_ids(location_id, id_)
    row = await store.get(pool, account_id, id_)
    if row["location_id"] != location_id:
        raise not_found("appointment")
    return row


class AppointmentController(Controller):
    path = "/location/{location_id:int}/appointment"
    tags = ["appointments"]
    opt = scope(SCHEDULING)

    @get(
        "/",
        operation_id="listAppointments",
        opt=audit("appointment", "read", "response:appointments[].id"),
        summary="Appointments at a location",
        description="Filters, sorted by start time (default) or creation, with a cursor.",
    )
    async def list_appointments(
        self,
        pool: DbPool,
        account_id: PathId,
        location_id: PathId,
        start_date: Annotated[str | None, QueryParameter(name="startDate", max_length=64)] = None,
        end_date: Annotated[str | None, QueryParameter(name="endDate", max_length=64)] = None,
        status: Annotated[s.Status | None, QueryParameter()] = None,
        practitioner_id: Annotated[int | None, _id_query("practitionerId")] = None,
        patient_id: Annotated[int | None, _id_query("patientId")] = None,
        appointment_type_id: Annotated[int | None, _id_query("appointmentTypeId")] = None,
        sort_by: Annotated[s.SortBy, QueryParameter(name="sortBy")] = "START_TIME",
        sort_dir: Annotated[s.SortDir, QueryParameter(name="sortDir")] = "ASC",
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> s.LocationAppointmentPage:
        if not 1 <= location_id <= MAX_ID:
            raise not_found("location")
        location = await practice_store.locations.get(pool, account_id, location_id)
        zone = location["time_zone"]
        start = _instant(start_date, "startDate", zone)
        end = _instant(end_date, "endDate", zone)
        order = f"{sort_by}:{sort_dir}"
        limit = check_limit(limit)
        rows = await store.list_for_location(
            pool,
            account_id,
            location_id,
            sort_by=sort_by,
            sort_dir=sort_dir,
            after=decode_sorted_cursor(cursor, order),
            limit=limit,
            start_from=start,
            start_to=end,
            status=status,
            practitioner_id=practitioner_id,
            patient_id=patient_id,
            appointment_type_id=appointment_type_id,
        )
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_cursor = encode_sorted_cursor(order, last[_SORT_COLUMN[sort_by]], last["id"])
        return s.LocationAppointmentPage(await views.location_appointments(pool, rows), next_cursor)

    @post(
        "/",
        operation_id="createAppointment",
        opt=audit("appointment", "create", "response:id"),
        summary="Book an appointment at a location (staff or partner, outside the widget)",
        description="Re-checked like a booking (409 slot_unavailable with alternatives) unless"
        " overrideAvailability, which needs the config scope and still never double-books.",
    )
    async def create_appointment(
        self,
        request: Request,
        pool: DbPool,
        account_id: PathId,
        location_id: PathId,
        data: JSONBody[s.LocationAppointmentIn],
    ) -> s.LocationAppointment:
        if not 1 <= location_id <= MAX_ID:
            raise not_found("location")
        if data.override_availability and not holds_scope(request, CONFIG):
            raise Problem(403, "forbidden", "overrideAvailability needs the 'config' scope.")
        row = await direct.create(
            pool, request.app.state.settings, account_id, location_id, data, clock.now()
        )
        return await views.one(pool, row)

    @get(
        "/{appointment_id:int}",
        operation_id="getLocationAppointment",
        opt=audit("appointment", "read", "path:appointment_id"),
        summary="One appointment at a location",
        description="The appointment with its status history; 404 when it is at another location.",
    )
    async def get_appointment(
        self, pool: DbPool, account_id: PathId, location_id: PathId, appointment_id: PathId
    ) -> s.LocationAppointment:
        row = await _at_location(pool, account_id, location_id, appointment_id)
        return await views.one(pool, row)

    @put(
        "/{appointment_id:int}",
        operation_id="updateAppointment",
        opt=audit("appointment", "update", "path:appointment_id"),
        summary="Change status, time, practitioner or note",
        description="A new startTime is re-checked like a booking (409 on conflict); CANCELLED"
        " frees the slot; every status change is recorded, with its reason, and emits"
        " appointment.status_changed; notifyPatient false changes without telling the patient.",
    )
    async def update_appointment(
        self,
        request: Request,
        pool: DbPool,
        account_id: PathId,
        location_id: PathId,
        appointment_id: PathId,
        data: JSONBody[s.AppointmentPatch],
    ) -> s.LocationAppointment:
        _check_ids(location_id, appointment_id)
        row = await changes.apply(
            pool,
            request.app.state.settings,
            account_id,
            appointment_id,
            data,
            actor=changes.PARTNER,
            now=clock.now(),
            location_id=location_id,
        )
        return await views.one(pool, row)
