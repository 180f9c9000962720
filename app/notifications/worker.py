"""The delivery worker: claim due notifications, send them with no transaction open, record
the outcome.

Delivery is at least once. A claim leases its rows (SENDING, `next_attempt_at = now + lease`);
a worker that dies (or whose database write fails) after the provider accepted a message but
before the row was marked SENT leaves the row leased, and once the lease runs out another
worker sends it again: at most one resend per expired lease, and the lease is several provider
timeouts long, so a live worker never loses its lease mid-send. Every other path sends once:
SKIP LOCKED claims keep workers apart, and outcomes are fenced by the attempt number claimed.

Logs carry the notification id, purpose, channel, status and error class; never the recipient
or the message text.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from datetime import UTC, datetime

import asyncpg

from app import events
from app.config import Settings
from app.core.db import transaction
from app.core.outbox import next_delay
from app.notifications import store
from app.notifications.base import Channel, OutgoingMessage, Permanent, Retryable
from app.notifications.messages import VALID_FOR, VERIFICATION_CODE, render

log = logging.getLogger("slotproof.notifications")
_rng = random.Random()


def build_message(row: Mapping) -> OutgoingMessage:
    """The message for a notification row (ValueError when its params cannot render)."""
    rendered = render(row["purpose"], row["locale"], row["params"])
    email = row["channel"] == "EMAIL"
    return OutgoingMessage(
        notification_id=row["id"],
        channel=row["channel"],
        to=row["recipient"],
        purpose=row["purpose"],
        locale=row["locale"],
        body=rendered.text if email else rendered.sms,
        subject=rendered.subject if email else None,
        html=rendered.html if email else None,
        code=row["params"].get("code") if row["purpose"] == VERIFICATION_CODE else None,
        attachments=rendered.attachments if email else (),
    )


async def record_failed(conn: asyncpg.Connection, failed: Mapping) -> None:
    """The `notification.failed` event for a row that just became FAILED (no recipient)."""
    await events.record(
        conn,
        account_id=failed["account_id"],
        type=events.NOTIFICATION_FAILED,
        data={
            "notificationId": failed["id"],
            "channel": failed["channel"],
            "purpose": failed["purpose"],
        },
    )


async def run_once(
    pool: asyncpg.Pool,
    settings: Settings,
    channels: Mapping[str, Channel],
    *,
    batch: int = 20,
    now: datetime | None = None,
) -> int:
    """One pass: claim up to `batch` due rows, deliver them concurrently, record outcomes.
    Returns how many rows were claimed. `now` (tests) stands in for the clock."""
    async with transaction(pool) as conn:
        rows = await store.claim_due(
            conn, limit=batch, lease_seconds=settings.delivery_lease_seconds, now=now
        )
    if rows:
        await asyncio.gather(*(_deliver(pool, settings, channels, row, now) for row in rows))
    return len(rows)


def _fields(row: Mapping, status: str, **extra: object) -> dict[str, object]:
    return {
        "notificationId": row["id"],
        "purpose": row["purpose"],
        "channel": row["channel"],
        "attempt": row["attempts"],
        "status": status,
        **extra,
    }


async def _deliver(
    pool: asyncpg.Pool,
    settings: Settings,
    channels: Mapping[str, Channel],
    row: asyncpg.Record,
    now: datetime | None,
) -> None:
    attempt = row["attempts"]
    if attempt > settings.delivery_max_attempts:  # a lease ran out on the last attempt
        await _fail(pool, row, "attempts exhausted")
        return
    valid_for = VALID_FOR.get(row["purpose"])
    if valid_for is not None and (now or datetime.now(UTC)) - row["created_at"] > valid_for:
        await _fail(pool, row, "expired before it could be sent")
        return
    try:
        message = build_message(row)
    except (ValueError, KeyError, IndexError) as exc:
        await _fail(pool, row, f"render {type(exc).__name__}")
        return
    try:
        result = await channels[row["channel"]].send(message)
    except Permanent as exc:
        await _fail(pool, row, exc.reason)
        return
    except Retryable as exc:
        reason = exc.reason
    except Exception as exc:  # a bug or an SDK surprise: retried, then failed
        log.error(
            "notification send raised", extra=_fields(row, "SENDING", error=type(exc).__name__)
        )
        reason = f"unexpected {type(exc).__name__}"
    else:
        await store.mark_sent(pool, row["id"], result.provider_message_id)
        log.info("notification sent", extra=_fields(row, "SENT"))
        return
    if attempt >= settings.delivery_max_attempts:
        await _fail(pool, row, f"{reason}; attempts exhausted")
        return
    delay = next_delay(
        attempt, settings.delivery_backoff_base_seconds, settings.delivery_backoff_cap_seconds, _rng
    )
    await store.schedule_retry(
        pool, row["id"], attempt=attempt, delay_seconds=delay, now=now, error=reason
    )
    log.warning(
        "notification send failed; will retry",
        extra=_fields(row, "QUEUED", error=reason, retryInSeconds=round(delay, 3)),
    )


async def _fail(pool: asyncpg.Pool, row: Mapping, reason: str) -> None:
    async with transaction(pool) as conn:
        failed = await store.fail_attempt(conn, row["id"], attempt=row["attempts"], error=reason)
        if failed is not None:
            await record_failed(conn, failed)
    if failed is not None:
        log.warning("notification failed", extra=_fields(row, "FAILED", error=reason))


async def run_forever(
    pool: asyncpg.Pool,
    settings: Settings,
    channels: Mapping[str, Channel],
    *,
    stop: asyncio.Event,
    batch: int = 20,
    idle_seconds: float = 1.0,
) -> None:
    """Pass after pass until `stop` is set; sleeps `idle_seconds` whenever a pass found less
    than a full batch. A failing pass (database away) is logged and retried after a pause."""
    log.info("notification worker started", extra={"delivery": settings.delivery})
    while not stop.is_set():
        pause = idle_seconds
        try:
            claimed = await run_once(pool, settings, channels, batch=batch)
        except Exception as exc:
            log.error("notification worker pass failed", extra={"error": type(exc).__name__})
            claimed, pause = 0, max(idle_seconds, 5.0)
        if claimed < batch:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
    log.info("notification worker stopped")
