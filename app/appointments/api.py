"""Location-scoped appointments (partner API, `scheduling` scope): list, get, change.

Thin handlers: the rules of a change live in `app.appointments.changes`.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, get_args

import msgspec
from litestar import Controller, Request, get, put
from litestar.params import QueryParameter

from app.appointments import changes, store
from app.appointments import schemas as s
from app.appointments.booking import to_appointment
from app.audit.spec import audit
from app.core import clock
from app.core.crud import Row
from app.core.errors import invalid, not_found
from app.core.http import Cursor, DbPool, JSONBody, Limit, PathId
from app.core.instants import check_instant
from app.core.pagination import DEFAULT_LIMIT, check_limit, decode_cursor, page
from app.core.schema import MAX_ID
from app.partners.guard import scope
from app.partners.scopes import SCHEDULING
from app.practice import store as practice_store
from app.reminders.views import reminder_states

STATUSES = frozenset(get_args(s.Status))
# "+04:00" arrives as " 04:00" when a client forgets to percent-encode the plus sign
_UNENCODED_PLUS = re.compile(r" (\d{2}(?::?\d{2})?)$")


def _instant(raw: str | None, field: str) -> datetime | None:
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(_UNENCODED_PLUS.sub(r"+\1", raw.strip()))
    except ValueError:
        raise invalid(field, "must be an ISO 8601 time such as 2026-03-09T09:00:00-04:00") from None
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


async def _with_reminders(pool: DbPool, rows: list[Row]) -> list[s.Appointment]:
    states = await reminder_states(pool, [r["id"] for r in rows])
    return [msgspec.structs.replace(to_appointment(r), reminders=states[r["id"]]) for r in rows]


class AppointmentController(Controller):
    path = "/location/{location_id:int}/appointment"
    tags = ["appointments"]
    opt = scope(SCHEDULING)

    @get(
        "/",
        opt=audit("appointment", "read", "response:appointments[].id"),
        summary="Appointments at a location (filters, cursor)",
    )
    async def list_appointments(
        self,
        pool: DbPool,
        account_id: PathId,
        location_id: PathId,
        start_from: Annotated[str | None, QueryParameter(name="startFrom", max_length=64)] = None,
        start_to: Annotated[str | None, QueryParameter(name="startTo", max_length=64)] = None,
        status: Annotated[str | None, QueryParameter(max_length=20)] = None,
        practitioner_id: Annotated[
            int | None, QueryParameter(name="practitionerId", ge=1, le=MAX_ID)
        ] = None,
        patient_id: Annotated[int | None, QueryParameter(name="patientId", ge=1, le=MAX_ID)] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> s.AppointmentPage:
        if status is not None and status not in STATUSES:
            raise invalid("status", "must be one of " + ", ".join(sorted(STATUSES)))
        start, end = _instant(start_from, "startFrom"), _instant(start_to, "startTo")
        if not 1 <= location_id <= MAX_ID:
            raise not_found("location")
        await practice_store.locations.get(pool, account_id, location_id)
        limit = check_limit(limit)
        rows = await store.list_for_location(
            pool,
            account_id,
            location_id,
            after_id=decode_cursor(cursor),
            limit=limit,
            start_from=start,
            start_to=end,
            status=status,
            practitioner_id=practitioner_id,
            patient_id=patient_id,
        )
        rows, next_cursor = page(rows, limit)
        return s.AppointmentPage(await _with_reminders(pool, rows), next_cursor)

    @get(
        "/{appointment_id:int}",
        opt=audit("appointment", "read", "path:appointment_id"),
        summary="One appointment at a location",
    )
    async def get_appointment(
        self, pool: DbPool, account_id: PathId, location_id: PathId, appointment_id: PathId
    ) -> s.Appointment:
        row = await _at_location(pool, account_id, location_id, appointment_id)
        return (await _with_reminders(pool, [row]))[0]

    @put(
        "/{appointment_id:int}",
        opt=audit("appointment", "update", "path:appointment_id"),
        summary="Change status, time (re-checked like a booking), practitioner or note",
    )
    async def update_appointment(
        self,
        request: Request,
        pool: DbPool,
        account_id: PathId,
        location_id: PathId,
        appointment_id: PathId,
        data: JSONBody[s.AppointmentPatch],
    ) -> s.Appointment:
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
        return (await _with_reminders(pool, [row]))[0]
