"""The partner guard, applied to every route under /partner/v2/account/{account_id}.

Order (contract): token valid and unexpired (401) -> client active (401) -> active grant on the
account (403) -> the route's scope (403). Ids inside the account are checked by each store
query (404 when they belong elsewhere)."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from app.core.errors import Problem
from app.partners import store, tokens

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="slotproof", error="invalid_token"'}
# RFC 6750 3.1: no error code in the challenge when no credentials were sent at all
_BARE_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="slotproof"'}


def _unauthorized(detail: str, headers: dict[str, str] = _CHALLENGE) -> Problem:
    return Problem(401, "invalid_token", detail, headers=dict(headers))


async def partner_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    state = connection.app.state
    header = connection.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("A bearer access token is required.", _BARE_CHALLENGE)
    try:
        claims = tokens.verify(state.settings.secret_key, state.settings.public_url, token.strip())
    except tokens.InvalidToken:
        raise _unauthorized("The access token is invalid or expired.") from None
    account_id = connection.path_params.get("account_id")
    active, granted = await store.client_access(state.pool, claims.client_id, account_id)
    if not active:
        raise _unauthorized("The client is not active.")
    if not granted:
        raise Problem(403, "forbidden", "This client has no access to the account.")
    needed = handler.opt.get("scope")
    if needed and needed not in claims.scopes:
        raise Problem(403, "forbidden", f"This call needs the '{needed}' scope.")
    connection.state.partner_client_id = claims.client_id
    connection.state.partner_scopes = frozenset(claims.scopes)


def holds_scope(connection: ASGIConnection, name: str) -> bool:
    """Whether the calling partner's token carries `name` (for a field that needs more than
    the route's scope, e.g. `overrideAvailability`)."""
    return name in connection.state.get("partner_scopes", ())


def scope(name: str) -> dict[str, str]:
    """Route handler `opt` naming the scope a partner route needs."""
    return {"scope": name}
