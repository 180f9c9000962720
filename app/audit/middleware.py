"""One audit_log row for every call to a route that declares `opt=audit(...)`, as ASGI
middleware, so handlers stay thin and no PHI route can forget it.

Litestar runs app middleware after routing, so `scope["route_handler"]` (its merged `opt`) and
`scope["path_params"]` are known here. The response is held until the row is written:

* who, from the request's principal (app/core/principal.py): a partner call -> the client id of
  its verified token (`anonymous` when it does not verify); a widget call -> `widget:<attempt
  id>` from its attempt token (`widget:anonymous` without one); a manage link -> `patient-link`;
* action: the route's (`read`/`create`/`update`), `read` for an `Idempotent-Replayed` answer;
* record: resource type and id (see app.audit.spec), account, our request id (and, apart, the
  caller's own `X-Request-Id` when it sent one), time;
* outcome: `success` (< 400), `denied` (401/403), `error` (any other 4xx/5xx, or an exception).

Never any value: no bodies, no contacts, no names. If the row cannot be written, a successful
read is answered 503 `audit_unavailable` instead (no PHI leaves unaudited); a write already
committed is still answered, and the failure is logged.

It sits outside the idempotency middleware, so replays are audited too.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.audit import store
from app.audit.spec import AuditSpec, outcome, resource_id_from_response
from app.core import clock
from app.core.errors import send_problem
from app.core.principal import PARTNER_PATHS, principal_of
from app.core.requestid import current_client_request_id, current_request_id
from app.core.schema import MAX_ID

log = logging.getLogger("slotproof.audit")
_REPLAYED = b"idempotent-replayed"


def _account(value: Any) -> int | None:
    return value if isinstance(value, int) and 1 <= value <= MAX_ID else None


class _Context(msgspec.Struct):
    actor: str
    account_id: int | None = None
    proof_id: int | None = None
    record_id: int | None = None  # the record behind a manage link


def _context(scope: Scope) -> _Context:
    """Who, in which account, from the request's principal."""
    principal = principal_of(scope)
    if scope["path"].startswith(PARTNER_PATHS):  # both called with partner tokens
        actor = principal.partner.client_id if principal.partner is not None else "anonymous"
        return _Context(
            actor=actor, account_id=_account((scope.get("path_params") or {}).get("account_id"))
        )
    if principal.managed is not None or "manage_token" in (scope.get("path_params") or {}):
        record = principal.managed["id"] if principal.managed is not None else None
        return _Context(actor="patient-link", account_id=principal.account_id, record_id=record)
    if principal.attempt is not None:
        attempt = principal.attempt
        return _Context(
            actor=f"widget:{attempt.id}",
            account_id=attempt.account_id,
            proof_id=attempt.identity_proof_id,
        )
    return _Context(actor="widget:anonymous", account_id=principal.account_id)


def _resource_id(
    spec: AuditSpec, scope: Scope, ctx: _Context, status: int, body: bytes
) -> str | None:
    source = spec.resource_id
    found: str | None = None
    if source is None:
        found = None
    elif source.startswith("path:"):
        value = (scope.get("path_params") or {}).get(source[5:])
        found = None if value is None else str(value)
    elif source == "attempt:proof":
        found = None if ctx.proof_id is None else str(ctx.proof_id)
    elif source.startswith("response:") and status < 300 and body:
        try:
            found = resource_id_from_response(msgspec.json.decode(body), source[9:])
        except msgspec.DecodeError:
            found = None
    if found is None and ctx.record_id is not None:
        found = str(ctx.record_id)
    return found


async def write(
    scope: Scope, spec: AuditSpec, status: int, headers: list[tuple[bytes, bytes]], body: bytes
) -> None:
    ctx = _context(scope)
    action = spec.action_if_200 if status == 200 and spec.action_if_200 else spec.action
    if any(k.lower() == _REPLAYED for k, _ in headers):
        action = "read"  # a stored response handed out again
    entry = store.Entry(
        actor=ctx.actor,
        action=action,
        resource_type=spec.resource_type,
        resource_id=_resource_id(spec, scope, ctx, status, body),
        account_id=ctx.account_id,
        request_id=current_request_id(),
        client_request_id=current_client_request_id(),
        outcome=outcome(status),
    )
    await store.insert(scope["app"].state.pool, entry, clock.now())


async def _send_failure(send: Send) -> None:
    await send_problem(
        send,
        503,
        "audit_unavailable",
        "The request could not be recorded in the audit trail. Try again shortly.",
        ((b"retry-after", b"5"),),
        retryAfterSeconds=5,
    )


def audit_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        handler = scope.get("route_handler") if scope["type"] == "http" else None
        spec = handler.opt.get("audit") if handler is not None else None
        if not isinstance(spec, AuditSpec):
            await app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []
        written = False

        async def record(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> bool:
            nonlocal written
            written = True
            try:
                await write(scope, spec, status, headers, body)
            except Exception as exc:
                log.error("could not write an audit row: %s", type(exc).__name__)
                return False
            return True

        async def held(message: Message) -> None:
            nonlocal start
            kind = message["type"]
            if kind == "http.response.start":
                start = message
                return
            if kind != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            status, headers = start["status"], list(start.get("headers", []))
            body = b"".join(chunks)
            ok = await record(status, headers, body)
            if not ok and status < 400 and spec.action == "read":
                await _send_failure(send)
                return
            await send(start)
            await send({"type": "http.response.body", "body": body, "more_body": False})

        try:
            await app(scope, receive, held)
        finally:
            if not written:  # raised, or cancelled, before completing a response
                with anyio.CancelScope(shield=True):
                    await record(500, [], b"")

    return middleware
