"""The webhook dispatcher: fan new events out to deliveries, then post due deliveries.

Fan-out: one transaction locks unmarked `events` rows (FOR UPDATE SKIP LOCKED), inserts one
`webhook_deliveries` row per endpoint of that account subscribed to the type (and created no
later than the event), and marks the events; so each event fans out exactly once however many
dispatchers run. The body `{type, timestamp, data}` is encoded there, once, and stored: every
attempt sends the same bytes.

Delivery mirrors the notification worker: claim due rows with a lease (app.core.outbox), post
with no transaction open, record the outcome fenced by the claimed attempt number. 2xx is
DELIVERED. Anything else (other statuses, redirects, which are never followed, timeouts,
refused connections, an address refused in production) is retried with capped exponential
backoff and full jitter until `give_up_at` (creation + 24 h), then FAILED. At least once: a
dispatcher that dies after the receiver answered 2xx but before recording it sends again once
its lease runs out; receivers dedupe on `webhook-id`, which is the same on every attempt.

Logs carry delivery, endpoint and event ids, the type, status and error class; never the URL,
the body or the secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

import asyncpg
import httpx
import msgspec

from app.config import Settings
from app.core.db import transaction
from app.core.outbox import next_delay
from app.webhooks import signing, store, urls, vault

log = logging.getLogger("slotproof.webhooks")
_rng = random.Random()
_encode = msgspec.json.Encoder().encode
USER_AGENT = "slotproof-webhooks/1"


class PassResult(NamedTuple):
    events: int  # events fanned out
    deliveries: int  # deliveries claimed and attempted


def encode_body(event_type: str, created_at: datetime, data: Mapping) -> bytes:
    """The webhook body, Standard Webhooks style: `{type, timestamp, data}`."""
    return _encode({"type": event_type, "timestamp": created_at, "data": data})


# --- fan-out ---------------------------------------------------------------------------------


async def fan_out(
    pool: asyncpg.Pool, settings: Settings, *, batch: int = 200, now: datetime | None = None
) -> int:
    """One fan-out transaction over up to `batch` events; returns how many were marked."""
    async with transaction(pool) as conn:
        pending = await store.lock_unfanned_events(conn, limit=batch)
        if not pending:
            return 0
        by_account: dict[int, list[asyncpg.Record]] = {}
        for endpoint in await store.subscribed_endpoints(
            conn, sorted({e["account_id"] for e in pending})
        ):
            by_account.setdefault(endpoint["account_id"], []).append(endpoint)
        rows: list[tuple[int, int, int, str, bytes]] = []
        for event in pending:
            body: bytes | None = None
            for endpoint in by_account.get(event["account_id"], ()):
                if event["type"] not in endpoint["events"]:
                    continue
                if endpoint["created_at"] > event["created_at"]:
                    continue  # subscribed after the event happened
                body = body or encode_body(event["type"], event["created_at"], event["data"])
                rows.append((event["account_id"], endpoint["id"], event["id"], event["type"], body))
        created = await store.insert_deliveries(
            conn, rows, now=now, window_seconds=settings.webhook_retry_window_seconds
        )
        await store.mark_fanned_out(conn, [e["id"] for e in pending])
    log.info("webhook events fanned out", extra={"events": len(pending), "deliveries": created})
    return len(pending)


# --- delivery --------------------------------------------------------------------------------


def lease_seconds(settings: Settings) -> float:
    """At least 3 x the timeout, so a live dispatcher never loses its lease mid-post."""
    return max(settings.webhook_lease_seconds, 3 * settings.webhook_timeout_seconds)


class Attempt(NamedTuple):
    status_code: int | None
    error: str | None  # None: delivered


def _fields(row: Mapping, status: str, **extra: object) -> dict[str, object]:
    return {
        "deliveryId": row["id"],
        "endpointId": row["endpoint_id"],
        "eventId": row["event_id"],
        "eventType": row["event_type"],
        "attempt": row["attempts"],
        "status": status,
        **extra,
    }


def _pinned(target: urls.Target, address: urls.IPAddress) -> tuple[str, dict[str, str], dict]:
    """The URL with its host replaced by the checked address, plus the Host header and TLS
    server name that keep the request (and certificate check) about the original host."""
    parts = httpx.URL(target.url)
    url = parts.copy_with(host=str(address), port=target.port)
    extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
    return str(url), {"Host": target.host_header}, extensions


async def post_once(
    client: httpx.AsyncClient,
    settings: Settings,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    resolve: urls.Resolver = urls.system_resolve,
) -> Attempt:
    """One POST, never following redirects, bounded by the webhook timeout overall. In
    production the host is resolved and checked here, and the request goes to a checked
    address. The response body is never read."""
    try:
        target = urls.parse(url)
    except urls.UrlRejected:
        return Attempt(None, "invalid url")
    sends: list[tuple[str, dict[str, str], dict]] = [(url, {}, {})]
    if settings.is_production:
        try:
            addresses = await urls.resolve_allowed(target, production=True, resolve=resolve)
        except urls.UrlRejected as exc:
            return Attempt(None, f"url_not_allowed: {exc.message}")
        sends = [_pinned(target, address) for address in addresses]
    all_headers = {
        **headers,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }
    last = "connect error"
    try:
        async with asyncio.timeout(settings.webhook_timeout_seconds):
            for send_url, extra_headers, extensions in sends:
                try:
                    request = client.build_request(
                        "POST",
                        send_url,
                        content=body,
                        headers={**all_headers, **extra_headers},
                        extensions=extensions,
                    )
                    response = await client.send(request, stream=True, follow_redirects=False)
                except httpx.ConnectError:
                    last = "connect error"
                    continue  # the next checked address, if any
                status = response.status_code
                await response.aclose()
                if 200 <= status < 300:
                    return Attempt(status, None)
                if 300 <= status < 400:
                    return Attempt(status, f"HTTP {status} (redirects are not followed)")
                return Attempt(status, f"HTTP {status}")
    except (TimeoutError, httpx.TimeoutException):
        return Attempt(None, "timeout")
    except httpx.HTTPError as exc:
        return Attempt(None, f"{type(exc).__name__}")
    return Attempt(None, last)


async def deliver_due(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    client: httpx.AsyncClient,
    batch: int = 20,
    now: datetime | None = None,
    resolve: urls.Resolver = urls.system_resolve,
) -> int:
    """Claim up to `batch` due deliveries, post them concurrently, record the outcomes."""
    async with transaction(pool) as conn:
        rows = await store.claim_due(
            conn, limit=batch, lease_seconds=lease_seconds(settings), now=now
        )
    if not rows:
        return 0
    endpoints = await store.endpoints_for_send(pool, sorted({r["endpoint_id"] for r in rows}))
    await asyncio.gather(
        *(
            _deliver(pool, settings, client, row, endpoints.get(row["endpoint_id"]), now, resolve)
            for row in rows
        )
    )
    return len(rows)


async def _deliver(
    pool: asyncpg.Pool,
    settings: Settings,
    client: httpx.AsyncClient,
    row: asyncpg.Record,
    endpoint: asyncpg.Record | None,
    now: datetime | None,
    resolve: urls.Resolver,
) -> None:
    if endpoint is None:  # deleted since the claim; its deliveries went with it
        return
    try:
        secret = vault.unseal(
            settings.secret_key, endpoint["account_id"], endpoint["secret_sealed"]
        )
        timestamp = int(now.timestamp()) if now is not None else int(time.time())
        msg_id = signing.message_id(row["id"])
        headers = signing.headers(secret, msg_id, timestamp, bytes(row["payload"]))
    except (vault.SealError, signing.InvalidSecret):
        outcome = Attempt(None, "signing key unavailable")
    else:
        try:
            outcome = await post_once(
                client, settings, endpoint["url"], headers, bytes(row["payload"]), resolve=resolve
            )
        except Exception as exc:  # a bug or a library surprise: retried, then failed
            log.error(
                "webhook post raised", extra=_fields(row, "SENDING", error=type(exc).__name__)
            )
            outcome = Attempt(None, f"unexpected {type(exc).__name__}")
    await _record(pool, settings, row, outcome, now)


async def _record(
    pool: asyncpg.Pool,
    settings: Settings,
    row: asyncpg.Record,
    outcome: Attempt,
    now: datetime | None,
) -> None:
    attempt = row["attempts"]
    if outcome.error is None:
        assert outcome.status_code is not None
        await store.mark_delivered(pool, row["id"], status_code=outcome.status_code, now=now)
        log.info("webhook delivered", extra=_fields(row, "DELIVERED", code=outcome.status_code))
        return
    at = now if now is not None else await pool.fetchval("SELECT now()")
    if at >= row["give_up_at"]:
        failed = await store.fail_attempt(
            pool, row["id"], attempt=attempt, status_code=outcome.status_code, error=outcome.error
        )
        if failed:
            log.warning("webhook failed", extra=_fields(row, "FAILED", error=outcome.error))
        return
    delay = next_delay(
        attempt, settings.webhook_backoff_base_seconds, settings.webhook_backoff_cap_seconds, _rng
    )
    await store.schedule_retry(
        pool,
        row["id"],
        attempt=attempt,
        delay_seconds=delay,
        now=now,
        status_code=outcome.status_code,
        error=outcome.error,
    )
    log.warning(
        "webhook attempt failed; will retry",
        extra=_fields(row, "PENDING", error=outcome.error, retryInSeconds=round(delay, 3)),
    )


# --- passes ----------------------------------------------------------------------------------


def build_client(settings: Settings) -> httpx.AsyncClient:
    """No redirects, no proxies from the environment (requests go where they were checked)."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(settings.webhook_timeout_seconds),
        follow_redirects=False,
        trust_env=False,
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
    )


