"""Every SQL statement on webhook_endpoints, webhook_deliveries and the events fan-out marker.

Delivery statuses: PENDING (waiting for its next attempt) -> SENDING (claimed, leased) ->
DELIVERED | FAILED, with SENDING -> PENDING for a retry; a manual retry puts any settled row back
to PENDING. Worker updates after a send are fenced by the attempt number they claimed, except
success, which always wins over a pending or in-flight retry (it was delivered: never again).
The API shows SENDING as PENDING.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg

from app.core import outbox
from app.core.errors import not_found
from app.core.pagination import page

Conn = asyncpg.Connection | asyncpg.Pool
Row = asyncpg.Record

TABLE = "webhook_deliveries"


# --- endpoints -------------------------------------------------------------------------------


async def count_endpoints(conn: asyncpg.Connection, account_id: int) -> int:
    """Under a per-account lock (held to the end of the caller's transaction), so concurrent
    creations cannot both pass a limit check. FOR NO KEY UPDATE leaves foreign keys to the
    account (FOR KEY SHARE) unblocked."""
    await conn.execute("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE", account_id)
    return await conn.fetchval(
        "SELECT count(*) FROM webhook_endpoints WHERE account_id = $1", account_id
    )


async def insert_endpoint(
    conn: Conn, account_id: int, *, url: str, events: Sequence[str], secret_sealed: str
) -> Row:
    return await conn.fetchrow(
        """
        INSERT INTO webhook_endpoints (account_id, url, events, secret_sealed)
        VALUES ($1, $2, $3::text[], $4)
        RETURNING id, account_id, url, events, created_at
        """,
        account_id,
        url,
        list(events),
        secret_sealed,
    )


async def list_endpoints(
    conn: Conn, account_id: int, *, after_id: int, limit: int
) -> tuple[list[Row], str | None]:
    rows = await conn.fetch(
        """
        SELECT id, account_id, url, events, created_at FROM webhook_endpoints
        WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3
        """,
        account_id,
        after_id,
        limit + 1,
    )
    return page(rows, limit)


async def get_endpoint(conn: Conn, account_id: int, endpoint_id: int) -> Row:
    row = await conn.fetchrow(
        "SELECT id, account_id, url, events, created_at FROM webhook_endpoints "
        "WHERE account_id = $1 AND id = $2",
        account_id,
        endpoint_id,
    )
    if row is None:
        raise not_found("webhook endpoint")
    return row


async def delete_endpoint(conn: Conn, account_id: int, endpoint_id: int) -> None:
    """Removes the endpoint, its secret and its delivery log; a send in flight finishes, and
    its outcome is dropped."""
    status = await conn.execute(
        "DELETE FROM webhook_endpoints WHERE account_id = $1 AND id = $2", account_id, endpoint_id
    )
    if status == "DELETE 0":
        raise not_found("webhook endpoint")


async def endpoints_for_send(conn: Conn, endpoint_ids: Sequence[int]) -> dict[int, Row]:
    rows = await conn.fetch(
        "SELECT id, account_id, url, secret_sealed FROM webhook_endpoints "
        "WHERE id = ANY($1::bigint[])",
        list(endpoint_ids),
    )
    return {r["id"]: r for r in rows}


# --- fan-out ---------------------------------------------------------------------------------


async def lock_unfanned_events(conn: asyncpg.Connection, *, limit: int) -> list[Row]:
    """Up to `limit` events not yet fanned out, oldest first, locked for this transaction;
    events another dispatcher holds are skipped."""
    return await conn.fetch(
        """
        SELECT id, account_id, type, data, created_at FROM events
        WHERE fanned_out_at IS NULL
        ORDER BY id
        LIMIT $1
        FOR UPDATE SKIP LOCKED
        """,
        limit,
    )


async def subscribed_endpoints(conn: asyncpg.Connection, account_ids: Sequence[int]) -> list[Row]:
    """The endpoints of these accounts, FOR KEY SHARE: a concurrent delete waits for this
    transaction (or, if it committed first, the row is simply not returned)."""
    return await conn.fetch(
        """
        SELECT id, account_id, events, created_at FROM webhook_endpoints
        WHERE account_id = ANY($1::bigint[])
        ORDER BY id
        FOR KEY SHARE
        """,
        list(account_ids),
    )


async def insert_deliveries(
    conn: asyncpg.Connection,
    rows: Sequence[tuple[int, int, int, str, bytes]],
    *,
    now: datetime | None,
    window_seconds: float,
) -> int:
    """rows: (account_id, endpoint_id, event_id, event_type, payload). Due at once."""
    if not rows:
        return 0
    columns = list(zip(*rows, strict=True))
    inserted = await conn.fetch(
        """
        INSERT INTO webhook_deliveries
            (account_id, endpoint_id, event_id, event_type, payload,
             next_attempt_at, give_up_at, created_at)
        SELECT a, e, ev, t, p, coalesce($6, now()),
               coalesce($6, now()) + make_interval(secs => $7), coalesce($6, now())
        FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[], $5::bytea[])
             AS u(a, e, ev, t, p)
        ON CONFLICT (endpoint_id, event_id) DO NOTHING
        RETURNING id
        """,
        list(columns[0]),
        list(columns[1]),
        list(columns[2]),
        list(columns[3]),
        list(columns[4]),
        now,
        float(window_seconds),
    )
    return len(inserted)


async def mark_fanned_out(conn: asyncpg.Connection, event_ids: Sequence[int]) -> None:
    await conn.execute(
        "UPDATE events SET fanned_out_at = now() WHERE id = ANY($1::bigint[])", list(event_ids)
    )


# --- delivery --------------------------------------------------------------------------------


async def claim_due(
    conn: asyncpg.Connection, *, limit: int, lease_seconds: float, now: datetime | None
) -> list[Row]:
    return await outbox.claim_due(
        conn,
        TABLE,
        limit=limit,
        lease_seconds=lease_seconds,
        now=now,
        ready=("PENDING",),
        claimed="SENDING",
    )


async def mark_delivered(
    conn: Conn, delivery_id: int, *, status_code: int, now: datetime | None
) -> bool:
    """The receiver answered 2xx: DELIVERED, whichever attempt is in flight."""
    status = await conn.execute(
        """
        UPDATE webhook_deliveries
        SET status = 'DELIVERED', last_status_code = $2, last_error = NULL,
            delivered_at = coalesce($3, now()), updated_at = now()
        WHERE id = $1 AND status IN ('PENDING', 'SENDING')
        """,
        delivery_id,
        status_code,
        now,
    )
    return status == "UPDATE 1"


async def schedule_retry(
    conn: Conn,
    delivery_id: int,
    *,
    attempt: int,
    delay_seconds: float,
    now: datetime | None,
    status_code: int | None,
    error: str,
) -> bool:
    """Back to PENDING, due after `delay_seconds` but never after `give_up_at` (the window's
    last attempt happens at its end)."""
    status = await conn.execute(
        """
        UPDATE webhook_deliveries
        SET status = 'PENDING',
            next_attempt_at = least(coalesce($3, now()) + make_interval(secs => $4), give_up_at),
            last_status_code = $5, last_error = $6, updated_at = now()
        WHERE id = $1 AND status = 'SENDING' AND attempts = $2
        """,
        delivery_id,
        attempt,
        now,
        float(delay_seconds),
        status_code,
        error,
    )
    return status == "UPDATE 1"


async def fail_attempt(
    conn: Conn, delivery_id: int, *, attempt: int, status_code: int | None, error: str
) -> bool:
    status = await conn.execute(
        """
        UPDATE webhook_deliveries
        SET status = 'FAILED', last_status_code = $3, last_error = $4, updated_at = now()
        WHERE id = $1 AND status = 'SENDING' AND attempts = $2
        """,
        delivery_id,
        attempt,
        status_code,
        error,
    )
    return status == "UPDATE 1"


# --- delivery log and manual retry ------------------------------------------------------------

_LOG_COLUMNS = """id, endpoint_id, event_id, event_type, status, attempts, last_status_code,
    last_error, created_at, delivered_at, next_attempt_at"""


async def list_deliveries(
    conn: Conn, account_id: int, endpoint_id: int, *, after_id: int, limit: int
) -> tuple[list[Row], str | None]:
    rows = await conn.fetch(
        f"""
        SELECT {_LOG_COLUMNS} FROM webhook_deliveries
        WHERE account_id = $1 AND endpoint_id = $2 AND id > $3
        ORDER BY id LIMIT $4
        """,  # noqa: S608 - fixed column list
        account_id,
        endpoint_id,
        after_id,
        limit + 1,
    )
    return page(rows, limit)


async def requeue(
    conn: Conn,
    account_id: int,
    endpoint_id: int,
    delivery_id: int,
    *,
    window_seconds: float,
    now: datetime | None = None,
) -> Row:
    """A manual retry: due now, with a fresh retry window. A delivery being sent right now
    (SENDING with a live lease) is left to that attempt."""
    row = await conn.fetchrow(
        f"""
        UPDATE webhook_deliveries
        SET status = 'PENDING',
            next_attempt_at = coalesce($4, now()),
            give_up_at = greatest(give_up_at, coalesce($4, now()) + make_interval(secs => $5)),
            delivered_at = NULL,
            updated_at = now()
        WHERE account_id = $1 AND endpoint_id = $2 AND id = $3
          AND NOT (status = 'SENDING' AND next_attempt_at > coalesce($4, now()))
        RETURNING {_LOG_COLUMNS}
        """,  # noqa: S608 - fixed column list
        account_id,
        endpoint_id,
        delivery_id,
        now,
        float(window_seconds),
    )
    if row is not None:
        return row
    row = await conn.fetchrow(
        f"SELECT {_LOG_COLUMNS} FROM webhook_deliveries "  # noqa: S608 - fixed column list
        "WHERE account_id = $1 AND endpoint_id = $2 AND id = $3",
        account_id,
        endpoint_id,
        delivery_id,
    )
    if row is None:
        raise not_found("webhook delivery")
    return row


def public_status(status: str) -> str:
    return "PENDING" if status == "SENDING" else status


def log_values(row: Row) -> dict[str, Any]:
    settled = row["status"] in ("DELIVERED", "FAILED")
    return {
        "id": row["id"],
        "event_id": row["event_id"],
        "event_type": row["event_type"],
        "status": public_status(row["status"]),
        "attempts": row["attempts"],
        "last_status_code": row["last_status_code"],
        "last_error": row["last_error"],
        "created_at": row["created_at"],
        "delivered_at": row["delivered_at"],
        "next_attempt_at": None if settled else row["next_attempt_at"],
    }
