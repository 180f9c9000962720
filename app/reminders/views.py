"""What partners see of an appointment's reminders: one entry per reminder of its current
start, with the delivery state of the message once it exists."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from app.core.schema import Schema
from app.reminders import store

ReminderStatus = Literal[
    "SCHEDULED", "QUEUED", "SENT", "DELIVERED", "FAILED", "SKIPPED", "CANCELLED"
]
# a reminder handed to the outbox shows its message's state
_MESSAGE_STATUS = {"QUEUED": "QUEUED", "SENDING": "QUEUED", "SENT": "SENT",
                   "DELIVERED": "DELIVERED", "FAILED": "FAILED"}  # fmt: skip


class ReminderState(Schema):
    """`status`: SCHEDULED (waiting for `dueAt`), QUEUED (being sent), SENT, DELIVERED,
    FAILED (the provider refused it), SKIPPED (not sent: its time had passed at booking, no
    such contact, opted out, ...), CANCELLED (taken off by a change to the appointment)."""

    offset_minutes: int
    channel: Literal["EMAIL", "SMS"]
    status: ReminderStatus
    due_at: datetime
    sent_at: datetime | None


def _status(row) -> str:
    if row["status"] == "QUEUED":
        return _MESSAGE_STATUS.get(row["notification_status"] or "", "SENT")
    return row["status"]


async def reminder_states(
    conn: store.Conn, appointment_ids: Sequence[int]
) -> dict[int, list[ReminderState]]:
    found: dict[int, list[ReminderState]] = {id_: [] for id_ in appointment_ids}
    for row in await store.for_appointments(conn, appointment_ids):
        found[row["appointment_id"]].append(
            ReminderState(
                offset_minutes=row["offset_minutes"],
                channel=row["channel"],
                status=_status(row),
                due_at=row["due_at"],
                sent_at=row["sent_at"],
            )
        )
    return found
