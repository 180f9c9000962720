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
    """The appointment of a manage link: the one made at booking, or one sent later."""
    lock = " FOR UPDATE OF a" if for_update else ""
    return await conn.fetchrow(
        f"{_SELECT} WHERE a.manage_token_hash = $1"  # noqa: S608
        " OR a.id = (SELECT appointment_id FROM manage_links WHERE token_hash = $1)"
        f"{lock}",
        token_hash,
    )


async def add_manage_link(conn: Conn, appointment_id: int, token_hash: str) -> None:
    await add_manage_links(conn, [(appointment_id, token_hash)])


async def add_manage_links(conn: Conn, links: list[tuple[int, str]]) -> None:
    """(appointment id, token hash) pairs, in one statement."""
    await conn.execute(
        "INSERT INTO manage_links (appointment_id, token_hash)"
        " SELECT * FROM unnest($1::bigint[], $2::text[])",
        [appointment_id for appointment_id, _ in links],
        [token_hash for _, token_hash in links],
    )


async def message_facts(conn: Conn, appointment_id: int) -> Row:
    """What a message about the appointment says (see `messages_facts`)."""
    row = (await messages_facts(conn, [appointment_id])).get(appointment_id)
    if row is None:
        raise not_found("appointment")
    return row


async def messages_facts(conn: Conn, appointment_ids: list[int]) -> dict[int, Row]:
    """What a message about each appointment says: practice, type, practitioner, location
    (zone, address, phone) and the patient's language (their latest widget booking's, else
    the booking attempt's, else English)."""
    rows = await conn.fetch(
        """
        SELECT a.id, a.account_id, a.start_at, a.end_at, a.status, a.telehealth,
               acc.name AS practice, t.name AS service, p.display_name AS practitioner,
               l.name AS location_name, l.time_zone, l.phone, l.address_line1,
               l.address_line2, l.city, l.state, l.postal_code,
               coalesce(pt.locale, att.locale, 'en') AS locale
          FROM appointments a
          JOIN accounts acc ON acc.id = a.account_id
          JOIN appointment_types t ON t.id = a.appointment_type_id
          JOIN practitioners p ON p.id = a.practitioner_id
          JOIN locations l ON l.id = a.location_id
          JOIN patients pt ON pt.id = a.patient_id
          LEFT JOIN self_scheduling_attempts att ON att.id = a.attempt_id
         WHERE a.id = ANY($1::bigint[])
        """,
        appointment_ids,
    )
    return {row["id"]: row for row in rows}


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
    source: str,
    rescheduled_from_id: int | None = None,
    note: str | None = None,
) -> int:
    """Raises asyncpg.ExclusionViolationError when the time is taken (run in a savepoint)."""
    end = start + timedelta(minutes=minutes)
    return await conn.fetchval(
        """
        INSERT INTO appointments (account_id, location_id, practitioner_id, patient_id,
            appointment_type_id, scheduler_config_id, start_at, end_at, blocked_from,
            blocked_until, telehealth, form_count, generated_from_type, attempt_id,
            manage_token_hash, rescheduled_from_id, source, note)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
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
        source,
        note,
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
    at: datetime | None = None,
    reason: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO appointment_changes (appointment_id, account_id, change, from_status,"
        " to_status, actor, at, reason) VALUES ($1, $2, $3, $4, $5, $6, coalesce($7, now()), $8)",
        appointment["id"],
        appointment["account_id"],
        change,
        appointment["status"],
        to_status,
        actor,
        at,
        reason,
    )


async def move(
    conn: asyncpg.Connection,
    appointment_id: int,
    *,
    practitioner_id: int,
    scheduler_config_id: int,
    start: datetime,
    minutes: int,
    buffer_before: int,
    buffer_after: int,
    generated_from: str | None,
) -> None:
    """Reschedule in place (the id stays). Raises asyncpg.ExclusionViolationError when the new
    time is taken (run in a savepoint)."""
    end = start + timedelta(minutes=minutes)
    await conn.execute(
        """
        UPDATE appointments
           SET practitioner_id = $2, scheduler_config_id = $3, start_at = $4, end_at = $5,
               blocked_from = $6, blocked_until = $7, generated_from_type = $8,
               updated_at = now()
         WHERE id = $1
        """,
        appointment_id,
        practitioner_id,
        scheduler_config_id,
        start,
        end,
        start - timedelta(minutes=buffer_before),
        end + timedelta(minutes=buffer_after),
        generated_from,
    )


async def config_owner(conn: Conn, account_id: int, config_id: int) -> Row | None:
    """(setting_id, practitioner_id) of one of the account's scheduler configs."""
    return await conn.fetchrow(
        "SELECT setting_id, practitioner_id FROM scheduler_configs"
        " WHERE account_id = $1 AND id = $2",
        account_id,
        config_id,
    )


async def find_config(
    conn: Conn,
    account_id: int,
    *,
    practitioner_id: int,
    location_id: int,
    appointment_type_id: int,
    prefer_setting_id: int | None,
) -> int | None:
    """A scheduler config of this practitioner at this location offering this type, within a
    setting that offers all three: the preferred setting's first, then active settings'."""
    return await conn.fetchval(
        """
        SELECT c.id
          FROM scheduler_configs c
          JOIN self_scheduling_settings s ON s.id = c.setting_id AND s.account_id = c.account_id
         WHERE c.account_id = $1 AND c.practitioner_id = $2 AND c.location_id = $3
           AND $4 = ANY(c.appointment_type_ids) AND $2 = ANY(s.practitioner_ids)
           AND $3 = ANY(s.location_ids) AND $4 = ANY(s.appointment_type_ids)
         ORDER BY c.setting_id IS NOT DISTINCT FROM $5 DESC, s.active DESC, c.id
         LIMIT 1
        """,
        account_id,
        practitioner_id,
        location_id,
        appointment_type_id,
        prefer_setting_id,
    )


async def held_by_others(conn: Conn, appointment: Row, now: datetime) -> bool:
    """Does an unexpired hold overlap this appointment's (buffered) time?"""
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM holds WHERE practitioner_id = $1 AND expires_at > $2"
        " AND blocked_from < $4 AND blocked_until > $3)",
        appointment["practitioner_id"],
        now,
        appointment["blocked_from"],
        appointment["blocked_until"],
    )


