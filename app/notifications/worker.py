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
from app.core import clock
from app.core.db import transaction
from app.core.outbox import next_delay
from app.notifications import optouts, store
from app.notifications.base import Channel, OutgoingMessage, Permanent, Retryable
from app.notifications.messages import (
    APPOINTMENT_REMINDER,
    VALID_FOR,
    VERIFICATION_CODE,
    render,
    render_sms,
)
from app.reminders import service as reminders

log = logging.getLogger("slotproof.notifications")
_rng = random.Random()


def build_message(row: Mapping) -> OutgoingMessage:
    """The message for a notification row (ValueError when its params cannot render)."""
    common = {
        "notification_id": row["id"],
        "channel": row["channel"],
        "to": row["recipient"],
        "purpose": row["purpose"],
        "locale": row["locale"],
        "code": row["params"].get("code") if row["purpose"] == VERIFICATION_CODE else None,
    }
    if row["channel"] != "EMAIL":
        return OutgoingMessage(
            **common, body=render_sms(row["purpose"], row["locale"], row["params"])
        )
    rendered = render(row["purpose"], row["locale"], row["params"])
    return OutgoingMessage(
        **common,
        body=rendered.text,
        subject=rendered.subject,
        html=rendered.html,
        headers=unsubscribe_headers(row["params"].get("unsubscribe_url")),
        attachments=rendered.attachments,
    )


def unsubscribe_headers(url: str | None) -> dict[str, str] | None:
    """RFC 8058 one-click unsubscribe: mail clients show an Unsubscribe button that POSTs."""
    if not url:
        return None
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


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
    """One pass: release due reminders into the outbox, claim up to `batch` due rows, deliver
    them concurrently, record outcomes (every accepted send in one statement). Returns how
    many reminders and notifications it handled (0: nothing was due). `now` (tests) stands in
    for the clock."""
    released = await reminders.release_due(
        pool, settings, now or clock.now(), limit=max(batch, 200)
    )
    async with transaction(pool) as conn:
        rows = await store.claim_due(
            conn, limit=batch, lease_seconds=settings.delivery_lease_seconds, now=now
        )
        stopped = await _opted_out(conn, rows)
    if rows:
        sent = await asyncio.gather(
            *(_deliver(pool, settings, channels, row, now, row["id"] in stopped) for row in rows)
        )
        accepted = [result for result in sent if result is not None]
        if accepted:
            async with transaction(pool) as conn:
                await store.mark_sent_many(conn, accepted)
                await reminders.on_sent(conn, [notification_id for notification_id, _ in accepted])
    return released + len(rows)


async def _opted_out(conn: asyncpg.Connection, rows: list[asyncpg.Record]) -> set[int]:
    """Ids of claimed rows whose recipient opted out since they were queued: every SMS after
    a STOP, reminder emails after an unsubscribe."""
    found: set[int] = set()
    for channel, applies in (
        ("SMS", lambda row: True),
        ("EMAIL", lambda row: row["purpose"] == APPOINTMENT_REMINDER),
    ):
        mine = [r for r in rows if r["channel"] == channel and applies(r)]
        if not mine:
            continue
        stopped = await optouts.opted_out(
            conn, channel, [(r["account_id"], r["recipient"]) for r in mine]
        )
        found |= {
            r["id"]
            for r in mine
            if (r["account_id"], optouts.contact_key(channel, r["recipient"])) in stopped
        }
    return found


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
    opted_out: bool = False,
) -> tuple[int, str | None] | None:
    """(notification id, provider message id) when the provider accepted the message; the
    caller records it. Every other outcome is recorded here."""
    attempt = row["attempts"]
    if opted_out:
        await _fail(pool, row, "recipient opted out")
        return None
    if attempt > settings.delivery_max_attempts:  # a lease ran out on the last attempt
        await _fail(pool, row, "attempts exhausted")
        return None
    valid_for = VALID_FOR.get(row["purpose"])
    if valid_for is not None and (now or datetime.now(UTC)) - row["created_at"] > valid_for:
        await _fail(pool, row, "expired before it could be sent")
        return None
    try:
        message = build_message(row)
    except (ValueError, KeyError, IndexError) as exc:
        await _fail(pool, row, f"render {type(exc).__name__}")
        return None
    try:
        result = await channels[row["channel"]].send(message)
    except Permanent as exc:
        await _fail(pool, row, exc.reason)
        return None
    except Retryable as exc:
        reason = exc.reason
    except Exception as exc:  # a bug or an SDK surprise: retried, then failed
        log.error(
            "notification send raised", extra=_fields(row, "SENDING", error=type(exc).__name__)
        )
        reason = f"unexpected {type(exc).__name__}"
    else:
        log.info("notification sent", extra=_fields(row, "SENT"))
        return row["id"], result.provider_message_id
    if attempt >= settings.delivery_max_attempts:
        await _fail(pool, row, f"{reason}; attempts exhausted")
        return None
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
