"""The partner guard, applied to every route under /partner/v2/account/{account_id}: the
request's principal (app/core/principal.py) decides, in the contract's order. Ids inside the
account are checked by each store query (404 when they belong elsewhere)."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from app.core.principal import principal_of


async def partner_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    principal = principal_of(connection.scope)
    denial = principal.partner_denial(
        connection.path_params.get("account_id"), handler.opt.get("scope")
    )
    if denial is not None:
        raise denial


def scope(name: str) -> dict[str, str]:
    """Route handler `opt` naming the scope a partner route needs."""
    return {"scope": name}