# sortBy -> column; sortDir -> (keyset comparison, direction): fixed identifiers, never input
_SORT_COLUMNS = {"START_TIME": "start_at", "CREATED_DATE": "created_at"}
_DIRECTIONS = {"ASC": (">", "ASC"), "DESC": ("<", "DESC")}


async def list_for_location(
    conn: Conn,
    account_id: int,
    location_id: int,
    *,
    sort_by: str,
    sort_dir: str,
    after: tuple[datetime, int] | None,
    limit: int,
    start_from: datetime | None,
    start_to: datetime | None,
    status: str | None,
    practitioner_id: int | None,
    patient_id: int | None,
    appointment_type_id: int | None,
) -> list[Row]:
    """One page ordered by (sort column, id) in `sort_dir`, after the keyset `after`."""
    column, (compare, direction) = _SORT_COLUMNS[sort_by], _DIRECTIONS[sort_dir]
    after_value, after_id = after if after is not None else (None, 0)
    return await conn.fetch(
        f"""{_SELECT}
         WHERE a.account_id = $1 AND a.location_id = $2
           AND ($3::timestamptz IS NULL OR (a.{column}, a.id) {compare} ($3, $4::bigint))
           AND ($5::timestamptz IS NULL OR a.start_at >= $5)
           AND ($6::timestamptz IS NULL OR a.start_at < $6)
           AND ($7::text IS NULL OR a.status = $7)
           AND ($8::bigint IS NULL OR a.practitioner_id = $8)
           AND ($9::bigint IS NULL OR a.patient_id = $9)
           AND ($10::bigint IS NULL OR a.appointment_type_id = $10)
         ORDER BY a.{column} {direction}, a.id {direction} LIMIT $11""",
        account_id,
        location_id,
        after_value,
        after_id,
        start_from,
        start_to,
        status,
        practitioner_id,
        patient_id,
        appointment_type_id,
        limit + 1,
    )


