"""FHIR R4 routes under /fhir/r4/account/{accountId} (thin handlers).

The partner guard checks the token, the client, the grant and the `scheduling` scope in the
partner API's order (401, 403, then 404 for ids of another account); `metadata` needs no
token. Every answer is `application/fhir+json`; errors become OperationOutcomes in
app.fhir.outcome."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath

from app.audit.spec import audit
from app.core import clock
from app.core.errors import invalid, not_found
from app.core.http import RAW_QUERY, DbPool, JSONBody, PathId
from app.core.openapi import PARTNER_PROBLEMS, document_problems
from app.fhir import find, operations, search
from app.fhir.bundle import DEFAULT_COUNT, MAX_COUNT, PageRequest, searchset
from app.fhir.capability import allowed, capability_statement
from app.fhir.outcome import FHIR_JSON
from app.fhir.params import count, offset
from app.fhir.resources import Resource, Systems
from app.fhir.schemas import FhirResource, Parameters
from app.partners.guard import partner_checks, scope
from app.partners.scopes import SCHEDULING

BASE = "/fhir/r4/account/{account_id:int}"
JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json"})
VERSION = "0.1.0"
_DOC = {
    200: ResponseSpec(
        FhirResource,
        description="A FHIR R4 resource",
        media_type=FHIR_JSON,
        generate_examples=False,
    )
}
# PHI: every read or search is one audit row naming the ids it returned
_AUDITED = {
    "Patient": "patient",
    "Appointment": "appointment",
}


def fhir(resource: Resource, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        msgspec.json.encode(resource), status_code=status, media_type=FHIR_JSON, headers=headers
    )


def _base(request: Request, account_id: int) -> str:
    return f"{request.app.state.settings.public_url.rstrip('/')}/fhir/r4/account/{account_id}"


def _ctx(request: Request, pool: Any, account_id: int) -> search.Ctx:
    return search.Ctx(
        pool=pool,
        account_id=account_id,
        systems=Systems(request.app.state.settings.public_url),
        now=clock.now(),
    )


def _query(request: Request, names: frozenset[str]) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        if name == "_format":  # some clients always send it; JSON is all we speak
            if value not in JSON_FORMATS:
                raise invalid("_format", "only JSON is supported (json, application/fhir+json)")
            continue
        if name not in names:
            raise invalid(name, "is not a search parameter this server supports here")
        if len(value) > 500:
            raise invalid(name, "is too long")
        query.setdefault(name, []).append(value)
    return query


def _page(request: Request, account_id: int, path: str, query: dict[str, list[str]]) -> PageRequest:
    return PageRequest(
        f"{_base(request, account_id)}/{path}",
        [(k, v) for k, values in query.items() for v in values],
        offset(query.get("_offset", [None])[0]),
        count(query.get("_count", [None])[0], DEFAULT_COUNT, MAX_COUNT),
    )


def _routes(resource_type: str) -> list[HTTPRouteHandler]:
    finder = search.FINDERS[resource_type]
    audited = _AUDITED.get(resource_type)
    names = allowed(resource_type)

    async def search_type(request: Request, pool: DbPool, account_id: PathId) -> Response:
        query = _query(request, names)
        page = _page(request, account_id, resource_type, query)
        found, total = await finder(_ctx(request, pool, account_id), query, page.offset, page.count)
        return fhir(searchset(found, base=_base(request, account_id), page=page, total=total))

    async def read(
        request: Request, pool: DbPool, account_id: PathId, resource_id: FromPath[str]
    ) -> Response:
        ctx = _ctx(request, pool, account_id)
        if resource_type == "Slot":
            found = [r] if (r := await search.slot_by_id(ctx, resource_id)) else []
        elif resource_type == "Appointment" and not resource_id.isdigit():
            found = [r] if (r := await operations.read_virtual(ctx, resource_id)) else []
        else:
            found, _ = await finder(ctx, {"_id": [resource_id]}, 0, 1)
        if not found:
            raise not_found(resource_type)
        return fhir(found[0])

    search_opt = {**scope(SCHEDULING)}
    read_opt = {**scope(SCHEDULING)}
    if audited:
        search_opt |= audit(audited, "read", "response:entry[].resource.id")
        read_opt |= audit(audited, "read", "response:id")
    return [
        get(
            f"/{resource_type}",
            opt=search_opt,
            name=f"fhir-search-{resource_type}",
            operation_id=f"fhirSearch{resource_type}",
            summary=f"Search {resource_type} (FHIR R4)",
            responses=_DOC,
        )(search_type),
        get(
            f"/{resource_type}/{{resource_id:str}}",
            opt=read_opt,
            name=f"fhir-read-{resource_type}",
            operation_id=f"fhirRead{resource_type}",
            summary=f"Read one {resource_type} (FHIR R4)",
            responses=_DOC,
        )(read),
    ]


@get(
    "/Appointment/$find",
    opt=scope(SCHEDULING),
    operation_id="fhirFindGet",
    summary="IHE ITI-115 $find with query parameters (the form `link.next` uses)",
    responses=_DOC,
)
async def find_get(request: Request, pool: DbPool, account_id: PathId) -> Response:
    query = _query(request, find.FIND_IN | {"_count", "_offset"})
    return await _find(request, pool, account_id, find.find_query(query))


@post(
    "/Appointment/$find",
    opt=scope(SCHEDULING),
    operation_id="fhirFind",
    summary="IHE ITI-115 $find: proposed Appointments for start, end, visit-type, ...",
    status_code=200,
    responses=_DOC,
)
async def find_post(
    request: Request, pool: DbPool, account_id: PathId, data: JSONBody[Parameters]
) -> Response:
    _query(request, frozenset({"_count", "_offset"}))
    return await _find(request, pool, account_id, find.find_query_from_parameters(data))


async def _find(request: Request, pool: Any, account_id: int, query: find.FindQuery) -> Response:
    # next pages are GET $find with the same parameters, whichever form this call used
    params: dict[str, list[str]] = {}
    for name, value in query.as_query():
        params.setdefault(name, []).append(value)
    for name in ("_count", "_offset"):
        if name in request.query_params:
            params[name] = [request.query_params[name]]
    page = _page(request, account_id, "Appointment/$find", params)
    found, total = await find.find(_ctx(request, pool, account_id), query, page.offset, page.count)
    return fhir(searchset(found, base=_base(request, account_id), page=page, total=total))


@post(
    "/Appointment/$hold",
    opt=scope(SCHEDULING),
    operation_id="fhirHold",
    summary="IHE ITI-116 $hold: a proposed Appointment becomes pending (held)",
    status_code=200,
    responses=_DOC,
)
async def hold(
    request: Request, pool: DbPool, account_id: PathId, data: JSONBody[Parameters]
) -> Response:
    ctx = _ctx(request, pool, account_id)
    held = await operations.hold(ctx, request.app.state, data)
    return fhir(searchset([held], base=_base(request, account_id), total=1))


@post(
    "/Appointment/$book",
    opt=scope(SCHEDULING)
    | audit("appointment", "create", "response:entry[].resource.id", action_if_200="update"),
    operation_id="fhirBook",
    summary="IHE ITI-117 $book: book (status pending), cancel (cancelled) or move (new start)",
    status_code=200,
    responses=_DOC,
)
async def book(
    request: Request, pool: DbPool, account_id: PathId, data: JSONBody[Parameters]
) -> Response:
    ctx = _ctx(request, pool, account_id)
    booked = await operations.book(ctx, request.app.state, data)
    if isinstance(booked, operations.Released):
        return fhir(searchset([booked.appointment], base=_base(request, account_id), total=1))
    found, _ = await search.appointments(ctx, {"_id": [str(booked.appointment_id)]}, 0, 1)
    bundle = searchset(found, base=_base(request, account_id), total=1)
    if booked.created:
        location = f"{_base(request, account_id)}/Appointment/{booked.appointment_id}"
        return fhir(bundle, 201, {"Location": location})
    return fhir(bundle)


@get(
    "/metadata",
    operation_id="fhirCapabilities",
    summary="The CapabilityStatement of the FHIR facade (no token)",
    responses=_DOC,
)
async def metadata(request: Request, account_id: PathId) -> Response:
    return fhir(capability_statement(VERSION, _base(request, account_id)))


# errors are the partner API's, answered as OperationOutcomes (app.fhir.outcome)
_OUTCOMES = {"container": FhirResource, "media_type": FHIR_JSON, "prefix": "OperationOutcome. "}


def fhir_routers() -> list[Router]:
    resource_routes = [route for t in search.FINDERS for route in _routes(t)]
    # FHIR search parameters are read and refused (400 naming them) by `_query` itself
    raw = {RAW_QUERY: True}
    public = Router(path=BASE, route_handlers=[metadata], tags=["FHIR R4"], opt=raw)
    guarded = Router(
        path=BASE,
        opt=raw,
        before_request=partner_checks,
        security=[{"PartnerOAuth": []}],
        tags=["FHIR R4"],
        route_handlers=[find_get, find_post, hold, book, *resource_routes],
    )
    return [
        document_problems(public, (400, 404), **_OUTCOMES),
        document_problems(guarded, PARTNER_PROBLEMS, **_OUTCOMES),
    ]
