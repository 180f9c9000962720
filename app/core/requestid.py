"""Request ids: every request gets our own id, sent back as `X-Request-Id` and named in problem
bodies, logs and audit rows. A well-formed incoming `X-Request-Id` is kept beside it as the
client's id (logs, audit rows) for correlation, never instead of ours: a caller must not be
able to choose, reuse or collide the ids our records are keyed by."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

from litestar.types import ASGIApp, Message, Receive, Scope, Send

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_client_request_id: ContextVar[str | None] = ContextVar("client_request_id", default=None)
_SAFE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
HEADER = b"x-request-id"


def current_request_id() -> str | None:
    return _request_id.get()


def current_client_request_id() -> str | None:
    """The caller's own X-Request-Id for this request, when it sent a well-formed one."""
    return _client_request_id.get()


def new_request_id() -> str:
    return secrets.token_hex(12)


def well_formed(incoming: str | None) -> str | None:
    return incoming if incoming and _SAFE.fullmatch(incoming) else None


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == HEADER), b"").decode("latin-1")
        request_id = new_request_id()
        token = _request_id.set(request_id)
        client_token = _client_request_id.set(well_formed(incoming))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [h for h in message.get("headers", []) if h[0].lower() != HEADER]
                headers.append((HEADER, request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            _request_id.reset(token)
            _client_request_id.reset(client_token)

    return middleware
