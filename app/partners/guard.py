"""The partner guard, applied to every route under /partner/v2/account/{account_id}: the
request's principal (app/core/principal.py) decides, in the contract's order. Ids inside the
account are checked by each store query (404 when they belong elsewhere)."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.types import ASGIApp, Receive, Scope, Send

from app.core.errors import Problem
from app.core.http import check_request
from app.core.principal import READ_AHEAD, principal_of


def _denial(scope: Scope) -> Problem | None:
    return principal_of(scope).partner_denial(
        scope["path_params"].get("account_id"), scope["route_handler"].opt.get("scope")
    )


async def partner_checks(request: Request[Any, Any, Any]) -> None:
    """The partner routers' `before_request`: the partner guard, then the app's request checks
    (a router's hook replaces the app's). A hook rather than a Litestar guard, which copies the
    route handler on every call; it runs at the same point, before any parameter is read."""
    denial = _denial(request.scope)
    if denial is not None:
        raise denial
    await check_request(request)


def answered_ahead_middleware(app: ASGIApp) -> ASGIApp:
    """The innermost middleware: a GET whose read-ahead (READ_AHEAD) is ready to be answered
    (the route's own rule: for availability, stored bytes the handler already sent for this very
    query string, with no change unseen by the statement sent after the request arrived) is
    answered here, after the same partner check, the rate limits and the audit trail, without
    running the handler again. Anything else goes on to the handler."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        got = (scope.get("state") or {}).get(READ_AHEAD) if scope["type"] == "http" else None
        if got is not None and scope["method"] == "GET":
            ahead, (_, found) = got
            if _denial(scope) is None and (ready := ahead.ready(found)) is not None:
                body, media_type, state = ready
                scope["state"].update(state)
                headers = [
                    (b"content-type", media_type.encode()),
                    (b"content-length", b"%d" % len(body)),
                ]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await app(scope, receive, send)

    return middleware


def holds_scope(connection: ASGIConnection, name: str) -> bool:
    """Whether the calling partner holds `name` (for a field that needs more than the route's
    scope, e.g. `overrideAvailability`)."""
    partner = principal_of(connection.scope).partner
    return partner is not None and name in partner.scopes


def scope(name: str) -> dict[str, str]:
    """Route handler `opt` naming the scope a partner route needs."""
    return {"scope": name}
