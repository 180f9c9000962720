"""Webhook endpoints and their delivery log (contract "Webhooks out"); `config` scope."""

from __future__ import annotations

from litestar import Controller, Request, delete, get, post

from app.core.db import transaction
from app.core.errors import Problem, invalid
from app.core.http import Cursor, DbPool, JSONBody, Limit, PathId
from app.core.pagination import DEFAULT_LIMIT, check_limit, decode_cursor
from app.events import EVENT_TYPES
from app.partners.guard import scope
from app.partners.scopes import CONFIG
from app.webhooks import schemas as s
from app.webhooks import signing, store, urls, vault

MAX_ENDPOINTS_PER_ACCOUNT = 20


def check_events(events: list[str]) -> list[str]:
    """A non-empty subset of the contract's event types, deduplicated, in contract order."""
    if not events:
        raise invalid("events", "must list at least one event type")
    for index, name in enumerate(events):
        if name not in EVENT_TYPES:
            raise invalid(f"events[{index}]", f"must be one of {', '.join(EVENT_TYPES)}")
    chosen = set(events)
    return [name for name in EVENT_TYPES if name in chosen]


async def check_url(url: str, *, production: bool, resolve: urls.Resolver) -> str:
    try:
        await urls.check_endpoint_url(url, production=production, resolve=resolve)
    except urls.UrlRejected as exc:
        if exc.code == "url_not_allowed":
            raise Problem(
                400,
                "url_not_allowed",
                f"Webhook URLs must resolve to public addresses only ({exc.message}).",
                errors=[{"field": "url", "message": exc.message}],
            ) from None
        raise invalid("url", exc.message) from None
    return url


def _endpoint(row) -> s.WebhookEndpoint:
    return s.WebhookEndpoint(
        id=row["id"], url=row["url"], events=list(row["events"]), created_at=row["created_at"]
    )


def _delivery(row) -> s.WebhookDelivery:
    return s.WebhookDelivery(**store.log_values(row))


class WebhookEndpointController(Controller):
    path = "/webhook-endpoint"
    tags = ["webhooks"]

    @post("/", opt=scope(CONFIG))
    async def create_webhook_endpoint(
        self,
        request: Request,
        pool: DbPool,
        account_id: PathId,
        data: JSONBody[s.WebhookEndpointIn],
    ) -> s.WebhookEndpointCreated:
        """Creates an endpoint. The response's `secret` (`whsec_…`) is the signing key for
        Standard Webhooks signatures; it is shown only here."""
        events = check_events(data.events)
        settings = request.app.state.settings
        resolve = request.app.state.get("webhook_resolver") or urls.system_resolve
        url = await check_url(data.url, production=settings.is_production, resolve=resolve)
        secret = signing.generate_secret()
        sealed = vault.seal(settings.secret_key, account_id, secret)
        async with transaction(pool) as conn:
            if await store.count_endpoints(conn, account_id) >= MAX_ENDPOINTS_PER_ACCOUNT:
                raise Problem(
                    409,
                    "endpoint_limit_reached",
                    f"An account may have at most {MAX_ENDPOINTS_PER_ACCOUNT} webhook "
                    "endpoints; delete one first.",
                )
            row = await store.insert_endpoint(
                conn, account_id, url=url, events=events, secret_sealed=sealed
            )
        return s.WebhookEndpointCreated(
            id=row["id"],
            url=row["url"],
            events=list(row["events"]),
            created_at=row["created_at"],
            secret=secret,
        )

    @get("/", opt=scope(CONFIG))
    async def list_webhook_endpoints(
        self, pool: DbPool, account_id: PathId, cursor: Cursor = None, limit: Limit = DEFAULT_LIMIT
    ) -> s.WebhookEndpointPage:
        rows, next_cursor = await store.list_endpoints(
            pool, account_id, after_id=decode_cursor(cursor), limit=check_limit(limit)
        )
        return s.WebhookEndpointPage([_endpoint(r) for r in rows], next_cursor)

    @get(
        "/{endpoint_id:int}",
        opt=scope(CONFIG),
        operation_id="getWebhookEndpoint",
        summary="One webhook endpoint",
        description="Its URL, events and creation time; the secret is never shown again.",
    )
    async def get_webhook_endpoint(
        self, pool: DbPool, account_id: PathId, endpoint_id: PathId
    ) -> s.WebhookEndpoint:
        return _endpoint(await store.get_endpoint(pool, account_id, endpoint_id))

    @delete("/{endpoint_id:int}", opt=scope(CONFIG))
    async def delete_webhook_endpoint(
        self, pool: DbPool, account_id: PathId, endpoint_id: PathId
    ) -> None:
        await store.delete_endpoint(pool, account_id, endpoint_id)

    @get("/{endpoint_id:int}/delivery", opt=scope(CONFIG))
    async def list_webhook_deliveries(
        self,
        pool: DbPool,
        account_id: PathId,
        endpoint_id: PathId,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> s.WebhookDeliveryPage:
        """The delivery log, oldest first. `lastError` is a status code or an error class,
        never the receiver's response."""
        after_id, limit = decode_cursor(cursor), check_limit(limit)
        await store.get_endpoint(pool, account_id, endpoint_id)
        rows, next_cursor = await store.list_deliveries(
            pool, account_id, endpoint_id, after_id=after_id, limit=limit
        )
        return s.WebhookDeliveryPage([_delivery(r) for r in rows], next_cursor)

    @post(
        "/{endpoint_id:int}/delivery/{delivery_id:int}/retry",
        opt=scope(CONFIG),
        status_code=202,
    )
    async def retry_webhook_delivery(
        self,
        request: Request,
        pool: DbPool,
        account_id: PathId,
        endpoint_id: PathId,
        delivery_id: PathId,
    ) -> s.WebhookDelivery:
        """Queues the delivery again, due now, with a fresh retry window (also after
        DELIVERED: the receiver gets the same `webhook-id` and can dedupe)."""
        settings = request.app.state.settings
        row = await store.requeue(
            pool,
            account_id,
            endpoint_id,
            delivery_id,
            window_seconds=settings.webhook_retry_window_seconds,
        )
        return _delivery(row)
