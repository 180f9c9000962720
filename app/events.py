"""Domain events: one row per thing a partner may subscribe to (contract "Webhooks out").

`record` writes in the caller's transaction, so an event exists exactly when the change that
caused it committed. Fan-out to webhook endpoints reads this table later. `data` carries ids
and enums only, never PHI (no names, contacts or codes).
"""

from __future__ import annotations

from typing import Any, Final

import asyncpg

ATTEMPT_STARTED: Final = "attempt.started"
ATTEMPT_VERIFIED: Final = "attempt.verified"
ATTEMPT_ABANDONED: Final = "attempt.abandoned"
APPOINTMENT_CREATED: Final = "appointment.created"
APPOINTMENT_RESCHEDULED: Final = "appointment.rescheduled"
APPOINTMENT_CANCELLED: Final = "appointment.cancelled"
NOTIFICATION_FAILED: Final = "notification.failed"
BUDGET_EXHAUSTED: Final = "budget.exhausted"
APPOINTMENT_CONFIRMED: Final = "appointment.confirmed"
REMINDER_SENT: Final = "reminder.sent"
WAITLIST_OFFERED: Final = "waitlist.offered"
WAITLIST_CLAIMED: Final = "waitlist.claimed"

EVENT_TYPES: Final = (
    ATTEMPT_STARTED,
    ATTEMPT_VERIFIED,
    ATTEMPT_ABANDONED,
    APPOINTMENT_CREATED,
    APPOINTMENT_RESCHEDULED,
    APPOINTMENT_CANCELLED,
    NOTIFICATION_FAILED,
    BUDGET_EXHAUSTED,
    APPOINTMENT_CONFIRMED,
    REMINDER_SENT,
    WAITLIST_OFFERED,
    WAITLIST_CLAIMED,
)


async def record(
    conn: asyncpg.Connection, *, account_id: int, type: str, data: dict[str, Any]
) -> int:
    """Insert one event (in the caller's transaction); returns its id."""
    if type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {type!r}")
    return await conn.fetchval(
        "INSERT INTO events (account_id, type, data) VALUES ($1, $2, $3) RETURNING id",
        account_id,
        type,
        data,
    )
