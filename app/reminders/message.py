"""What a reminder says: the appointment messages' parameters (app.appointments.message_context:
practice, service, practitioner, local time in the patient's language, address or video visit,
the practice's phone, a new working manage link), built for a whole batch of reminders in a
few statements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from app.appointments.message_context import AppointmentMessage, appointment_messages
from app.config import Settings


async def for_reminders(
    conn: asyncpg.Connection, settings: Settings, rows: Sequence[asyncpg.Record], now: datetime
) -> list[AppointmentMessage]:
    """One message per reminder row, in order (caller's transaction: the links it issues
    commit with the notifications)."""
    messages = await appointment_messages(
        conn,
        list({r["appointment_id"] for r in rows}),
        public_url=settings.public_url,
        secret_key=settings.secret_key,
        now=now,
    )
    return [messages[r["appointment_id"]] for r in rows]
