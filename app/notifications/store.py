"""Every SQL statement on notifications and provider_callbacks.

Transitions only move forward: QUEUED -> SENDING -> SENT -> DELIVERED | FAILED, with
SENDING -> QUEUED for a retry. Worker updates after a send are fenced by the attempt number
they claimed, so a worker whose lease ran out cannot undo a newer attempt's outcome. A
verification `code` leaves `params` as soon as the row is SENT, DELIVERED or FAILED.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg

from app.core import outbox

Conn = asyncpg.Connection | asyncpg.Pool

# the statuses each target status may be reached from (callbacks never move backwards;
# DELIVERED and FAILED are both final)
FORWARD_FROM: dict[str, tuple[str, ...]] = {
    "SENT": ("QUEUED", "SENDING"),
    "DELIVERED": ("QUEUED", "SENDING", "SENT"),
    "FAILED": ("QUEUED", "SENDING", "SENT"),
}


async def insert(
    conn: Conn,
    *,
    account_id: int,
    channel: str,
    recipient: str,
    purpose: str,
    locale: str,
    params: dict[str, str],
) -> int:
    return await conn.fetchval(
        """
        INSERT INTO notifications (account_id, channel, recipient, purpose, locale, params)
        VALUES ($1, $2, $3, $4, $5, $6)
        RETURNING id
        """,
        account_id,
        channel,
        recipient,
        purpose,
        locale,
        params,
    )


async def insert_many(
    conn: asyncpg.Connection, rows: list[tuple[int, str, str, str, str, dict[str, str]]]
) -> list[int]:
    """(account_id, channel, recipient, purpose, locale, params) rows; their ids, in order
    (taken from the sequence first, so the order does not rest on how INSERT returns rows)."""
    ids = [
        r[0]
        for r in await conn.fetch(
            "SELECT nextval(pg_get_serial_sequence('notifications', 'id'))"
            " FROM generate_series(1, $1)",
            len(rows),
        )
    ]
    columns = [list(column) for column in zip(*rows, strict=True)]
    await conn.execute(
        """
        INSERT INTO notifications (id, account_id, channel, recipient, purpose, locale, params)
        OVERRIDING SYSTEM VALUE
        SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[],
                             $6::text[], $7::jsonb[])
        """,
        ids,
        *columns,
    )
    return ids


async def claim_due(
    conn: asyncpg.Connection, *, limit: int, lease_seconds: float, now: datetime | None
) -> list[asyncpg.Record]:
    return await outbox.claim_due(
        conn, "notifications", limit=limit, lease_seconds=lease_seconds, now=now
    )


async def mark_sent(conn: Conn, notification_id: int, provider_message_id: str | None) -> None:
    """The provider accepted the message. Whatever the row's state (a callback may already
    have said DELIVERED, another worker may have rescheduled it), it was sent: never send
    again, never move a final status back."""
    await mark_sent_many(conn, [(notification_id, provider_message_id)])


async def mark_sent_many(conn: Conn, sent: list[tuple[int, str | None]]) -> None:
    """`mark_sent` for (notification id, provider message id) pairs, in one statement."""
    await conn.execute(
        """
        UPDATE notifications n
        SET status = CASE WHEN n.status IN ('QUEUED', 'SENDING') THEN 'SENT' ELSE n.status END,
            provider_message_id = coalesce(n.provider_message_id, u.provider_message_id),
            sent_at = coalesce(n.sent_at, now()),
            last_error = CASE WHEN n.status IN ('QUEUED', 'SENDING') THEN NULL
                              ELSE n.last_error END,
            params = n.params - 'code',
            updated_at = now()
        FROM unnest($1::bigint[], $2::text[]) AS u(id, provider_message_id)
        WHERE n.id = u.id
        """,
        [notification_id for notification_id, _ in sent],
        [provider_id for _, provider_id in sent],
    )


async def schedule_retry(
    conn: Conn,
    notification_id: int,
    *,
    attempt: int,
    delay_seconds: float,
    now: datetime | None,
    error: str,
) -> bool:
    status = await conn.execute(
        """
        UPDATE notifications
        SET status = 'QUEUED',
            next_attempt_at = coalesce($3, now()) + make_interval(secs => $4),
            last_error = $5,
            updated_at = now()
        WHERE id = $1 AND status = 'SENDING' AND attempts = $2
        """,
        notification_id,
        attempt,
        now,
        float(delay_seconds),
        error,
    )
    return status == "UPDATE 1"


async def fail_attempt(
    conn: asyncpg.Connection, notification_id: int, *, attempt: int, error: str
) -> asyncpg.Record | None:
    """FAILED by the worker; None when a newer attempt or a callback got there first."""
    return await conn.fetchrow(
        """
        UPDATE notifications
        SET status = 'FAILED', last_error = $3, params = params - 'code', updated_at = now()
        WHERE id = $1 AND status = 'SENDING' AND attempts = $2
        RETURNING id, account_id, channel, purpose
        """,
        notification_id,
        attempt,
        error,
    )


async def advance(
    conn: asyncpg.Connection, notification_id: int, status: str, error: str | None = None
) -> asyncpg.Record | None:
    """Move to `status` if that is forward from where the row is; None otherwise."""
    return await conn.fetchrow(
        """
        UPDATE notifications
        SET status = $2::text,
            sent_at = CASE WHEN $2::text = 'SENT' THEN coalesce(sent_at, now())
                           ELSE sent_at END,
            delivered_at = CASE WHEN $2::text = 'DELIVERED' THEN now() ELSE delivered_at END,
            last_error = CASE WHEN $2::text = 'FAILED' THEN $3 ELSE last_error END,
            params = params - 'code',
            updated_at = now()
        WHERE id = $1 AND status = ANY($4::text[])
        RETURNING id, account_id, channel, purpose
        """,
        notification_id,
        status,
        error,
        list(FORWARD_FROM[status]),
    )


async def find_for_callback(
    conn: Conn, channel: str, *, notification_id: int | None, provider_message_id: str | None
) -> int | None:
    """The notification a provider event is about: by our id (carried by the provider), else
    by the provider's message id."""
    if notification_id is not None:
        return await conn.fetchval(
            "SELECT id FROM notifications WHERE id = $1 AND channel = $2",
            notification_id,
            channel,
        )
    if provider_message_id:
        return await conn.fetchval(
            "SELECT id FROM notifications WHERE channel = $1 AND provider_message_id = $2 "
            "ORDER BY id LIMIT 1",
            channel,
            provider_message_id,
        )
    return None


async def remember_callback(conn: asyncpg.Connection, provider: str, event_key: str) -> bool:
    """True the first time this (provider, event) is seen; False for a repeat."""
    inserted = await conn.fetchval(
        """
        INSERT INTO provider_callbacks (provider, event_key) VALUES ($1, $2)
        ON CONFLICT DO NOTHING
        RETURNING true
        """,
        provider,
        event_key,
    )
    return bool(inserted)
