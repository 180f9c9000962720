"""Every SQL statement of appointment reminders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg
import msgspec

from app import events
from app.core.crud import Row
from app.reminders.schedule import Planned

Conn = asyncpg.Connection | asyncpg.Pool


async def arming_facts(conn: Conn, appointment_id: int) -> Row | None:
    """What arming needs: status, start, zone, the patient's contacts and the reminders of
    the setting the appointment's scheduler config belongs to (NULL: no config)."""
    return await conn.fetchrow(
        """
        SELECT a.id, a.account_id, a.status, a.start_at, l.time_zone,
               p.email, p.mobile_phone, s.reminders
          FROM appointments a
          JOIN locations l ON l.id = a.location_id
          JOIN patients p ON p.id = a.patient_id
          LEFT JOIN scheduler_configs c ON c.id = a.scheduler_config_id
          LEFT JOIN self_scheduling_settings s ON s.id = c.setting_id
         WHERE a.id = $1
        """,
        appointment_id,
    )


async def disarm(
    conn: asyncpg.Connection, appointment_id: int, reason: str, *, keep_start: datetime | None
) -> None:
    """Armed reminders of the appointment become CANCELLED, except those for `keep_start`."""
    await conn.execute(
        """
        UPDATE appointment_reminders SET status = 'CANCELLED', reason = $2, updated_at = now()
         WHERE appointment_id = $1 AND status = 'SCHEDULED'
           AND ($3::timestamptz IS NULL OR start_at <> $3)
        """,
        appointment_id,
        reason,
        keep_start,
    )


async def arm(
    conn: asyncpg.Connection,
    account_id: int,
    appointment_id: int,
    start: datetime,
    planned: Sequence[Planned],
) -> None:
    """One row per planned reminder for this start. A reminder already handed to the outbox
    for this start is never armed again (the `appointment_reminders_once` key); a cancelled
    one is planned afresh, a skipped one only when it can now be sent (a phone added since),
    so a skip keeps its reason."""
    if not planned:
        return
    await conn.execute(
        """
        INSERT INTO appointment_reminders
            (account_id, appointment_id, start_at, offset_minutes, channel, due_at, status, reason)
        SELECT $1, $2, $3, u.offset_minutes, u.channel, u.due_at, u.status, u.reason
          FROM unnest($4::int[], $5::text[], $6::timestamptz[], $7::text[], $8::text[])
               AS u(offset_minutes, channel, due_at, status, reason)
        ON CONFLICT ON CONSTRAINT appointment_reminders_once DO UPDATE
           SET status = EXCLUDED.status, reason = EXCLUDED.reason, due_at = EXCLUDED.due_at,
               updated_at = now()
         WHERE appointment_reminders.status = 'CANCELLED'
            OR (appointment_reminders.status = 'SKIPPED' AND EXCLUDED.status = 'SCHEDULED')
        """,
        account_id,
        appointment_id,
        start,
        [p.offset_minutes for p in planned],
        [p.channel for p in planned],
        [p.due_at for p in planned],
        [p.status for p in planned],
        [p.reason for p in planned],
    )


async def claim_due(conn: asyncpg.Connection, now: datetime, limit: int) -> list[Row]:
    """Lock up to `limit` armed reminders due by `now` (SKIP LOCKED: each goes to one worker)
    with what deciding and writing them needs. Call inside a transaction."""
    return await conn.fetch(
        """
        WITH due AS (
            SELECT id FROM appointment_reminders
             WHERE status = 'SCHEDULED' AND due_at <= $1
             ORDER BY due_at, id
             LIMIT $2
             FOR UPDATE SKIP LOCKED
        )
        SELECT r.id, r.account_id, r.appointment_id, r.offset_minutes, r.channel, r.start_at,
               r.due_at, a.status AS appointment_status, a.start_at AS appointment_start,
               l.time_zone,
               CASE r.channel WHEN 'SMS' THEN p.mobile_phone ELSE lower(p.email) END AS contact
          FROM due
          JOIN appointment_reminders r ON r.id = due.id
          JOIN appointments a ON a.id = r.appointment_id
          JOIN locations l ON l.id = a.location_id
          JOIN patients p ON p.id = a.patient_id
         ORDER BY r.due_at, r.id
        """,
        now,
        limit,
    )


