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


def human_when(at: datetime, tz, lang: str) -> str:
    local = at.astimezone(tz)
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")


async def manage_link(conn: asyncpg.Connection, settings: Settings, appointment_id: int) -> str:
    return manage_url(settings.public_url, None)


def place_of(facts, lang: str) -> str:
    return "Video visit" if facts["telehealth"] else facts["location_name"]


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
        params = {
            "practice": fact["practice"],
            "practitioner": fact["practitioner"],
            "when": human_when(fact["start_at"], zone(fact["time_zone"]), "en"),
            "place": place_of(fact, "en"),
            "manage_url": manage_url(settings.public_url, None),
        }
        messages.append(Message("en", params))
    return messages
