"""Every SQL statement of waitlist entries, openings and offers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from app.core.crud import Row
from app.core.errors import not_found
from app.core.pagination import page

Conn = asyncpg.Connection | asyncpg.Pool
LIVE = "('CANCELLED', 'RESCHEDULED', 'VOIDED')"


# ------------------------------------------------------------------ entries


async def insert_entry(
    conn: Conn,
    *,
    account_id: int,
    setting_id: int,
    patient_id: int,
    kind: str,
    appointment_id: int | None,
    appointment_type_id: int,
    location_id: int,
    practitioner_ids: Sequence[int],
    window_start: datetime,
    window_end: datetime,
    locale: str,
    source: str,
    origin_hash: str | None,
    now: datetime,
) -> int:
    return await conn.fetchval(
        """
        INSERT INTO waitlist_entries (account_id, setting_id, patient_id, kind, appointment_id,
            appointment_type_id, location_id, practitioner_ids, window_start, window_end,
            locale, source, origin_hash, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING id
        """,
        account_id,
        setting_id,
        patient_id,
        kind,
        appointment_id,
        appointment_type_id,
        location_id,
        list(practitioner_ids),
        window_start,
        window_end,
        locale,
        source,
        origin_hash,
        now,
    )


async def active_earlier(conn: Conn, appointment_id: int) -> Row | None:
    return await conn.fetchrow(
        "SELECT * FROM waitlist_entries WHERE appointment_id = $1 AND status = 'ACTIVE'",
        appointment_id,
    )


async def set_window_start(conn: Conn, entry_id: int, window_start: datetime) -> None:
    await conn.execute(
        "UPDATE waitlist_entries SET window_start = $2 WHERE id = $1", entry_id, window_start
    )


async def get_entry(conn: Conn, account_id: int, entry_id: int, *, for_update: bool = False) -> Row:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT * FROM waitlist_entries WHERE account_id = $1 AND id = $2{lock}",  # noqa: S608
        account_id,
        entry_id,
    )
    if row is None:
        raise not_found("waitlist entry")
    return row


async def list_entries(
    conn: Conn,
    account_id: int,
    *,
    after_id: int,
    limit: int,
    status: str | None,
    patient_id: int | None,
) -> tuple[list[Row], str | None]:
    rows = await conn.fetch(
        """
        SELECT * FROM waitlist_entries
         WHERE account_id = $1 AND id > $2
           AND ($3::text IS NULL OR status = $3) AND ($4::bigint IS NULL OR patient_id = $4)
         ORDER BY id LIMIT $5
        """,
        account_id,
        after_id,
        status,
        patient_id,
        limit + 1,
    )
    return page(rows, limit)


async def end_entry(conn: Conn, entry_id: int, status: str, reason: str, now: datetime) -> None:
    await conn.execute(
        "UPDATE waitlist_entries SET status = $2, end_reason = $3, ended_at = $4"
        " WHERE id = $1 AND status = 'ACTIVE'",
        entry_id,
        status,
        reason,
        now,
    )


async def active_count_for_patient(conn: Conn, patient_id: int) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM waitlist_entries WHERE patient_id = $1 AND status = 'ACTIVE'",
        patient_id,
    )


async def joins_from_origin(conn: Conn, origin_hash: str, since: datetime) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM waitlist_entries WHERE origin_hash = $1 AND created_at > $2",
        origin_hash,
        since,
    )


async def end_passed_windows(conn: Conn, now: datetime) -> int:
    status = await conn.execute(
        "UPDATE waitlist_entries SET status = 'ENDED', end_reason = 'WINDOW_PASSED',"
        " ended_at = $1 WHERE status = 'ACTIVE' AND window_end <= $1",
        now,
    )
    return int(status.split()[-1])


# ------------------------------------------------------------------ openings


async def next_opening(conn: asyncpg.Connection) -> Row | None:
    """The oldest unprocessed opening, locked for this transaction (others skip it)."""
    return await conn.fetchrow(
        "SELECT * FROM waitlist_openings WHERE processed_at IS NULL"
        " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED"
    )


async def lock_account_matching(conn: asyncpg.Connection, account_id: int) -> None:
    """One matcher per account at a time: two openings must not both fill one slot."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock("
        "hashtextextended('slotproof:waitlist:' || $1::bigint::text, 0))",
        account_id,
    )


async def mark_processed(conn: asyncpg.Connection, opening_id: int, now: datetime) -> None:
    await conn.execute(
        "UPDATE waitlist_openings SET processed_at = $2 WHERE id = $1", opening_id, now
    )