class Outcome(msgspec.Struct, frozen=True):
    reminder_id: int
    status: str  # QUEUED | SKIPPED | SCHEDULED (postponed)
    reason: str | None = None
    due_at: datetime | None = None
    notification_id: int | None = None


async def record_outcomes(conn: asyncpg.Connection, outcomes: Sequence[Outcome]) -> None:
    if not outcomes:
        return
    await conn.execute(
        """
        UPDATE appointment_reminders r
           SET status = u.status, reason = u.reason, due_at = coalesce(u.due_at, r.due_at),
               notification_id = u.notification_id, updated_at = now()
          FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[])
               AS u(id, status, reason, due_at, notification_id)
         WHERE r.id = u.id
        """,
        [o.reminder_id for o in outcomes],
        [o.status for o in outcomes],
        [o.reason for o in outcomes],
        [o.due_at for o in outcomes],
        [o.notification_id for o in outcomes],
    )


async def mark_sent(conn: asyncpg.Connection, notification_ids: Sequence[int]) -> None:
    """Reminders whose notification the provider just accepted get their `sent_at` and one
    `reminder.sent` event each, the first time only (a resend after a lost lease adds none)."""
    if not notification_ids:
        return
    await conn.execute(
        """
        WITH sent AS (
            UPDATE appointment_reminders SET sent_at = now(), updated_at = now()
             WHERE notification_id = ANY($1::bigint[]) AND sent_at IS NULL
            RETURNING account_id, appointment_id, offset_minutes, channel
        )
        INSERT INTO events (account_id, type, data)
        SELECT account_id, $2, jsonb_build_object('appointmentId', appointment_id,
                   'offsetMinutes', offset_minutes, 'channel', channel)
          FROM sent
        """,
        list(notification_ids),
        events.REMINDER_SENT,
    )


async def for_appointments(conn: Conn, appointment_ids: Sequence[int]) -> list[Row]:
    """The reminders of each appointment's current start, with their notification's state."""
    return await conn.fetch(
        """
        SELECT r.appointment_id, r.offset_minutes, r.channel, r.status, r.reason,
               r.due_at, coalesce(r.sent_at, n.sent_at) AS sent_at,
               n.status AS notification_status
          FROM appointment_reminders r
          JOIN appointments a ON a.id = r.appointment_id AND a.start_at = r.start_at
          LEFT JOIN notifications n ON n.id = r.notification_id
         WHERE r.appointment_id = ANY($1::bigint[])
         ORDER BY r.appointment_id, r.offset_minutes, r.channel
        """,
        list(appointment_ids),
    )


async def by_id(conn: Conn, reminder_id: int) -> Row | None:
    return await conn.fetchrow(
        "SELECT r.*, n.recipient, n.locale FROM appointment_reminders r"
        " LEFT JOIN notifications n ON n.id = r.notification_id WHERE r.id = $1",
        reminder_id,
    )


async def conversations(conn: Conn, phone: str) -> list[Row]:
    """(account_id, locale) of the SMS sent to `phone`, newest first (one per account)."""
    return await conn.fetch(
        """
        SELECT * FROM (
            SELECT DISTINCT ON (account_id) account_id, locale, id
              FROM notifications WHERE channel = 'SMS' AND recipient = $1
             ORDER BY account_id, id DESC
        ) AS latest ORDER BY id DESC
        """,
        phone,
    )


async def account_name(conn: Conn, account_id: int) -> str:
    return await conn.fetchval("SELECT name FROM accounts WHERE id = $1", account_id)


async def practice_phone(conn: Conn, account_id: int | None) -> str | None:
    """A phone number of the account's practice: its first active location that has one."""
    if account_id is None:
        return None
    return await conn.fetchval(
        "SELECT phone FROM locations WHERE account_id = $1 AND phone IS NOT NULL AND active"
        " ORDER BY id LIMIT 1",
        account_id,
    )


