"""GET /self-scheduling/availability (partner, `scheduling` scope)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import MediaType, Request, Response, get
from litestar.params import QueryParameter

from app.availability import schemas as s
from app.availability.answer import availability_json
from app.availability.service import SlotSearch
from app.core import clock
from app.core.errors import invalid
from app.core.http import DbPool, PathId
from app.core.instants import check_instant
from app.core.openapi import problem_responses
from app.partners.guard import scope
from app.partners.scopes import SCHEDULING

_MAX_MS = 253_402_300_799_000  # 9999-12-31T23:59:59Z
_MAX_ID = 2**63 - 1

# the query parameters shared by the partner and the widget availability calls
StartUnix = Annotated[int, QueryParameter(name="startUnix", ge=0, le=_MAX_MS)]
EndUnix = Annotated[int, QueryParameter(name="endUnix", ge=0, le=_MAX_MS)]
LocationIdQuery = Annotated[int, QueryParameter(name="locationId", ge=1, le=_MAX_ID)]
AppointmentTypeIdQuery = Annotated[int, QueryParameter(name="appointmentTypeId", ge=1, le=_MAX_ID)]
PractitionerIdsQuery = Annotated[
    str | None, QueryParameter(name="practitionerIds", max_length=2000)
]


def from_unix_ms(value: int, field: str) -> datetime:
    return check_instant(datetime.fromtimestamp(value / 1000, tz=UTC), field)


def parse_ids(raw: str | None, field: str) -> tuple[int, ...] | None:
    if raw is None or not raw.strip():
        return None
    try:
        ids = tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise invalid(field, "must be comma-separated ids such as 7,8") from None
    if not ids or len(ids) > 100 or any(not 1 <= i < 2**63 for i in ids):
        raise invalid(field, "must be 1 to 100 ids")
    return ids


@get(
    "/self-scheduling/availability",
    opt=scope(SCHEDULING),
    tags=["self-scheduling"],
    responses=problem_responses(422),  # setting_inactive
    summary="Bookable times of a self-scheduling setting at one location",
)
async def get_availability(
    request: Request,
    pool: DbPool,
    account_id: PathId,
    setting_id: Annotated[int, QueryParameter(name="selfSchedulingSettingId", ge=1, le=_MAX_ID)],
    start_unix: StartUnix,
    end_unix: EndUnix,
    location_id: LocationIdQuery,
    appointment_type_id: AppointmentTypeIdQuery,
    practitioner_ids: PractitionerIdsQuery = None,
) -> Response[s.Availability]:
    query = SlotSearch(
        setting_id=setting_id,
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        range_start=from_unix_ms(start_unix, "startUnix"),
        range_end=from_unix_ms(end_unix, "endUnix"),
        practitioner_ids=parse_ids(practitioner_ids, "practitionerIds"),
    )
    cache = request.app.state.availability_cache
    body, request.state.availability_cache = await availability_json(
        pool, cache, account_id, query, clock.now()
    )
    return Response(body, media_type=MediaType.JSON)
