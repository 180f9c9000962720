"""Problem+json for every error (contract: Errors), request ids, no echo of submitted values."""

from __future__ import annotations

import json
import re
from typing import Literal

import httpx
import msgspec
from litestar import Litestar, Request, get, post
from litestar.params import JSONBody

from app.core import errors
from app.core.errors import EXCEPTION_HANDLERS, handle_unexpected
from app.core.requestid import request_id_middleware
from tests.support import Partner, problem_code

GENERATED_ID = re.compile(r"^[0-9a-f]{24}$")
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "requestId"}


def _assert_problem(r: httpx.Response, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    assert problem_code(r) == code
    body = r.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["type"] == "about:blank"
    assert body["status"] == status
    assert body["requestId"] == r.headers["x-request-id"]
    return body


async def test_unknown_route_is_404_problem_with_request_id(client):
    r = await client.get("/no/such/route")
    body = _assert_problem(r, 404, "not_found")
    assert body["title"] == "Not Found"
    assert GENERATED_ID.match(body["requestId"])


async def test_unknown_partner_route_is_404(partner: Partner):
    r = await partner.get("/no-such-collection")
    _assert_problem(r, 404, "not_found")


async def test_wrong_method_is_405(client, partner: Partner):
    r = await client.patch("/healthz")
    body = _assert_problem(r, 405, "method_not_allowed")
    assert body["title"] == "Method Not Allowed"
    assert "GET" in r.headers["allow"]
    r = await partner.request("PATCH", "/location")
    _assert_problem(r, 405, "method_not_allowed")


async def test_request_ids_are_always_ours(client, partner: Partner):
    """A caller's X-Request-Id never becomes ours (it would key our audit rows and logs);
    every answer names the id we generated, in the header and the body."""
    rid = "req-0123456789.abc_DEF"
    r = await client.get("/healthz", headers={"X-Request-Id": rid})
    assert r.status_code == 200
    assert GENERATED_ID.match(r.headers["x-request-id"])
    # on errors too, in the header and the body, matched route or not
    r = await partner.get("/location/987654321", headers={"X-Request-Id": rid})
    assert _assert_problem(r, 404, "not_found")["requestId"] == r.headers["x-request-id"] != rid
    r = await client.get("/nowhere", headers={"X-Request-Id": rid})
    assert _assert_problem(r, 404, "not_found")["requestId"] == r.headers["x-request-id"] != rid


async def test_malformed_request_id_is_replaced(client):
    for bad in ("short", "has spaces in it", "x" * 65, "semi;colon;id", "ünïcödé-request"):
        r = await client.get("/healthz", headers={"X-Request-Id": bad.encode()})
        assert r.status_code == 200
        assert r.headers["x-request-id"] != bad
        assert GENERATED_ID.match(r.headers["x-request-id"]), bad
        r = await client.get("/nowhere", headers={"X-Request-Id": bad.encode()})
        body = _assert_problem(r, 404, "not_found")
        assert GENERATED_ID.match(body["requestId"])


async def test_request_ids_differ_between_requests(client):
    a = (await client.get("/healthz")).headers["x-request-id"]
    b = (await client.get("/healthz")).headers["x-request-id"]
    assert a != b


async def test_validation_error_shape(partner: Partner):
    r = await partner.post("/location", json={"name": "X", "timeZone": "Mars/Olympus"})
    body = _assert_problem(r, 400, "validation_failed")
    assert body["title"] == "Bad Request"
    assert body["errors"] == [
        {"field": "timeZone", "message": "must be an IANA time zone such as America/New_York"}
    ]


async def test_error_bodies_never_echo_submitted_values(partner: Partner):
    marker = "ZEBRA-PATIENT-4242"
    cases = [
        {"name": 12345, "timeZone": "UTC", "address": {"city": marker}},
        {"name": "X", "timeZone": marker},
        {"name": "X", "timeZone": "UTC", "phone": marker * 5},
        {"name": marker * 20, "timeZone": "UTC"},
        {"name": "X", "timeZone": "UTC", "active": marker},
    ]
    for body in cases:
        r = await partner.post("/location", json=body)
        _assert_problem(r, 400, "validation_failed")
        assert marker not in r.text, r.text
    r = await partner.post(
        "/location", content=f'{{"name": "{marker}", '.encode(), headers={"Content-Type": "json"}
    )
    _assert_problem(r, 400, "validation_failed")
    assert marker not in r.text
    r = await partner.post("/practitioner", json={"firstName": "A", "lastName": "B", "npi": marker})
    _assert_problem(r, 400, "validation_failed")
    assert marker not in r.text
    r = await partner.get("/location", params={"active": marker, "limit": marker})
    _assert_problem(r, 400, "validation_failed")
    assert marker not in r.text
    r = await partner.get("/location", params={"cursor": marker})
    _assert_problem(r, 400, "validation_failed")
    assert marker not in r.text


# --- unexpected errors ----------------------------------------------------------------------


def _request(headers: list[tuple[bytes, bytes]] | None = None) -> Request:
    app = Litestar(route_handlers=[])
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": headers or [],
        "app": app,
        "litestar_app": app,
        "state": {},
    }
    return Request(scope)  # type: ignore[arg-type]