async def run_once(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    client: httpx.AsyncClient | None = None,
    batch: int = 20,
    now: datetime | None = None,
    resolve: urls.Resolver = urls.system_resolve,
) -> PassResult:
    """One pass: fan out every waiting event (in batches), then claim and post up to `batch`
    due deliveries. `now` (tests) stands in for the clock; `client` defaults to a fresh one."""
    fanned = 0
    while (count := await fan_out(pool, settings, now=now)) > 0:
        fanned += count
    if client is None:
        async with build_client(settings) as own:
            sent = await deliver_due(
                pool, settings, client=own, batch=batch, now=now, resolve=resolve
            )
    else:
        sent = await deliver_due(
            pool, settings, client=client, batch=batch, now=now, resolve=resolve
        )
    return PassResult(fanned, sent)


async def run_forever(
    pool: asyncpg.Pool,
    settings: Settings,
    *,
    stop: asyncio.Event,
    batch: int = 20,
    idle_seconds: float = 1.0,
) -> None:
    """Pass after pass until `stop` is set; sleeps `idle_seconds` whenever a pass found less
    than a full batch. A failing pass (database away) is logged and retried after a pause."""
    log.info("webhook dispatcher started")
    async with build_client(settings) as client:
        while not stop.is_set():
            pause = idle_seconds
            try:
                result = await run_once(pool, settings, client=client, batch=batch)
                busy = result.deliveries >= batch
            except Exception as exc:
                log.error("webhook dispatcher pass failed", extra={"error": type(exc).__name__})
                busy, pause = False, max(idle_seconds, 5.0)
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)
    log.info("webhook dispatcher stopped")
