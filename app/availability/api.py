"""GET /self-scheduling/availability (partner, `scheduling` scope)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

from litestar import MediaType, Request, Response, get
from litestar.params import QueryParameter
from litestar.types import Scope

from app.attempts import service as attempt_service
from app.attempts import store as attempt_store
from app.attempts.machine import Step
from app.availability import schemas as s
from app.availability.answer import Ahead, availability_json, read_ahead
from app.availability.service import SlotSearch
from app.core import clock
from app.core.errors import Problem, invalid
from app.core.http import PathId
from app.core.instants import check_instant
from app.core.openapi import problem_responses
from app.core.principal import READ_AHEAD
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


_QUERY_NAMES = {
    "selfSchedulingSettingId", "startUnix", "endUnix", "locationId", "appointmentTypeId",
    "practitionerIds",
}  # fmt: skip


def _read_ahead(state: Any, scope: Scope, account_id: int) -> tuple[Ahead, list] | None:
    """READ_AHEAD: the query string read as the handler will read it, and the freshness probes
    of what the cache holds for it. Anything unusual: no read-ahead (the handler decides)."""
    try:
        params = _params(scope["query_string"])
        if params.keys() - _QUERY_NAMES:  # attemptId and unknown names: not read ahead
            return None
        query = _search(
            int(params["selfSchedulingSettingId"]), int(params["locationId"]),
            int(params["appointmentTypeId"]), int(params["startUnix"]), int(params["endUnix"]),
            params.get("practitionerIds"),
        )  # fmt: skip
    except (KeyError, ValueError, OverflowError, OSError, UnicodeDecodeError, Problem):
        return None
    cache = state.availability_cache
    found = read_ahead(cache, account_id, query, clock.now(), scope["query_string"])
    return (found, found.probes) if found is not None else None


def _params(query_string: bytes) -> dict[str, str]:
    """The query as the handler will read it; plain `name=value` pairs without escapes are
    split directly (the availability query is ids and numbers)."""
    text = query_string.decode()
    if "%" in text or "+" in text:
        return dict(parse_qsl(text, strict_parsing=True))
    pairs = [pair.partition("=") for pair in text.split("&")]
    if any(not sep or not name for name, sep, _ in pairs):
        raise ValueError("not name=value pairs")
    return {name: value for name, _, value in pairs}


def _search(
    setting_id: int,
    location_id: int,
    appointment_type_id: int,
    start_unix: int,
    end_unix: int,
    practitioner_ids: str | None,
    attempt_id: int | None = None,
) -> SlotSearch:
    return SlotSearch(
        setting_id=setting_id,
        location_id=location_id,
        appointment_type_id=appointment_type_id,
        range_start=from_unix_ms(start_unix, "startUnix"),
        range_end=from_unix_ms(end_unix, "endUnix"),
        practitioner_ids=parse_ids(practitioner_ids, "practitionerIds"),
        except_attempt_id=attempt_id,
    )


@get(
    "/self-scheduling/availability",
    opt={**scope(SCHEDULING), READ_AHEAD: _read_ahead},
    tags=["self-scheduling"],
    responses=problem_responses(422),  # setting_inactive
    summary="Bookable times of a self-scheduling setting at one location",
)
async def get_availability(
    request: Request,
    account_id: PathId,
    setting_id: Annotated[int, QueryParameter(name="selfSchedulingSettingId", ge=1, le=_MAX_ID)],
    start_unix: StartUnix,
    end_unix: EndUnix,
    location_id: LocationIdQuery,
    appointment_type_id: AppointmentTypeIdQuery,
    practitioner_ids: PractitionerIdsQuery = None,
    attempt_id: Annotated[int | None, QueryParameter(name="attemptId", ge=1, le=_MAX_ID)] = None,
) -> Response[s.Availability]:
    """With `attemptId`, the attempt records AVAILABILITY_VIEWED (once) and its own hold
    counts as open, as in the widget."""
    pool = request.app.state.pool  # not injected: the busiest route skips the dependency step
    attempt = None
    if attempt_id is not None:
        attempt = await attempt_store.get(pool, account_id, attempt_id)
        if attempt.setting_id != setting_id:
            raise invalid("attemptId", "belongs to another self-scheduling setting")
    query = _search(
        setting_id, location_id, appointment_type_id, start_unix, end_unix, practitioner_ids,
        attempt_id,
    )  # fmt: skip
    now = clock.now()
    cache = request.app.state.availability_cache
    body, request.state.availability_cache = await availability_json(
        pool, cache, account_id, query, now,
        ahead=request.scope["state"].get(READ_AHEAD), raw_query=request.scope["query_string"],
    )  # fmt: skip
    if attempt is not None:
        await attempt_service.record_first(
            pool, account_id, attempt.id, Step.AVAILABILITY_VIEWED, now
        )
    return Response(body, media_type=MediaType.JSON)
