"""Every SQL statement of appointments and holds."""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from app.core.crud import Row
from app.core.errors import not_found

Conn = asyncpg.Connection | asyncpg.Pool

_SELECT = """
SELECT a.*, l.time_zone
  FROM appointments a JOIN locations l ON l.id = a.location_id
"""


async def lock_practitioner(conn: asyncpg.Connection, practitioner_id: int) -> None:
    """Serialise hold and booking decisions about one practitioner's time (any location)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock("
        "hashtextextended('slotproof:practitioner:' || $1::bigint::text, 0))",
        practitioner_id,
    )


async def get(conn: Conn, account_id: int, appointment_id: int, *, for_update: bool = False) -> Row:
    lock = " FOR UPDATE OF a" if for_update else ""
    row = await conn.fetchrow(
        f"{_SELECT} WHERE a.account_id = $1 AND a.id = $2{lock}", account_id, appointment_id
    )
    if row is None:
        raise not_found("appointment")
    return row


async def by_manage_hash(conn: Conn, token_hash: str, *, for_update: bool = False) -> Row | None:
    lock = " FOR UPDATE OF a" if for_update else ""
    return await conn.fetchrow(f"{_SELECT} WHERE a.manage_token_hash = $1{lock}", token_hash)


async def insert(
    conn: asyncpg.Connection,
    *,
    account_id: int,
    location_id: int,
    practitioner_id: int,
    patient_id: int,
    appointment_type_id: int,
    scheduler_config_id: int | None,
    start: datetime,
    minutes: int,
    buffer_before: int,
    buffer_after: int,
    telehealth: bool,
    form_count: int,
    generated_from: str | None,
    attempt_id: int | None,
    manage_token_hash: str | None,
    rescheduled_from_id: int | None = None,
) -> int:
    """Raises asyncpg.ExclusionViolationError when the time is taken (run in a savepoint)."""
    end = start + timedelta(minutes=minutes)
    return await conn.fetchval(
        """
        INSERT INTO appointments (account_id, location_id, practitioner_id, patient_id,
            appointment_type_id, scheduler_config_id, start_at, end_at, blocked_from,
            blocked_until, telehealth, form_count, generated_from_type, attempt_id,
            manage_token_hash, rescheduled_from_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
        RETURNING id
        """,
        account_id,
        location_id,
        practitioner_id,
        patient_id,
        appointment_type_id,
        scheduler_config_id,
        start,
        end,
        start - timedelta(minutes=buffer_before),
        end + timedelta(minutes=buffer_after),
        telehealth,
        form_count,
        generated_from,
        attempt_id,
        manage_token_hash,
        rescheduled_from_id,
    )


async def set_status(
    conn: asyncpg.Connection,
    appointment_id: int,
    status: str,
    *,
    clear_manage_token: bool = False,
    cancel_reason: str | None = None,
) -> None:
    await conn.execute(
        "UPDATE appointments SET status = $2, updated_at = now(),"
        " manage_token_hash = CASE WHEN $3 THEN NULL ELSE manage_token_hash END,"
        " cancel_reason = coalesce($4, cancel_reason) WHERE id = $1",
        appointment_id,
        status,
        clear_manage_token,
        cancel_reason,
    )


async def set_note(conn: asyncpg.Connection, appointment_id: int, note: str | None) -> None:
    await conn.execute(
        "UPDATE appointments SET note = $2, updated_at = now() WHERE id = $1", appointment_id, note
    )


async def record_change(
    conn: asyncpg.Connection,
    appointment: Row,
    change: str,
    to_status: str | None,
    actor: str,
) -> None:
    await conn.execute(
        "INSERT INTO appointment_changes (appointment_id, account_id, change, from_status,"
        " to_status, actor) VALUES ($1, $2, $3, $4, $5, $6)",
        appointment["id"],
        appointment["account_id"],
        change,
        appointment["status"],
        to_status,
        actor,
    )


async def list_for_location(
    conn: Conn,
    account_id: int,
    location_id: int,
    *,
    after_id: int,
    limit: int,
    start_from: datetime | None,
    start_to: datetime | None,
    status: str | None,
    practitioner_id: int | None,
    patient_id: int | None,
) -> list[Row]:
    return await conn.fetch(
        f"""{_SELECT}
         WHERE a.account_id = $1 AND a.location_id = $2 AND a.id > $3
           AND ($4::timestamptz IS NULL OR a.start_at >= $4)
           AND ($5::timestamptz IS NULL OR a.start_at < $5)
           AND ($6::text IS NULL OR a.status = $6)
           AND ($7::bigint IS NULL OR a.practitioner_id = $7)
           AND ($8::bigint IS NULL OR a.patient_id = $8)
         ORDER BY a.id LIMIT $9""",
        account_id,
        location_id,
        after_id,
        start_from,
        start_to,
        status,
        practitioner_id,
        patient_id,
        limit + 1,
    )


# --- holds


async def replace_hold(
    conn: asyncpg.Connection,
    *,
    account_id: int,
    attempt_id: int,
    practitioner_id: int,
    location_id: int,
    scheduler_config_id: int,
    appointment_type_id: int,
    start: datetime,
    minutes: int,
    buffer_before: int,
    buffer_after: int,
    expires_at: datetime,
) -> int:
    """The attempt's one hold, replacing any previous one."""
    end = start + timedelta(minutes=minutes)
    await conn.execute("DELETE FROM holds WHERE attempt_id = $1", attempt_id)
    return await conn.fetchval(
        """
        INSERT INTO holds (account_id, attempt_id, practitioner_id, location_id,
            scheduler_config_id, appointment_type_id, start_at, end_at, blocked_from,
            blocked_until, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id
        """,
        account_id,
        attempt_id,
        practitioner_id,
        location_id,
        scheduler_config_id,
        appointment_type_id,
        start,
        end,
        start - timedelta(minutes=buffer_before),
        end + timedelta(minutes=buffer_after),
        expires_at,
    )


async def release_hold(conn: asyncpg.Connection, attempt_id: int) -> None:
    await conn.execute("DELETE FROM holds WHERE attempt_id = $1", attempt_id)


async def sweep_expired_holds(conn: Conn, now: datetime) -> int:
    status = await conn.execute("DELETE FROM holds WHERE expires_at <= $1", now)
    return int(status.split()[-1])