async def prune_openings(conn: Conn, before: datetime, batch: int = 1000) -> int:
    """Delete processed openings older than `before` that led to no offer (those with offers
    stay: analytics count refilled slots through them)."""
    status = await conn.execute(
        """
        DELETE FROM waitlist_openings WHERE id IN (
            SELECT w.id FROM waitlist_openings w
             WHERE w.processed_at < $1
               AND NOT EXISTS (SELECT 1 FROM waitlist_offers o WHERE o.opening_id = w.id)
             LIMIT $2)
        """,
        before,
        batch,
    )
    return int(status.split()[-1])


async def insert_opening(
    conn: Conn,
    *,
    account_id: int,
    practitioner_id: int,
    start: datetime,
    end: datetime,
    kind: str,
    depth: int,
    round_: int,
) -> None:
    await conn.execute(
        "INSERT INTO waitlist_openings (account_id, practitioner_id, during, kind, depth, round)"
        " VALUES ($1, $2, tstzrange($3, $4, '[)'), $5, $6, $7)",
        account_id,
        practitioner_id,
        start,
        end,
        kind,
        depth,
        round_,
    )


async def note_freed_holds(conn: Conn, holds: Sequence[Row]) -> None:
    """Expired holds were swept: their time is an opening (`holds` rows: account_id,
    practitioner_id, blocked_from, blocked_until)."""
    if not holds:
        return
    await conn.execute(
        """
        INSERT INTO waitlist_openings (account_id, practitioner_id, during, kind)
        SELECT a, p, tstzrange(f, u, '[)'), 'FREED'
          FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::timestamptz[])
               AS h(a, p, f, u)
        """,
        [h["account_id"] for h in holds],
        [h["practitioner_id"] for h in holds],
        [h["blocked_from"] for h in holds],
        [h["blocked_until"] for h in holds],
    )
    await conn.execute("SELECT pg_notify('slotproof_waitlist', '')")


async def candidates(
    conn: Conn,
    account_id: int,
    practitioner_id: int,
    window: tuple[datetime, datetime],
    now: datetime,
) -> list[Row]:
    """Active entries that could take some of this practitioner's time in `window`, oldest
    first, with `window_end` cut at an earlier-request's current start."""
    return await conn.fetch(
        f"""
        SELECT e.id, e.patient_id, e.setting_id, e.location_id, e.appointment_type_id,
               e.practitioner_ids, e.locale, greatest(e.window_start, $4) AS window_start,
               CASE WHEN e.kind = 'EARLIER' THEN least(e.window_end, a.start_at)
                    ELSE e.window_end END AS window_end
          FROM waitlist_entries e
          LEFT JOIN appointments a ON a.id = e.appointment_id
         WHERE e.account_id = $1 AND e.status = 'ACTIVE'
           AND (cardinality(e.practitioner_ids) = 0 OR $2 = ANY(e.practitioner_ids))
           AND e.window_end > greatest($3, $4) AND e.window_start < $5
           AND (e.kind = 'WINDOW' OR (a.status NOT IN {LIVE} AND a.start_at > $4))
         ORDER BY e.created_at, e.id
        """,  # noqa: S608 - LIVE is a constant
        account_id,
        practitioner_id,
        window[0],
        now,
        window[1],
    )


async def offer_state(
    conn: Conn, account_id: int, practitioner_id: int, window: tuple[datetime, datetime],
    now: datetime,
) -> tuple[list[Row], list[Row], dict[int, int]]:  # fmt: skip
    """(open offers of the account: entry_id, practitioner_id, start_at; offers of the last 24
    hours of this practitioner starting in `window`: entry_id, start_at; offers per patient in
    the last 24 hours)."""
    open_rows = await conn.fetch(
        "SELECT entry_id, practitioner_id, start_at FROM waitlist_offers"
        " WHERE account_id = $1 AND status = 'OPEN' AND expires_at > $2",
        account_id,
        now,
    )
    offered = await conn.fetch(
        "SELECT entry_id, start_at FROM waitlist_offers"
        " WHERE practitioner_id = $1 AND start_at >= $2 AND start_at < $3 AND created_at > $4",
        practitioner_id,
        *window,
        now - timedelta(days=1),
    )
    today = await conn.fetch(
        "SELECT patient_id, count(*) AS n FROM waitlist_offers"
        " WHERE account_id = $1 AND created_at > $2 GROUP BY patient_id",
        account_id,
        now - timedelta(days=1),
    )
    return open_rows, offered, {r["patient_id"]: r["n"] for r in today}


