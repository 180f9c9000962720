"""Structured JSON logs. Access lines carry method, route template, status and timing only:
never query strings, bodies or raw paths (which may carry manage tokens)."""

from __future__ import annotations

import logging
import re
import sys
import time

import msgspec
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.core.requestid import current_client_request_id, current_request_id

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "color_message",
}
access_log = logging.getLogger("slotproof.access")
LOGGED_VALUE_LIMIT = 64
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")


def loggable(value: str, limit: int = LOGGED_VALUE_LIMIT) -> str:
    """A value a caller sent (a header), fit for a log line: printable ASCII only (no line
    breaks or escapes to forge entries with), at most `limit` characters."""
    cleaned = _UNPRINTABLE.sub("?", value[: limit + 1])
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 3] + "..."


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if request_id := current_request_id():
            entry["requestId"] = request_id
        if client_request_id := current_client_request_id():
            entry["clientRequestId"] = client_request_id
        entry.update({k: v for k, v in vars(record).items() if k not in _RESERVED})
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        return msgspec.json.encode(entry, enc_hook=str).decode()


def configure_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's own access log prints raw paths with query strings; ours replaces it
    logging.getLogger("uvicorn.access").disabled = True


def access_log_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            handler = scope.get("route_handler")
            route = getattr(scope.get("path_template", None), "__str__", lambda: None)()
            extra = {
                "method": scope.get("method"),
                "route": route or (handler and handler.paths and next(iter(handler.paths))),
                "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 2),
            }
            # how the availability cache answered (app/availability/answer.py: Outcome)
            if cache := (scope.get("state") or {}).get("availability_cache"):
                extra["cache"] = cache
            access_log.info("request", extra=extra)

    return middleware
