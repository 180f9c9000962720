"""RFC 9457 problem+json for every error, each with a stable machine-readable `code`.

Handlers raise `Problem` (or a subclass); anything Litestar raises (validation, unknown route,
wrong method) and anything unexpected is turned into the same shape here. Bodies never echo the
request's values, so no PHI can leak through an error.

The database going away (refused or dropped connections, a server shutting down or starting
up, the pool's acquire timeout) is a 503 `database_unavailable` with `Retry-After`, never a 500
or a hang; see `app.core.db` for the timeouts that make it fail fast.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import asyncpg
import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, SerializationException, ValidationException
from litestar.types import Send

from app.core.db import DatabaseUnavailable
from app.core.requestid import current_request_id, new_request_id

log = logging.getLogger("slotproof.errors")

PROBLEM_JSON = "application/problem+json"
DB_RETRY_AFTER_SECONDS = 5

_CODES_BY_STATUS = {
    400: "bad_request",
    401: "invalid_token",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class Problem(Exception):
    """An error answered as problem+json; `extra` becomes extension members."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


def not_found(what: str = "resource") -> Problem:
    return Problem(404, "not_found", f"The {what} does not exist.")


def invalid(field: str, message: str) -> Problem:
    return Problem(
        400,
        "validation_failed",
        "The request is not valid.",
        errors=[{"field": field, "message": message}],
    )


def problem_body(status: int, code: str, detail: str, request_id: str, **extra: Any) -> dict:
    """The one shape of every error body (RFC 9457 + `code` + `requestId`)."""
    return {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "requestId": request_id,
        **extra,
    }


def problem_response(
    status: int,
    code: str,
    detail: str,
    headers: dict[str, str] | None = None,
    *,
    request: Request | None = None,
    **extra: Any,
) -> Response[dict[str, Any]]:
    headers = dict(headers or {})
    request_id = current_request_id()
    if request_id is None:
        # Raised before any route matched (unknown path, wrong method): the request-id
        # middleware, which Litestar runs for matched routes only, never saw this request.
        request_id = new_request_id()
        headers["X-Request-Id"] = request_id
    body = problem_body(status, code, detail, request_id, **extra)
    if status == 503 and not any(name.lower() == "retry-after" for name in headers):
        headers["Retry-After"] = str(DB_RETRY_AFTER_SECONDS)  # every 503 says when to retry
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


async def send_problem(
    send: Send,
    status: int,
    code: str,
    detail: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
    **extra: Any,
) -> None:
    """Answer with a problem from ASGI middleware (outside Litestar's exception handling)."""
    all_headers = [(b"content-type", PROBLEM_JSON.encode()), *headers]
    request_id = current_request_id()
    if request_id is None:  # not behind the request-id middleware
        request_id = new_request_id()
        all_headers.append((b"x-request-id", request_id.encode()))
    body = msgspec.json.encode(problem_body(status, code, detail, request_id, **extra))
    all_headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _validation_errors(exc: ValidationException) -> list[dict[str, str]]:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid value"))
        field = item.get("key") or _field_from_message(message) or item.get("source") or "body"
        if field == "data":  # Litestar's name for the whole request body
            field = "body"
            if message == "'data'":  # KeyError text: no body was sent
                message = "a JSON body is required"
        if missing := _MISSING_FIELD.match(message):  # name the missing field, not its parent
            field = missing[1] if field == "body" else f"{field}.{missing[1]}"
        errors.append({"field": str(field), "message": _strip_value(message)})
    return errors or [{"field": "body", "message": "invalid request"}]


def _field_from_message(message: str) -> str | None:
    # msgspec: "Expected `int`, got `str` - at `$.timeZone`"
    marker = "- at `$."
    if marker in message:
        return message.split(marker, 1)[1].rstrip("`").strip()
    return None


_MISSING_FIELD = re.compile(r"^Object missing required field `([^`]+)`")
# msgspec messages that quote the submitted value ("Invalid enum value 'x'", "Invalid value 7")
_ECHOES_VALUE = re.compile(r"^(Invalid (?:enum )?value)\b.*", re.DOTALL)


def _strip_value(message: str) -> str:
    return _ECHOES_VALUE.sub(r"\1", message.split(" - at `", 1)[0])


def handle_problem(request: Request, exc: Problem) -> Response[dict[str, Any]]:
    return problem_response(
        exc.status, exc.code, exc.detail, exc.headers, request=request, **exc.extra
    )


