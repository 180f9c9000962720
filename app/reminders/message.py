"""What a reminder says: the appointment's message parameters for a batch of reminders, read
in one query (a release handles hundreds at once)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg
import msgspec

from app.appointments.notify import manage_url
from app.availability.engine import zone
from app.config import Settings


class Message(msgspec.Struct, frozen=True):
    locale: str
    params: dict[str, str]


async def for_reminders(
    conn: asyncpg.Connection, settings: Settings, rows: Sequence[asyncpg.Record], now: datetime
) -> list[Message]:
    facts = {
        r["id"]: r
        for r in await conn.fetch(
            """
            SELECT a.id, a.start_at, a.telehealth, l.name AS location_name, l.time_zone,
                   acc.name AS practice, p.display_name AS practitioner
              FROM appointments a
              JOIN locations l ON l.id = a.location_id
              JOIN accounts acc ON acc.id = a.account_id
              JOIN practitioners p ON p.id = a.practitioner_id
             WHERE a.id = ANY($1::bigint[])
            """,
            list({r["appointment_id"] for r in rows}),
        )
    }
    messages = []
    for row in rows:
        fact = facts[row["appointment_id"]]
        local = fact["start_at"].astimezone(zone(fact["time_zone"]))
        params = {
            "practice": fact["practice"],
            "practitioner": fact["practitioner"],
            "when": local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or ""),
            "place": "Video visit" if fact["telehealth"] else fact["location_name"],
            "manage_url": manage_url(settings.public_url, None),
        }
        messages.append(Message("en", params))
    return messages
