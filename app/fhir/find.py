"""`$find` (IHE ITI-115): every bookable (practitioner, start, type) in a window, proposed."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import msgspec

from app.core.errors import invalid
from app.fhir import adapter, ids, params, resources
from app.fhir import store as fs
from app.fhir.inputs import check_names, value_text
from app.fhir.resources import Resource, SlotView
from app.fhir.schemas import Parameters
from app.fhir.search import Ctx
from app.fhir.target import display_names

FIND_IN = frozenset({"start", "end", "visit-type", "location-reference", "practitioner"})


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


def find_query_from_parameters(body: Parameters) -> FindQuery:
    check_names([p.name for p in body.parameter], FIND_IN)
    values: dict[str, list[str]] = {}
    for p in body.parameter:
        text = value_text(p)
        if text is None:
            raise invalid(p.name, "needs a value")
        values.setdefault(p.name, []).append(text)
    return find_query(values)


def find_query(values: dict[str, list[str]]) -> FindQuery:
    check_names(list(values), FIND_IN | {"_count", "_offset"})
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
    names = await display_names(ctx, page)
    return [resources.proposed_appointment(v, ctx.systems, names=names) for v in page], len(views)
