"""Lobbie's documented partner operations: their operation ids, and Lobbie's status lists.

An SDK generated from Lobbie's OpenAPI description names its methods after these ids, so ours
carry the same ones. On these operations we answer only with statuses Lobbie lists (plus 429
and 503): where our contract says 422, the answer is 400 with the same `code`
(`setting_inactive`, `verification_method_mismatch`, `patient_not_set`, …).
"""

from __future__ import annotations

import json
from http import HTTPStatus

from litestar import Router
from litestar.routes import HTTPRoute
from litestar.types import ASGIApp, Message, Receive, Scope, Send

# (method, path under /partner/v2/account/{account_id}) -> Lobbie's operationId
LOBBIE_OPERATIONS: dict[tuple[str, str], str] = {
    ("POST", "/identity-proof"): "createIdentityProof",
    ("GET", "/identity-proof/{proof_id:int}"): "getIdentityProofStatus",
    ("POST", "/identity-proof/{proof_id:int}/send"): "sendVerification",
    ("POST", "/identity-proof/{proof_id:int}/verify"): "verifyCode",
    ("GET", "/identity-proof/{proof_id:int}/patient"): "getPatient_1",
    ("GET", "/self-scheduling/setting/{setting_id:int}"): "getSetting",
    ("GET", "/self-scheduling/availability"): "getAvailability",
    ("POST", "/self-scheduling/attempt"): "createAttempt",
    ("GET", "/self-scheduling/attempt/{attempt_id:int}"): "getSelfSchedulingAttempt",
    (
        "POST",
        "/self-scheduling/attempt/{attempt_id:int}/patient",
    ): "attachPatientToSelfSchedulingAttempt",
    ("POST", "/self-scheduling/attempt/{attempt_id:int}/appointment"): "createAppointment_1",
    ("GET", "/location"): "listLocations",
    ("GET", "/location/{location_id:int}/appointment"): "listAppointments",
    ("POST", "/location/{location_id:int}/appointment"): "createAppointment",
    ("PUT", "/location/{location_id:int}/appointment/{appointment_id:int}"): "updateAppointment",
    ("POST", "/patients"): "createPatient",
    ("GET", "/webhook-endpoint/{endpoint_id:int}"): "getWebhookEndpoint",
    ("DELETE", "/webhook-endpoint/{endpoint_id:int}"): "deleteWebhookEndpoint",
}
LOBBIE = "lobbie"  # handler opt set on these operations


def adopt_lobbie_operations(router: Router, base: str) -> Router:
    """Give the router's copies of Lobbie's operations Lobbie's ids and status lists (422 is
    not one of them: it is answered 400). Raises if an operation of the table is missing, so
    a renamed route cannot silently drop out of the drop-in."""
    found: set[tuple[str, str]] = set()
    for route in router.routes:
        if not isinstance(route, HTTPRoute):
            continue
        relative = route.path.removeprefix(base).rstrip("/") or "/"
        for handler in route.route_handlers:
            for method in handler.http_methods:
                name = LOBBIE_OPERATIONS.get((method, relative))
                if name is None:
                    continue
                found.add((method, relative))
                handler.operation_id = name
                handler.opt = {**handler.opt, LOBBIE: True}
                if handler.responses:
                    handler.responses = {k: v for k, v in handler.responses.items() if k != 422}
    if missing := set(LOBBIE_OPERATIONS) - found:
        raise RuntimeError(f"Lobbie operations without a route: {sorted(missing)}")
    return router


def lobbie_statuses_middleware(app: ASGIApp) -> ASGIApp:
    """On Lobbie's operations, a 422 problem (from a handler or the idempotency layer) is sent
    as 400 with the same body and `code`; everything else passes untouched."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler") if scope["type"] == "http" else None
        if handler is None or not handler.opt.get(LOBBIE):
            await app(scope, receive, send)
            return
        held: Message | None = None
        chunks: list[bytes] = []

        async def translate(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start" and message["status"] == 422:
                held = message
                return
            if held is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = _as_400(b"".join(chunks))
            headers = [(k, v) for k, v in held["headers"] if k.lower() != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            await send({**held, "status": 400, "headers": headers})
            await send({"type": "http.response.body", "body": body})

        await app(scope, receive, translate)

    return middleware


def _as_400(body: bytes) -> bytes:
    try:
        problem = json.loads(body)
    except ValueError:
        return body
    if isinstance(problem, dict) and problem.get("status") == 422:
        problem.update(status=400, title=HTTPStatus(400).phrase)
        return json.dumps(problem, separators=(",", ":"), ensure_ascii=False).encode()
    return body