async def upcoming_for_phone(
    conn: Conn, phone: str, account_ids: Sequence[int], now: datetime
) -> list[Row]:
    """The number's upcoming SCHEDULED or CONFIRMED appointments in those accounts, soonest
    first, with what a reply names."""
    return await conn.fetch(
        """
        SELECT a.id, a.account_id, a.status, a.start_at, l.time_zone,
               acc.name AS practice, pr.display_name AS practitioner
          FROM appointments a
          JOIN patients p ON p.id = a.patient_id
          JOIN locations l ON l.id = a.location_id
          JOIN accounts acc ON acc.id = a.account_id
          JOIN practitioners pr ON pr.id = a.practitioner_id
         WHERE p.mobile_phone = $1 AND a.account_id = ANY($2::bigint[])
           AND a.status IN ('SCHEDULED', 'CONFIRMED') AND a.start_at > $3
         ORDER BY a.start_at, a.id
         LIMIT 10
        """,
        phone,
        list(account_ids),
        now,
    )


async def page_facts(conn: Conn, reminder_id: int) -> Row | None:
    """A sent email reminder with what its confirm and unsubscribe pages show."""
    return await conn.fetchrow(
        """
        SELECT r.id, r.account_id, r.appointment_id, r.start_at, a.start_at AS appointment_start,
               a.status, a.telehealth, l.name AS location_name, l.time_zone, l.address_line1,
               l.address_line2, l.city, l.state, l.postal_code,
               acc.name AS practice, pr.display_name AS practitioner, n.recipient, n.locale
          FROM appointment_reminders r
          JOIN notifications n ON n.id = r.notification_id AND n.channel = 'EMAIL'
          JOIN appointments a ON a.id = r.appointment_id
          JOIN locations l ON l.id = a.location_id
          JOIN accounts acc ON acc.id = a.account_id
          JOIN practitioners pr ON pr.id = a.practitioner_id
         WHERE r.id = $1
        """,
        reminder_id,
    )


async def stats(
    conn: Conn,
    account_id: int,
    start: datetime,
    end: datetime,
    *,
    zone: str,
    group_by: str,
    setting_id: int | None,
) -> list[Row]:
    """Per group (local start date, or setting id): appointments starting in [start, end) and
    still on the calendar, their reminders sent, how many were ever confirmed, no-shows."""
    key = "to_char(x.local_start, 'YYYY-MM-DD')" if group_by == "day" else "x.setting_id"
    return await conn.fetch(
        f"""
        WITH x AS (
            SELECT a.start_at AT TIME ZONE $4::text AS local_start, c.setting_id, a.status,
                   (a.status = 'CONFIRMED' OR EXISTS (
                        SELECT 1 FROM appointment_changes ch
                         WHERE ch.appointment_id = a.id AND ch.to_status = 'CONFIRMED'))
                       AS confirmed,
                   (SELECT count(*) FROM appointment_reminders r
                     WHERE r.appointment_id = a.id AND r.sent_at IS NOT NULL) AS sent
              FROM appointments a
              LEFT JOIN scheduler_configs c ON c.id = a.scheduler_config_id
             WHERE a.account_id = $1 AND a.start_at >= $2 AND a.start_at < $3
               AND a.status NOT IN ('CANCELLED', 'RESCHEDULED', 'VOIDED')
               AND ($5::bigint IS NULL OR c.setting_id = $5)
        )
        SELECT {key} AS key, count(*) AS appointments, sum(sent)::int AS reminders_sent,
               count(*) FILTER (WHERE confirmed) AS confirmed,
               count(*) FILTER (WHERE status = 'NO_SHOW') AS no_shows,
               count(*) FILTER (WHERE status = 'NO_SHOW' AND confirmed) AS no_shows_confirmed
          FROM x GROUP BY 1 ORDER BY 1 NULLS LAST
        """,  # noqa: S608 - the key is one of two fixed expressions
        account_id,
        start,
        end,
        zone,
        setting_id,
    )
