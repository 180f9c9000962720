"""Arming reminders when an appointment is made, moved or changes status, and releasing them
into the notification outbox when they fall due.

`sync(conn, appointment_id, now)` runs in the transaction of every change to an appointment
(booking.insert_appointment and app.appointments.changes call it), so each booking path gets
reminders without knowing about them: armed rows exist exactly for the appointment's current
start while its status is SCHEDULED or CONFIRMED.

`release_due(pool, settings, now)` is one step of each notification worker pass: it locks due
rows (FOR UPDATE SKIP LOCKED, so two workers never take the same one), decides each (send,
skip, or postpone out of quiet hours), and writes the notifications and the rows' new state in
the same transaction. A worker killed in the middle rolls the whole batch back; a reminder
that became a notification can never become another (`notification_id` is unique and only a
SCHEDULED row is claimed). Delivery from there is the outbox's at-least-once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import asyncpg

from app.availability.engine import zone
from app.config import Settings
from app.core.db import transaction
from app.notifications import optouts
from app.notifications.messages import APPOINTMENT_REMINDER
from app.notifications.outbox import Queued, enqueue_many
from app.reminders import links, schedule, store
from app.reminders import message as reminder_message
from app.reminders.schedule import Postpone, Reminder, Send, Skip
from app.reminders.store import Outcome

log = logging.getLogger("slotproof.reminders")

DEFAULT = [Reminder(offset, channel) for offset, channel in schedule.DEFAULT_REMINDERS]


async def sync(
    conn: asyncpg.Connection, appointment_id: int, now: datetime, *, new: bool = False
) -> None:
    """Make the armed reminders match the appointment as it is now (caller's transaction).
    `new`: the appointment was inserted in this transaction, so it has no reminders to
    disarm (one statement less while the booking holds the practitioner's lock)."""
    facts = await store.arming_facts(conn, appointment_id)
    if facts is None:
        return
    if facts["status"] not in schedule.REMINDED_STATUSES:
        if not new:
            await store.disarm(conn, appointment_id, "appointment_" + facts["status"].lower(),
                               keep_start=None)  # fmt: skip
        return
    if not new:
        await store.disarm(conn, appointment_id, "rescheduled", keep_start=facts["start_at"])
    wanted = DEFAULT if facts["reminders"] is None else schedule.parse_reminders(facts["reminders"])
    channels = frozenset(
        channel
        for channel, contact in (("EMAIL", facts["email"]), ("SMS", facts["mobile_phone"]))
        if contact
    )
    planned = schedule.plan(wanted, facts["start_at"], now, zone(facts["time_zone"]), channels)
    await store.arm(conn, facts["account_id"], appointment_id, facts["start_at"], planned)


async def release_due(
    pool: asyncpg.Pool, settings: Settings, now: datetime, *, limit: int = 200
) -> int:
    """Turn up to `limit` due reminders into notifications (or skip or postpone them);
    returns how many rows were handled."""
    async with transaction(pool) as conn:
        rows = await store.claim_due(conn, now, limit)
        if not rows:
            return 0
        stopped = await _opted_out(conn, rows)
        decisions = [
            (
                row,
                schedule.at_due_time(
                    channel=row["channel"],
                    status=row["appointment_status"],
                    start=row["appointment_start"],
                    now=now,
                    zone=zone(row["time_zone"]),
                    has_contact=bool(row["contact"]),
                    opted_out=(row["account_id"], row["contact"]) in stopped,
                )
                if row["start_at"] == row["appointment_start"]
                else Skip("rescheduled"),
            )
            for row in rows
        ]
        sending = [row for row, decision in decisions if isinstance(decision, Send)]
        notification_ids = await _enqueue(conn, settings, sending, now)
        outcomes = [
            _outcome(row, decision, notification_ids.get(row["id"])) for row, decision in decisions
        ]
        await store.record_outcomes(conn, outcomes)
    skipped = sum(1 for o in outcomes if o.status == "SKIPPED")
    log.info(
        "reminders released",
        extra={
            "queued": len(sending),
            "skipped": skipped,
            "postponed": len(rows) - len(sending) - skipped,
        },
    )
    return len(rows)


async def _opted_out(conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]) -> set:
    found: set[tuple[int, str]] = set()
    for channel in ("SMS", "EMAIL"):
        pairs = [(r["account_id"], r["contact"]) for r in rows if r["channel"] == channel]
        found |= await optouts.opted_out(conn, channel, [p for p in pairs if p[1]])
    return found


async def _enqueue(
    conn: asyncpg.Connection,
    settings: Settings,
    rows: Sequence[asyncpg.Record],
    now: datetime,
) -> dict[int, int]:
    """reminder id -> the id of its notification."""
    if not rows:
        return {}
    messages = await reminder_message.for_reminders(conn, settings, rows, now)
    ids = await enqueue_many(
        conn,
        [
            Queued(
                account_id=row["account_id"],
                channel=row["channel"],
                to=row["contact"],
                purpose=APPOINTMENT_REMINDER,
                params=_with_links(settings, row, message.params),
                locale=message.locale,
            )
            for row, message in zip(rows, messages, strict=True)
        ],
    )
    return {row["id"]: id_ for row, id_ in zip(rows, ids, strict=True)}


def _with_links(settings: Settings, row: asyncpg.Record, params: dict[str, str]) -> dict[str, str]:
    if row["channel"] != "EMAIL":
        return params
    base, key = settings.public_url, settings.secret_key
    return {
        **params,
        "confirm_url": links.confirm_url(base, key, row["id"]),
        "unsubscribe_url": links.unsubscribe_url(base, key, row["id"]),
    }


def _outcome(row: asyncpg.Record, decision: object, notification_id: int | None) -> Outcome:
    if isinstance(decision, Send):
        return Outcome(row["id"], "QUEUED", notification_id=notification_id)
    if isinstance(decision, Postpone):
        return Outcome(row["id"], "SCHEDULED", due_at=decision.until)
    assert isinstance(decision, Skip)
    return Outcome(row["id"], "SKIPPED", reason=decision.reason)


async def on_sent(conn: asyncpg.Connection, notification_ids: Sequence[int]) -> None:
    """The provider accepted these notifications: each reminder among them records its
    sending time and its `reminder.sent` event, the first time only."""
    await store.mark_sent(conn, notification_ids)