def test_handle_unexpected_is_500_without_exception_text():
    exc = RuntimeError("db password=hunter2 for patient Jane Doe")
    response = handle_unexpected(_request(), exc)
    assert response.status_code == 500
    assert response.media_type == "application/problem+json"
    body = response.content
    assert body["code"] == "internal_error"
    assert body["status"] == 500
    assert body["title"] == "Internal Server Error"
    assert body["detail"] == "The server could not complete the request."
    text = json.dumps(body)
    assert "hunter2" not in text
    assert "Jane" not in text
    assert "RuntimeError" not in text
    # no request-id middleware ran: one is made up and sent back in the header too
    assert GENERATED_ID.match(body["requestId"])
    assert response.headers["X-Request-Id"] == body["requestId"]


def test_handle_unexpected_generates_a_request_id_outside_the_middleware():
    request = _request([(b"x-request-id", b"incoming-id-123")])
    response = handle_unexpected(request, ValueError("boom"))
    assert GENERATED_ID.match(response.content["requestId"])
    assert response.headers["X-Request-Id"] == response.content["requestId"]


def test_strip_value_redacts_quoted_values():
    assert errors._strip_value("Invalid enum value 'JANE' - at `$.kind`") == "Invalid enum value"
    assert errors._strip_value("Invalid value 1980 - at `$.x`") == "Invalid value"
    assert (
        errors._strip_value("Expected `int`, got `str` - at `$.a`") == "Expected `int`, got `str`"
    )


class _Kind(msgspec.Struct):
    kind: Literal["NEW", "RETURNING"]


@get("/boom", sync_to_thread=False)
def _boom() -> None:
    raise RuntimeError("secret internal detail 0xDEADBEEF")


@post("/kind", sync_to_thread=False)
def _kind(data: JSONBody[_Kind]) -> dict:
    return {"kind": data.kind}


async def test_unexpected_error_in_a_route_is_500_problem():
    app = Litestar(
        route_handlers=[_boom, _kind],
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[request_id_middleware],
        logging_config=None,
        debug=False,
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        r = await c.get("/boom", headers={"X-Request-Id": "boom-request-1"})
        body = _assert_problem(r, 500, "internal_error")
        assert body["requestId"] == r.headers["x-request-id"] != "boom-request-1"
        assert "DEADBEEF" not in r.text
        assert "RuntimeError" not in r.text

        # msgspec quotes a bad enum value in its message; the problem body must not
        r = await c.post("/kind", json={"kind": "JANE-DOE-1980"})
        body = _assert_problem(r, 400, "validation_failed")
        assert "JANE-DOE-1980" not in r.text
        assert body["errors"] == [{"field": "kind", "message": "Invalid enum value"}]


async def test_json_bodies_are_typed_strictly(partner: Partner):
    """Found by contract fuzzing: Litestar's lax conversion took `"active": 0` for false and
    `"durationMinutes": "30"` for 30; a JSON body must carry the declared JSON types."""
    created = await partner.create("/appointment-type", {"name": "Visit", "durationMinutes": 30})
    for body in (
        {"name": "X", "durationMinutes": 30, "active": 0},
        {"name": "X", "durationMinutes": "30"},
    ):
        r = await partner.post("/appointment-type", json=body)
        problem = _assert_problem(r, 400, "validation_failed")
        assert problem["errors"][0]["field"] in ("active", "durationMinutes")
    r = await partner.put(f"/appointment-type/{created['id']}", json={"active": "false"})
    assert _assert_problem(r, 400, "validation_failed")["errors"] == [
        {"field": "active", "message": "Expected `bool`, got `str`"}
    ]
    r = await partner.put(f"/appointment-type/{created['id']}", json={"active": False})
    assert r.status_code == 200 and r.json()["active"] is False
