"""The partner guard, applied to every route under /partner/v2/account/{account_id}: the
request's principal (app/core/principal.py) decides, in the contract's order. Ids inside the
account are checked by each store query (404 when they belong elsewhere)."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection

from app.core.http import check_request
from app.core.principal import principal_of


async def partner_checks(request: Request[Any, Any, Any]) -> None:
    """The partner routers' `before_request`: the partner guard, then the app's request checks
    (a router's hook replaces the app's). A hook rather than a Litestar guard, which copies the
    route handler on every call; it runs at the same point, before any parameter is read."""
    denial = principal_of(request.scope).partner_denial(
        request.path_params.get("account_id"), request.route_handler.opt.get("scope")
    )
    if denial is not None:
        raise denial
    await check_request(request)


def holds_scope(connection: ASGIConnection, name: str) -> bool:
    """Whether the calling partner holds `name` (for a field that needs more than the route's
    scope, e.g. `overrideAvailability`)."""
    partner = principal_of(connection.scope).partner
    return partner is not None and name in partner.scopes


def scope(name: str) -> dict[str, str]:
    """Route handler `opt` naming the scope a partner route needs."""
    return {"scope": name}
