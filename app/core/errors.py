"""RFC 9457 problem+json for every error, each with a stable machine-readable `code`.

Handlers raise `Problem` (or a subclass); anything Litestar raises (validation, unknown route,
wrong method) and anything unexpected is turned into the same shape here. Bodies never echo the
request's values, so no PHI can leak through an error.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException

from app.core.requestid import current_request_id

log = logging.getLogger("slotproof.errors")

PROBLEM_JSON = "application/problem+json"

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


def problem_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "requestId": current_request_id(),
    }
    body.update(extra)
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_errors(exc: ValidationException) -> list[dict[str, str]]:
    errors = []
    for item in exc.extra or [] if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid value"))
        field = item.get("key") or _field_from_message(message) or item.get("source") or "body"
        errors.append({"field": str(field), "message": _strip_value(message)})
    return errors or [{"field": "body", "message": exc.detail or "invalid request"}]


def _field_from_message(message: str) -> str | None:
    # msgspec: "Expected `int`, got `str` - at `$.timeZone`"
    marker = "- at `$."
    if marker in message:
        return message.split(marker, 1)[1].rstrip("`").strip()
    return None


def _strip_value(message: str) -> str:
    return message.split(" - at `", 1)[0]


def handle_problem(_: Request, exc: Problem) -> Response[dict[str, Any]]:
    return problem_response(exc.status, exc.code, exc.detail, exc.headers, **exc.extra)


def handle_http_exception(_: Request, exc: HTTPException) -> Response[dict[str, Any]]:
    status = exc.status_code
    if isinstance(exc, ValidationException) or status == 400:
        detail = "The request is not valid."
        if isinstance(exc, ValidationException):
            return problem_response(
                400, "validation_failed", detail, errors=_validation_errors(exc)
            )
        return problem_response(400, "bad_request", exc.detail or detail)
    if status >= 500:
        log.error("server error", extra={"status": status})
        return problem_response(
            status,
            _CODES_BY_STATUS.get(status, "internal_error"),
            "The server could not complete the request.",
        )
    code = _CODES_BY_STATUS.get(status, "error")
    detail = {
        404: "No such resource.",
        405: "This method is not allowed on this resource.",
    }.get(status, exc.detail or HTTPStatus(status).phrase)
    return problem_response(status, code, detail, dict(exc.headers or {}))


def handle_unexpected(_: Request, exc: Exception) -> Response[dict[str, Any]]:
    log.error("unhandled error: %s", type(exc).__name__, exc_info=exc)
    return problem_response(500, "internal_error", "The server could not complete the request.")


EXCEPTION_HANDLERS = {
    Problem: handle_problem,
    HTTPException: handle_http_exception,
    Exception: handle_unexpected,
}

__all__ = ["EXCEPTION_HANDLERS", "PROBLEM_JSON", "MediaType", "Problem", "invalid", "not_found"]
