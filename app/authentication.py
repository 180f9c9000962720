"""The authentication step: every matched request becomes one `Principal` (app/core/principal.py),
resolved here once and read by everything after it (rate limits, audit, idempotency, the partner
guard, the widget handlers). ASGI middleware, first after the request id and access log.

Which credential counts depends on the path, and only one does:

* `/partner/*` and `/fhir/*` (`PARTNER_PATHS`): `Authorization: Bearer <access token>`. A token
  that verifies names a client whose standing (active, scopes, grants) is read from the
  database for this request, so a revoked grant or a removed scope takes effect on the next
  call, not when the token expires.
* a route with a `manage_token` path parameter: the appointment behind that token.
* `/widget/v1/*`: the setting behind `X-Widget-Key`, and the attempt behind
  `Authorization: Bearer <attempt token>` when the attempt belongs to that setting.

Nothing here refuses a request: the guards and handlers answer 401/403/422 from the principal,
in the contract's order.
"""

from __future__ import annotations

from typing import Any

from litestar.types import ASGIApp, Receive, Scope, Send

from app.appointments import store as appointment_store
from app.appointments.notify import manage_token_hash
from app.attempts import store as attempt_store
from app.config import Settings
from app.core.coalesce import Coalescer
from app.core.principal import (
    PARTNER_PATHS,
    STATE_KEY,
    Credential,
    PartnerClient,
    Principal,
    bearer_token,
    header,
    scope_client_address,
)
from app.embed.auth import attempt_token_hash, looks_like_widget_key
from app.partners import store as partner_store
from app.partners import tokens
from app.selfscheduling import store as setting_store

WIDGET_PREFIX = "/widget/v1/"
MANAGE_PARAM = "manage_token"
MAX_TOKEN_LENGTH = 100


def _standings(state: Any) -> Coalescer[str, partner_store.Standing | None]:
    """Clients' standings read for concurrent requests in one statement, each still sent after
    its request arrived (app/core/coalesce.py): a revocation committed before a request is
    always seen by it."""
    found = getattr(state, "partner_standings", None)
    if found is None:

        async def run(client_ids: list[str]) -> list[partner_store.Standing | None]:
            # the pool of the current lifespan, not the one there was when this was made
            return await partner_store.standings(state.pool, client_ids)

        found = state.partner_standings = Coalescer(run)
    return found


async def partner_client(state: Any, settings: Settings, scope: Scope) -> Principal:
    """The one place a partner credential is read (add other credential kinds here)."""
    ip = scope_client_address(scope, settings.trusted_proxies)
    token = bearer_token(scope)
    if token is None:
        return Principal(ip=ip)
    try:
        claims = tokens.verify(settings.secret_key, settings.public_url, token)
    except tokens.InvalidToken:
        return Principal(ip=ip, bearer=Credential.INVALID)
    standing = await _standings(state).ask(claims.client_id)
    if standing is None:  # the client was deleted since the token was minted
        return Principal(ip=ip, bearer=Credential.INVALID)
    client = PartnerClient(
        client_id=claims.client_id,
        active=standing.active,
        scopes=claims.scopes & standing.scopes,
        accounts=standing.accounts,
    )
    return Principal(ip=ip, bearer=Credential.VALID, partner=client)


async def manage_link(pool: Any, settings: Settings, scope: Scope, raw: str) -> Principal:
    ip = scope_client_address(scope, settings.trusted_proxies)
    if not raw.startswith("mg_") or len(raw) > MAX_TOKEN_LENGTH:
        return Principal(ip=ip, bearer=Credential.INVALID)
    row = await appointment_store.by_manage_hash(pool, manage_token_hash(settings.secret_key, raw))
    if row is None:
        return Principal(ip=ip, bearer=Credential.INVALID)
    return Principal(ip=ip, bearer=Credential.VALID, managed=row)


async def widget_caller(pool: Any, settings: Settings, scope: Scope) -> Principal:
    ip = scope_client_address(scope, settings.trusted_proxies)
    key = header(scope, b"x-widget-key").strip()
    if not looks_like_widget_key(key):
        return Principal(ip=ip)
    setting = await setting_store.setting_by_publishable_key(pool, key)
    token = bearer_token(scope)
    if setting is None or token is None:
        return Principal(ip=ip, widget_key=key, setting=setting)
    attempt = await attempt_store.by_token_hash(
        pool, attempt_token_hash(settings.secret_key, token)
    )
    if attempt is None or attempt.setting_id != setting["id"]:
        return Principal(ip=ip, bearer=Credential.INVALID, widget_key=key, setting=setting)
    return Principal(
        ip=ip, bearer=Credential.VALID, widget_key=key, setting=setting, attempt=attempt
    )


async def authenticate(scope: Scope) -> Principal:
    state = scope["app"].state
    settings: Settings = state.settings
    path: str = scope["path"]
    if path.startswith(PARTNER_PATHS):
        return await partner_client(state, settings, scope)
    manage = (scope.get("path_params") or {}).get(MANAGE_PARAM)
    if manage is not None:
        return await manage_link(state.pool, settings, scope, str(manage))
    if path.startswith(WIDGET_PREFIX):
        return await widget_caller(state.pool, settings, scope)
    return Principal(ip=scope_client_address(scope, settings.trusted_proxies))


def authentication_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope.setdefault("state", {})[STATE_KEY] = await authenticate(scope)
        await app(scope, receive, send)

    return middleware
