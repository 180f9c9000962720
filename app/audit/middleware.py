"""One audit_log row for every call to a route that declares `opt=audit(...)`, as ASGI
middleware, so handlers stay thin and no PHI route can forget it.

Litestar runs app middleware after routing, so `scope["route_handler"]` (its merged `opt`) and
`scope["path_params"]` are known here. The response is held until the row is written:

* who: a partner call -> the client id in its bearer token (`anonymous` when the token does not
  verify); a widget call -> `widget:<attempt id>` from its attempt token (`widget:anonymous`
  without one); a manage link -> `patient-link`;
* action: the route's (`read`/`create`/`update`), `read` for an `Idempotent-Replayed` answer;
* record: resource type and id (see app.audit.spec), account, request id, time;
* outcome: `success` (< 400), `denied` (401/403), `error` (any other 4xx/5xx, or an exception).

Never any value: no bodies, no contacts, no names. If the row cannot be written, a successful
read is answered 500 instead (no PHI leaves unaudited); a write already committed is still
answered, and the failure is logged.

It sits outside the idempotency middleware, so replays are audited too.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import anyio
import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.appointments.notify import manage_token_hash
from app.audit import store
from app.audit.spec import AuditSpec, outcome, resource_id_from_response
from app.core import clock
from app.core.requestid import current_request_id
from app.core.schema import MAX_ID
from app.embed.auth import attempt_token_hash
from app.partners import tokens

log = logging.getLogger("slotproof.audit")
_REPLAYED = b"idempotent-replayed"


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


def _bearer(scope: Scope) -> str | None:
    scheme, _, token = _header(scope, b"authorization").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def _account(value: Any) -> int | None:
    return value if isinstance(value, int) and 1 <= value <= MAX_ID else None


class _Context(msgspec.Struct):
    actor: str
    account_id: int | None = None
    proof_id: int | None = None
    record_id: int | None = None  # the record behind a manage link


async def _context(scope: Scope) -> _Context:
    state = scope["app"].state
    settings, pool = state.settings, state.pool
    params = scope.get("path_params") or {}
    path: str = scope["path"]
    if path.startswith(("/partner/", "/fhir/")):  # both called with partner tokens
        actor = "anonymous"
        if token := _bearer(scope):
            with contextlib.suppress(tokens.InvalidToken):
                actor = tokens.verify(settings.secret_key, settings.public_url, token).client_id
        return _Context(actor=actor, account_id=_account(params.get("account_id")))
    if "manage_token" in params:
        ctx = _Context(actor="patient-link")
        raw = str(params["manage_token"])
        if raw.startswith("mg_") and len(raw) <= 100:
            row = await store.managed_appointment(pool, manage_token_hash(settings.secret_key, raw))
            if row is not None:
                ctx.account_id, ctx.record_id = row["account_id"], row["id"]
        return ctx
    ctx = _Context(actor="widget:anonymous")
    if token := _bearer(scope):
        row = await store.widget_attempt(pool, attempt_token_hash(settings.secret_key, token))
        if row is not None:
            ctx.actor = f"widget:{row['id']}"
            ctx.account_id, ctx.proof_id = row["account_id"], row["identity_proof_id"]
    key = _header(scope, b"x-widget-key")
    if ctx.account_id is None and key.startswith("pk_") and len(key) <= 100:
        ctx.account_id = await store.widget_account(pool, key)
    return ctx


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
    ctx = await _context(scope)
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
        outcome=outcome(status),
    )
    await store.insert(scope["app"].state.pool, entry, clock.now())


async def _send_failure(send: Send) -> None:
    body = msgspec.json.encode(
        {
            "type": "about:blank",
            "title": "Service Unavailable",
            "status": 503,
            "detail": "The request could not be recorded in the audit trail. Try again shortly.",
            "code": "audit_unavailable",
            "requestId": current_request_id(),
            "retryAfterSeconds": 5,
        }
    )
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", b"5"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


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
