"""The OpenAPI description of errors and callers, shared by every layer.

Every 4xx/5xx body is RFC 9457 `application/problem+json` (`app.core.errors`); `ProblemDetails`
is its schema. Litestar has no layer-level `responses`, so `document_problems` adds the problem
responses of a whole router to each of its HTTP handlers after registration (a handler's own
`responses=` entry for a status wins). Which statuses a layer can answer:

* partner (`PARTNER_PROBLEMS`): 400 validation, 401 token, 403 grant/scope, 404 absent or
  another account's, 429 rate limited, 503 database unavailable; writes (`WRITE_PROBLEMS`) add
  409 state conflict / idempotency key in flight, 413 body too large and 422 not allowed /
  idempotency key reused.
* widget (`WIDGET_PROBLEMS`): the same without 403 (no grants), plus 422 `setting_inactive` on
  every call (the publishable key's setting may be switched off).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Router
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Link, Operation, Parameter, Reference, SecurityScheme
from litestar.openapi.spec import OpenAPIResponse as ResponseObject
from litestar.openapi.spec import Schema as SchemaObject
from litestar.openapi.spec.enums import OpenAPIType
from litestar.routes import HTTPRoute
from msgspec import Meta

from app.core.errors import PROBLEM_JSON
from app.core.schema import UNSET, Schema, UnsetType


class ProblemFieldError(Schema):
    field: str
    message: str


_FieldErrors = Annotated[
    list[ProblemFieldError], Meta(description="Field errors (`validation_failed`)")
]
_Alternatives = Annotated[
    list[dict[str, Any]],
    Meta(description="Up to 3 nearest open slots, shaped like a slot request"),
]
_RetryAfter = Annotated[int, Meta(description="When to retry (429, 503); also `Retry-After`")]
_Missing = Annotated[list[str], Meta(description="Contacts still to verify (`not_verified`)")]
_Fields = Annotated[list[str], Meta(description="The request fields a conflict is about")]


class ProblemDetails(Schema):
    """RFC 9457 problem details, with a stable machine-readable `code`; the extension members
    after `requestId` appear only where they apply."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    request_id: str
    errors: _FieldErrors | UnsetType = UNSET
    alternatives: _Alternatives | UnsetType = UNSET
    retry_after_seconds: _RetryAfter | UnsetType = UNSET
    missing_verifications: _Missing | UnsetType = UNSET
    fields: _Fields | UnsetType = UNSET


_DESCRIPTIONS = {
    400: "Malformed or invalid request (`validation_failed`, with `errors`).",
    401: "Missing, invalid or expired credentials.",
    403: "Valid credentials without a grant on this account, or a missing scope.",
    404: "The resource does not exist or belongs to another account.",
    409: "State conflict (slot taken, already booked, idempotency key in flight).",
    413: "The request body is too large.",
    422: "Understood but not allowed (e.g. not verified, idempotency key reused).",
    429: "Rate limited: see `Retry-After` and `retryAfterSeconds`.",
    503: "The database (or, for a PHI read, the audit trail) is temporarily unavailable: see"
    " `Retry-After`.",
}

PARTNER_PROBLEMS = (400, 401, 403, 404, 429, 503)
WIDGET_PROBLEMS = (400, 401, 404, 422, 429, 503)
WRITE_PROBLEMS = (409, 413, 422)
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

SECURITY_SCHEMES = {
    "PartnerOAuth": SecurityScheme(
        type="http",
        scheme="bearer",
        bearer_format="JWT",
        description="Access token from POST /oauth2/token",
    ),
    "WidgetKey": SecurityScheme(
        type="apiKey",
        name="X-Widget-Key",
        security_scheme_in="header",
        description="The setting's publishable key (`pk_…`)",
    ),
    "AttemptToken": SecurityScheme(
        type="http",
        scheme="bearer",
        description="The `attemptToken` from POST /widget/v1/attempt",
    ),
}
WIDGET_KEY: list[dict[str, list[str]]] = [{"WidgetKey": []}]
WIDGET_ATTEMPT: list[dict[str, list[str]]] = [{"WidgetKey": [], "AttemptToken": []}]


def problem_responses(
    *statuses: int, container: Any = None, media_type: str = PROBLEM_JSON, prefix: str = ""
) -> dict[int, ResponseSpec]:
    """`responses=` entries answering problem+json for each status (or, for the FHIR facade,
    the same errors in another `container` and `media_type`)."""
    return {
        status: ResponseSpec(
            data_container=container or ProblemDetails,
            media_type=media_type,
            description=prefix + _DESCRIPTIONS[status],
            generate_examples=False,
        )
        for status in statuses
    }


def document_problems(
    router: Router,
    statuses: Iterable[int],
    *,
    writes: Iterable[int] = WRITE_PROBLEMS,
    **shape: Any,
) -> Router:
    """Document the problem responses of every HTTP handler registered on `router`: `statuses`
    for all, plus `writes` for POST/PUT/PATCH/DELETE (`shape`: see `problem_responses`).
    Handlers are the router's own copies, so the decorated module-level handlers are left as
    they are."""
    always, on_write = tuple(statuses), tuple(writes)
    for route in router.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            codes = always + (on_write if _WRITES & set(handler.http_methods) else ())
            _add_responses(handler, codes, shape)
    return router


def _add_responses(handler: HTTPRouteHandler, codes: Iterable[int], shape: dict[str, Any]) -> None:
    handler.responses = {
        **problem_responses(*sorted(set(codes)), **shape),
        **(handler.responses or {}),
    }
    if "POST" in handler.http_methods:
        handler.operation_class = _with_idempotency_key(handler.operation_class)


IDEMPOTENCY_KEY = Parameter(
    name="Idempotency-Key",
    param_in="header",
    required=False,
    description="Run this POST at most once: the same key with the same request replays the"
    " first response (`Idempotent-Replayed: true`) for 24 h, with another request it is 422"
    " `idempotency_key_reused`, while the first still runs 409 `idempotency_key_in_flight`."
    " Scoped per caller. Send a random value (UUIDv4).",
    schema=SchemaObject(
        type=OpenAPIType.STRING,
        min_length=1,
        max_length=255,
        pattern=r"^[ -~]{1,255}$",  # printable ASCII
    ),
)


def _with_idempotency_key(base: type[Operation]) -> type[Operation]:
    """`base` with the optional `Idempotency-Key` header (app/core/idempotency.py)."""

    @dataclass
    class IdempotentOperation(base):  # type: ignore[valid-type, misc]
        def __post_init__(self) -> None:
            if hasattr(base, "__post_init__"):
                base.__post_init__(self)  # type: ignore[attr-defined]
            self.parameters = [*(self.parameters or []), IDEMPOTENCY_KEY]

    return IdempotentOperation


def linked(links: Mapping[int, Mapping[str, Link]]) -> type[Operation]:
    """An `operation_class=` adding OpenAPI links to the given responses (status -> name -> link),
    so clients and Schemathesis's stateful tests can chain operations."""

    @dataclass
    class LinkedOperation(Operation):
        def __post_init__(self) -> None:
            for status, named in links.items():
                response = (self.responses or {}).get(str(status))
                if isinstance(response, ResponseObject):
                    response.links = {**(response.links or {}), **named}

    return LinkedOperation


@dataclass
class OptionalBodyOperation(Operation):
    """An `operation_class=` for a handler whose whole body may be left out (its `data` has a
    default): Litestar documents every request body as required."""

    def __post_init__(self) -> None:
        if self.request_body is not None and not isinstance(self.request_body, Reference):
            self.request_body.required = False
