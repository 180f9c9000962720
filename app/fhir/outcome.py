"""Errors on FHIR paths are `OperationOutcome`s, whoever raised them.

The application answers every error as problem+json with a stable `code` (handlers, guards,
validation, rate limits, idempotency, audit). `FhirOutcomes` wraps the whole app, like the
security headers, and rewrites those answers under `/fhir/` into an `OperationOutcome` with
the same status: the `code` goes to `issue[].details.coding` (our code system), `detail` to
`details.text`, each field error to its own issue, and the alternatives of a conflict, which
the FHIR handlers give as proposed Appointments (`fhirAlternatives`), become contained
resources that the issue references."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.fhir.resources import Resource, Systems

FHIR_JSON = "application/fhir+json"
PREFIX = "/fhir/"
ALTERNATIVES = "fhirAlternatives"  # problem extension member the FHIR handlers set

# HTTP status -> FHIR IssueType
_ISSUE_TYPE = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "business-rule",
    429: "throttled",
    503: "transient",
}


def operation_outcome(problem: dict[str, Any], systems: Systems) -> Resource:
    status = int(problem.get("status") or 500)
    issue_type = _ISSUE_TYPE.get(status, "exception")
    code = str(problem.get("code") or "error")
    detail = str(problem.get("detail") or "")
    details: Resource = {"coding": [{"system": systems.code, "code": code}]}
    if detail:  # FHIR strings may not be empty
        details["text"] = detail
    issues: list[Resource] = []
    for error in problem.get("errors") or []:
        if isinstance(error, dict):
            issues.append(
                {
                    "severity": "error",
                    "code": issue_type,
                    "details": details,
                    "diagnostics": f"{error.get('field')}: {error.get('message')}",
                    "expression": [str(error.get("field"))],
                }
            )
    if not issues:
        issues.append({"severity": "error", "code": issue_type, "details": details})
    outcome: Resource = {"resourceType": "OperationOutcome", "issue": issues}
    alternatives = problem.get(ALTERNATIVES) or []
    if alternatives:
        contained = []
        for number, appointment in enumerate(alternatives, start=1):
            contained.append({**appointment, "id": f"alternative{number}"})
        outcome["contained"] = contained
        issues[0]["extension"] = [
            {"url": systems.alternative, "valueReference": {"reference": f"#{c['id']}"}}
            for c in contained
        ]
    return outcome


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> bytes:
    return next((v for k, v in headers if k.lower() == name), b"")


class FhirOutcomes:
    """ASGI wrapper: problem+json under /fhir/ becomes an OperationOutcome."""

    def __init__(self, app: ASGIApp, public_url: str) -> None:
        self.app = app
        self.systems = Systems(public_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def convert(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if _header(headers, b"content-type").startswith(b"application/problem+json"):
                    start = message
                    return
                await send(message)
                return
            if start is None or message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            await self._send_outcome(start, b"".join(chunks), send)

        await self.app(scope, receive, convert)

    async def _send_outcome(self, start: Message, body: bytes, send: Send) -> None:
        try:
            problem = msgspec.json.decode(body)
        except msgspec.DecodeError:
            problem = {"status": start["status"], "code": "error"}
        if not isinstance(problem, dict):
            problem = {"status": start["status"], "code": "error"}
        problem.setdefault("status", start["status"])
        encoded = msgspec.json.encode(operation_outcome(problem, self.systems))
        headers = [
            (k, v)
            for k, v in start.get("headers", [])
            if k.lower() not in (b"content-type", b"content-length")
        ]
        headers += [
            (b"content-type", FHIR_JSON.encode()),
            (b"content-length", str(len(encoded)).encode()),
        ]
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": encoded, "more_body": False})


def fhir_outcomes(app: Any, public_url: str) -> Any:
    """Wrap the app's handler (not its lifespan) in `FhirOutcomes`; returns the app."""
    app.asgi_handler = FhirOutcomes(app.asgi_handler, public_url)
    return app
