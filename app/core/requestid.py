"""Request ids: taken from a well-formed incoming X-Request-Id or generated; echoed back."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

from litestar.types import ASGIApp, Message, Receive, Scope, Send

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_SAFE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
HEADER = b"x-request-id"


def current_request_id() -> str | None:
    return _request_id.get()


def accept_or_generate(incoming: str | None) -> str:
    """The incoming id when well formed, else a fresh one."""
    return incoming if incoming and _SAFE.fullmatch(incoming) else secrets.token_hex(12)


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        incoming = next((v for k, v in scope["headers"] if k == HEADER), b"").decode("latin-1")
        request_id = accept_or_generate(incoming)
        token = _request_id.set(request_id)

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

    return middleware