async def status_changes(conn: Conn, appointment_ids: list[int]) -> dict[int, list[Row]]:
    """Each appointment's status changes (cancellations included), oldest first."""
    rows = await conn.fetch(
        "SELECT appointment_id, to_status, actor, at, reason FROM appointment_changes"
        " WHERE appointment_id = ANY($1::bigint[]) AND change IN ('status', 'cancelled')"
        " ORDER BY id",
        appointment_ids,
    )
    changes: dict[int, list[Row]] = {id_: [] for id_ in appointment_ids}
    for row in rows:
        changes[row["appointment_id"]].append(row)
    return changes


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
    client_hash: str | None = None,
    widget_setting_id: int | None = None,
) -> int:
    """The attempt's one hold, replacing any previous one."""
    end = start + timedelta(minutes=minutes)
    await conn.execute("DELETE FROM holds WHERE attempt_id = $1", attempt_id)
    return await conn.fetchval(
        """
        INSERT INTO holds (account_id, attempt_id, practitioner_id, location_id,
            scheduler_config_id, appointment_type_id, start_at, end_at, blocked_from,
            blocked_until, expires_at, client_hash, widget_setting_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id
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
        client_hash,
        widget_setting_id,
    )


async def lock_hold_caps(conn: asyncpg.Connection, client_hash: str, setting_id: int) -> None:
    """Serialise widget holds of one client address, then of one setting (fixed order)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('slotproof:holds-client:' || $1, 0)),"
        " pg_advisory_xact_lock("
        "hashtextextended('slotproof:holds-setting:' || $2::bigint::text, 0))",
        client_hash,
        setting_id,
    )


async def live_hold_expiries(
    conn: asyncpg.Connection,
    now: datetime,
    *,
    except_attempt_id: int,
    client_hash: str | None = None,
    widget_setting_id: int | None = None,
) -> list[datetime]:
    """Sorted expiry times of the unexpired widget holds of one client address or of one
    setting, other than the attempt's own (which a new hold replaces)."""
    rows = await conn.fetch(
        "SELECT expires_at FROM holds WHERE expires_at > $1 AND attempt_id <> $2"
        " AND (client_hash = $3 OR widget_setting_id = $4) ORDER BY expires_at",
        now,
        except_attempt_id,
        client_hash,
        widget_setting_id,
    )
    return [r["expires_at"] for r in rows]


async def release_hold(conn: asyncpg.Connection, attempt_id: int) -> None:
    await conn.execute("DELETE FROM holds WHERE attempt_id = $1", attempt_id)


async def sweep_expired_holds(conn: Conn, now: datetime) -> list[Row]:
    """Delete expired holds; returns them (account_id, practitioner_id, blocked_from,
    blocked_until)."""
    return await conn.fetch(
        "DELETE FROM holds WHERE expires_at <= $1"
        " RETURNING account_id, practitioner_id, blocked_from, blocked_until",
        now,
    )


async def current_hold(conn: Conn, attempt_id: int, now: datetime) -> Row | None:
    """The attempt's unexpired hold, if any."""
    return await conn.fetchrow(
        "SELECT h.*, l.time_zone FROM holds h JOIN locations l ON l.id = h.location_id"
        " WHERE h.attempt_id = $1 AND h.expires_at > $2",
        attempt_id,
        now,
    )


async def upcoming_for_patient(
    conn: Conn,
    account_id: int,
    patient_id: int,
    now: datetime,
    *,
    appointment_type_id: int | None,
    limit: int = 3,
) -> list[Row]:
    """The patient's live appointments still to come (of one type, when given), soonest first,
    with the names a patient recognises them by."""
    return await conn.fetch(
        """
        SELECT a.id, a.start_at, a.end_at, a.appointment_type_id, a.location_id, a.telehealth,
               t.name AS type_name, p.display_name AS practitioner_name,
               l.name AS location_name, l.time_zone
          FROM appointments a
          JOIN appointment_types t ON t.id = a.appointment_type_id
          JOIN practitioners p ON p.id = a.practitioner_id
          JOIN locations l ON l.id = a.location_id
         WHERE a.account_id = $1 AND a.patient_id = $2 AND a.start_at > $3
           AND a.status IN ('SCHEDULED', 'CONFIRMED')
           AND ($4::bigint IS NULL OR a.appointment_type_id = $4)
         ORDER BY a.start_at LIMIT $5
        """,
        account_id,
        patient_id,
        now,
        appointment_type_id,
        limit,
    )
