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
* a provider callback route (one whose `opt` names its `PROVIDER_CALLBACK`): the provider's
  signature over the body. Only when a signature was sent and we hold the secret to check it is
  the body read, at most up to the route's `request_max_body_size` (a longer one is not checked),
  and handed on to the app unconsumed; a signature that verifies makes the request a provider
  callback, carrying what was signed for the handler, which checks nothing again.

Nothing here refuses a request: the guards and handlers answer 401/403/413/422 from the
principal, in the contract's order.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from litestar.types import ASGIApp, Receive, Scope, Send

from app.appointments import store as appointment_store
from app.appointments.notify import manage_token_hash
from app.attempts import store as attempt_store
from app.availability import store as availability_store
from app.config import Settings
from app.core.bodies import read_body, replaying
from app.core.coalesce import Coalescer
from app.core.principal import (
    PARTNER_PATHS,
    PROVIDER_CALLBACK,
    READ_AHEAD,
    STATE_KEY,
    CallbackRoute,
    Credential,
    PartnerClient,
    Principal,
    ProviderCallback,
    bearer_token,
    header,
    scope_client_address,
)
from app.embed.auth import attempt_token_hash, looks_like_widget_key
from app.notifications import signatures
from app.partners import store as partner_store
from app.partners import tokens
from app.selfscheduling import store as setting_store

WIDGET_PREFIX = "/widget/v1/"
MANAGE_PARAM = "manage_token"
MAX_TOKEN_LENGTH = 100


class _Read(NamedTuple):
    """A partner request's question: its client's standing, and optionally the freshness of a
    cached answer its route will serve (the route's read-ahead)."""

    client_id: str
    probes: list[availability_store.Probe] | None


class _Found(NamedTuple):
    standing: partner_store.Standing | None
    checked: tuple[str, list[list[tuple[int, int]]]] | None  # (snapshot, changes per probe)


def _reads(state: Any) -> Coalescer[_Read, _Found]:
    """Partner requests' reads, for concurrent requests in one statement, each still sent after
    its request arrived (app/core/coalesce.py): a revocation committed before a request is
    always seen by it, and so is every write a read-ahead freshness check must see."""
    found = getattr(state, "partner_reads", None)
    if found is None:

        async def run(batch: list[_Read]) -> list[_Found]:
            # the pool of the current lifespan, not the one there was when this was made
            return await _read_batch(state.pool, batch)

        found = state.partner_reads = Coalescer(run)
    return found


async def _read_batch(pool: Any, batch: list[_Read]) -> list[_Found]:
    ids = [read.client_id for read in batch]
    probes = [p for read in batch for p in read.probes or ()]
    if not probes:
        return [_Found(s, None) for s in await partner_store.standings(pool, ids)]
    snapshot, raw, changes = await pool.fetchrow(
        f"SELECT pg_current_snapshot()::text, {partner_store.standings_sql(1)},"
        f" {availability_store.unseen_changes_sql(2)}",
        ids,
        *availability_store.unseen_changes_args(probes),
    )
    standings = partner_store.decode_standings(raw, len(ids))
    unseen, k, out = availability_store.split_unseen(changes, len(probes)), 0, []
    for read, standing in zip(batch, standings, strict=True):
        if read.probes:
            out.append(_Found(standing, (snapshot, unseen[k : k + len(read.probes)])))
            k += len(read.probes)
        else:
            out.append(_Found(standing, None))
    return out


def _read_ahead(state: Any, scope: Scope, client_id: str) -> tuple[Any, list[Any]] | None:
    """The route's read-ahead, when it has one and the client held a grant on the path's
    account at its last call (so nothing is read ahead for an account it cannot see)."""
    handler = scope.get("route_handler")
    hook = handler.opt.get(READ_AHEAD) if handler is not None else None
    if hook is None:
        return None
    try:
        account_id = int(scope["path_params"]["account_id"])
    except (KeyError, TypeError, ValueError):
        return None
    if account_id not in _grants_seen(state).get(client_id, ()):
        return None
    return hook(state, scope, account_id)


def _grants_seen(state: Any) -> dict[str, frozenset[int]]:
    seen = getattr(state, "partner_grants_seen", None)
    if seen is None or len(seen) > 10_000:
        seen = state.partner_grants_seen = {}
    return seen


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
    ahead = _read_ahead(state, scope, claims.client_id)
    standing, checked = await _reads(state).ask(
        _Read(claims.client_id, ahead[1] if ahead is not None else None)
    )
    if standing is None:  # the client was deleted since the token was minted
        return Principal(ip=ip, bearer=Credential.INVALID)
    if settings.require_api_key and not partner_store.api_key_matches(
        settings.secret_key, standing.api_key_hash, header(scope, b"x-api-key")
    ):  # Lobbie's second credential, when the deployment asks for it
        return Principal(ip=ip, bearer=Credential.INVALID)
    _grants_seen(state)[claims.client_id] = standing.accounts
    if ahead is not None and checked is not None:  # for the handler, if the guard lets it
        scope.setdefault("state", {})[READ_AHEAD] = (ahead[0], checked)
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


async def provider_callback(
    settings: Settings, scope: Scope, receive: Receive, route: CallbackRoute
) -> tuple[Principal, Receive]:
    """The callback's principal, and `receive` for the app (the body, when read, again)."""
    anonymous = Principal(ip=scope_client_address(scope, settings.trusted_proxies))
    if not signatures.checkable(settings, route, scope):
        return anonymous, receive
    limit = scope["route_handler"].resolve_request_max_body_size() or 0  # unbounded: unread
    announced = header(scope, b"content-length")
    if announced.isdigit() and int(announced) > limit:  # the handler answers 413 unread
        return anonymous, receive
    messages, body = await read_body(receive, limit)
    receive = replaying(messages, receive)
    if body is None:  # longer than the bound (413 from the handler), or the client went away
        return anonymous, receive
    form = signatures.verified(settings, route, scope, body)
    if form is None:
        return anonymous, receive
    return Principal(ip=anonymous.ip, callback=ProviderCallback(route, body, form)), receive


async def authenticate(scope: Scope, receive: Receive) -> tuple[Principal, Receive]:
    """The request's principal, and the `receive` the app must use from here on."""
    state = scope["app"].state
    settings: Settings = state.settings
    handler = scope.get("route_handler")
    route = handler.opt.get(PROVIDER_CALLBACK) if handler is not None else None
    if route is not None:
        return await provider_callback(settings, scope, receive, route)
    return await _authenticate(state, settings, scope), receive


async def _authenticate(state: Any, settings: Settings, scope: Scope) -> Principal:
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
            principal, receive = await authenticate(scope, receive)
            scope.setdefault("state", {})[STATE_KEY] = principal
        await app(scope, receive, send)

    return middleware
