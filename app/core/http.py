"""Annotated parameter types shared by the controllers (Litestar 2.25+ explicit markers), and
the strict reading of JSON bodies."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, TypeAlias

import asyncpg
import msgspec
from litestar import Request
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import ValidationException
from litestar.handlers import HTTPRouteHandler
from litestar.params import BodyKwarg, FromPath, JSONBody, QueryParameter

DbPool: TypeAlias = NamedDependency[asyncpg.Pool]
PathId: TypeAlias = FromPath[int]
Cursor: TypeAlias = Annotated[str | None, QueryParameter(name="cursor", max_length=200)]
Limit: TypeAlias = Annotated[int, QueryParameter(name="limit", ge=1, le=100)]


@cache
def _strict_decoder(annotation: Any) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(annotation, strict=True)


def _json_body_decoder(handler: HTTPRouteHandler) -> msgspec.json.Decoder | None:
    field = handler.parsed_data_field
    if field is None:
        return None
    kwarg = field.kwarg_definition
    media_type = kwarg.media_type if isinstance(kwarg, BodyKwarg) else RequestEncodingType.JSON
    return _strict_decoder(field.annotation) if media_type == RequestEncodingType.JSON else None


async def strict_json_body(request: Request[Any, Any, Any]) -> None:
    """`before_request` hook: a JSON body must have the declared JSON types.

    Litestar converts the decoded body in msgspec's lax mode, made for query strings, so it
    would take `"active": 0` for `false` or `"durationMinutes": "30"` for 30. Checking the raw
    body strictly first answers those with the usual 400 `validation_failed`; a body that is
    not JSON at all is left to Litestar (400 as well)."""
    decoder = _json_body_decoder(request.route_handler)
    body = await request.body() if decoder is not None else b""
    if not body:
        return
    try:
        decoder.decode(body)  # type: ignore[union-attr]
    except msgspec.ValidationError as exc:
        raise ValidationException(
            "The request body is not valid.", extra=[{"message": str(exc), "source": "body"}]
        ) from None
    except msgspec.DecodeError:
        return
    except RecursionError:  # msgspec gives up on very deep nesting this way
        raise ValidationException(
            "The request body is not valid.",
            extra=[{"message": "the body is nested too deeply", "source": "body"}],
        ) from None


__all__ = ["Cursor", "DbPool", "JSONBody", "Limit", "PathId", "strict_json_body"]