def _malformed_errors(exc: HTTPException) -> list[dict[str, str]]:
    # Litestar raises a bare 400 for a body it cannot parse; msgspec's syntax messages name a
    # byte offset, never the content, so they are safe to pass on. Anything else is summarised.
    if isinstance(exc.__cause__, SerializationException):
        return [{"field": "body", "message": exc.detail or "the body is not valid JSON"}]
    return [{"field": "request", "message": "the request could not be parsed"}]


def handle_http_exception(request: Request, exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    if isinstance(exc, ValidationException) or status == 400:
        errors = (
            _validation_errors(exc)
            if isinstance(exc, ValidationException)
            else _malformed_errors(exc)
        )
        return problem_response(
            400, "validation_failed", "The request is not valid.", request=request, errors=errors
        )
    if status >= 500:
        log.error("server error", extra={"status": status})
        return problem_response(
            status,
            _CODES_BY_STATUS.get(status, "internal_error"),
            "The server could not complete the request.",
            request=request,
        )
    code = _CODES_BY_STATUS.get(status, "error")
    detail = {
        404: "No such resource.",
        405: "This method is not allowed on this resource.",
    }.get(status, exc.detail or HTTPStatus(status).phrase)
    return problem_response(status, code, detail, dict(exc.headers or {}), request=request)


def handle_data_error(request: Request, exc: Exception) -> Response[dict[str, Any]]:
    """A value PostgreSQL (or asyncpg's encoder) rejects: an integer beyond bigint, a NUL
    character in text. Those come from the request, so they are a 400, not a 500."""
    log.warning("database rejected a request value: %s", type(exc).__name__)
    return problem_response(
        400,
        "validation_failed",
        "The request is not valid.",
        request=request,
        errors=[{"field": "request", "message": "a value is out of range or not allowed"}],
    )


def handle_database_unavailable(request: Request, exc: Exception) -> Response[dict[str, Any]]:
    """PostgreSQL cannot be reached or dropped the connection: transient, so 503 + Retry-After.
    Only the exception's class is logged (driver messages may quote server text)."""
    log.warning("database unavailable", extra={"error": type(exc).__name__})
    return problem_response(
        503,
        "database_unavailable",
        "The database is temporarily unavailable; try again shortly.",
        {"Retry-After": str(DB_RETRY_AFTER_SECONDS)},
        request=request,
        retryAfterSeconds=DB_RETRY_AFTER_SECONDS,
    )


def _raised_by_database_driver(exc: BaseException) -> bool:
    """Whether asyncpg raised this (or the error it stems from): a socket error or timeout
    inside the driver is the database going away, elsewhere it is someone else's problem."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        tb = current.__traceback__
        while tb is not None:
            if "/asyncpg/" in tb.tb_frame.f_code.co_filename.replace("\\", "/"):
                return True
            tb = tb.tb_next
        current = current.__cause__ or current.__context__
    return False


def handle_os_error(request: Request, exc: OSError) -> Response[dict[str, Any]]:
    if _raised_by_database_driver(exc):
        return handle_database_unavailable(request, exc)
    return handle_unexpected(request, exc)


def handle_unexpected(request: Request, exc: Exception) -> Response[dict[str, Any]]:
    log.error("unhandled error: %s", type(exc).__name__, exc_info=exc)
    return problem_response(
        500, "internal_error", "The server could not complete the request.", request=request
    )


EXCEPTION_HANDLERS = {
    Problem: handle_problem,
    HTTPException: handle_http_exception,
    # server-side SQLSTATE class 22 (data exception) and asyncpg's client-side encoding error
    asyncpg.DataError: handle_data_error,
    asyncpg.exceptions._base.DataError: handle_data_error,
    # the database away: connection refused/reset/timed out while acquiring (DatabaseUnavailable),
    # a connection lost mid-query (PostgresConnectionError: ConnectionDoesNotExistError, class
    # 08), a server shutting down or starting up (57P01-57P03), no connection slots left (53300)
    # and a closed or broken connection (InterfaceError); resolved by the class hierarchy, so
    # the DataError entries above still win for that InterfaceError subclass
    DatabaseUnavailable: handle_database_unavailable,
    asyncpg.PostgresConnectionError: handle_database_unavailable,
    asyncpg.AdminShutdownError: handle_database_unavailable,
    asyncpg.CrashShutdownError: handle_database_unavailable,
    asyncpg.CannotConnectNowError: handle_database_unavailable,
    asyncpg.TooManyConnectionsError: handle_database_unavailable,
    asyncpg.InterfaceError: handle_database_unavailable,
    OSError: handle_os_error,  # TimeoutError included
    Exception: handle_unexpected,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_JSON", "MediaType", "Problem", "invalid", "not_found"]