# ------------------------------------------------------------------ offers


async def insert_offer(
    conn: Conn,
    *,
    account_id: int,
    entry_id: int,
    opening_id: int,
    patient_id: int,
    setting_id: int,
    token_hash: str,
    practitioner_id: int,
    scheduler_config_id: int,
    location_id: int,
    appointment_type_id: int,
    start: datetime,
    end: datetime,
    channel: str,
    notification_id: int,
    expires_at: datetime,
    now: datetime,
) -> int:
    return await conn.fetchval(
        """
        INSERT INTO waitlist_offers (account_id, entry_id, opening_id, patient_id, setting_id,
            token_hash, practitioner_id, scheduler_config_id, location_id, appointment_type_id,
            start_at, end_at, channel, notification_id, expires_at, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
        RETURNING id
        """,
        account_id,
        entry_id,
        opening_id,
        patient_id,
        setting_id,
        token_hash,
        practitioner_id,
        scheduler_config_id,
        location_id,
        appointment_type_id,
        start,
        end,
        channel,
        notification_id,
        expires_at,
        now,
    )


_OFFER = """
SELECT o.*, e.kind, e.appointment_id AS current_appointment_id, e.status AS entry_status,
       w.depth, w.round, w.kind AS opening_kind
  FROM waitlist_offers o
  JOIN waitlist_entries e ON e.id = o.entry_id
  JOIN waitlist_openings w ON w.id = o.opening_id
"""


async def offer_by_token_hash(conn: Conn, token_hash: str) -> Row | None:
    return await conn.fetchrow(f"{_OFFER} WHERE o.token_hash = $1", token_hash)


async def lock_offer(conn: asyncpg.Connection, offer_id: int) -> Row:
    await conn.execute("SELECT 1 FROM waitlist_offers WHERE id = $1 FOR UPDATE", offer_id)
    return await conn.fetchrow(f"{_OFFER} WHERE o.id = $1", offer_id)


async def mark_claimed(
    conn: asyncpg.Connection,
    offer_id: int,
    appointment_id: int,
    minutes_gained: int | None,
    now: datetime,
) -> None:
    await conn.execute(
        "UPDATE waitlist_offers SET status = 'CLAIMED', claimed_at = $3, appointment_id = $2,"
        " minutes_gained = $4 WHERE id = $1",
        offer_id,
        appointment_id,
        now,
        minutes_gained,
    )


async def mark_taken(conn: Conn, offer_ids: Sequence[int]) -> None:
    await conn.execute(
        "UPDATE waitlist_offers SET status = 'TAKEN' WHERE id = ANY($1::bigint[])"
        " AND status = 'OPEN'",
        list(offer_ids),
    )


async def take_others(
    conn: asyncpg.Connection, offer_id: int, practitioner_id: int, start: datetime
) -> None:
    """The slot is booked: the other open offers of it are taken. Rows another transaction
    has locked are skipped (a claim in flight finds the slot gone itself): never a wait."""
    await conn.execute(
        """
        UPDATE waitlist_offers SET status = 'TAKEN'
         WHERE id IN (SELECT id FROM waitlist_offers
                       WHERE practitioner_id = $1 AND start_at = $2 AND status = 'OPEN'
                         AND id <> $3
                         FOR UPDATE SKIP LOCKED)
        """,
        practitioner_id,
        start,
        offer_id,
    )


async def expire_offers(conn: Conn, now: datetime) -> list[Row]:
    """Open offers past their time become EXPIRED; returns one row per opened slot of which no
    offer is still open or claimed (account_id, practitioner_id, start_at, end_at, depth,
    round, kind), for a re-offer round."""
    return await conn.fetch(
        """
        WITH expired AS (
            UPDATE waitlist_offers SET status = 'EXPIRED'
             WHERE id IN (SELECT id FROM waitlist_offers
                           WHERE status = 'OPEN' AND expires_at <= $1
                             FOR UPDATE SKIP LOCKED)
         RETURNING account_id, opening_id, practitioner_id, start_at, end_at)
        SELECT DISTINCT x.account_id, x.practitioner_id, x.start_at, x.end_at,
               w.depth, w.round, w.kind
          FROM expired x JOIN waitlist_openings w ON w.id = x.opening_id
         WHERE NOT EXISTS (
               SELECT 1 FROM waitlist_offers o
                WHERE o.practitioner_id = x.practitioner_id AND o.start_at = x.start_at
                  AND (o.status = 'CLAIMED' OR (o.status = 'OPEN' AND o.expires_at > $1)))
        """,
        now,
    )
