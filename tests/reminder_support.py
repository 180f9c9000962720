"""Booking a patient with an email and a mobile number, and draining reminders, for the
reminder tests."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from app.notifications.base import OutgoingMessage, SendResult
from app.notifications.worker import run_once
from tests.builders import Practice, build_practice
from tests.support import Partner

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)  # Monday 07:00 in New York: the tests' clock
NEW_YORK = ZoneInfo("America/New_York")
WIDE_RULES = [{"weekday": d, "start": "07:00", "end": "20:00"} for d in range(7)]


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NEW_YORK)


def new_phone() -> str:
    return f"+1415555{secrets.randbelow(10**4):04d}"


async def reminder_practice(p: Partner, reminders: list[dict[str, Any]] | None = None, **kw):
    practice = await build_practice(p, method=None, rules=WIDE_RULES, forward_days=400, **kw)
    if reminders is not None:
        r = await p.put(
            f"/self-scheduling/setting/{practice.setting_id}", json={"reminders": reminders}
        )
        assert r.status_code == 200, r.text
    return practice


def slot(practice: Practice, start: datetime) -> dict[str, Any]:
    return {
        "appointmentTypeId": practice.appointment_type_id,
        "locationId": practice.location_ids[0],
        "practitionerId": practice.practitioner_ids[0],
        "schedulerConfigId": practice.config_ids[0],
        "startDateTime": start.isoformat(),
    }


async def book(
    practice: Practice,
    start: datetime,
    *,
    email: str | None = None,
    phone: str | None = None,
    first_name: str = "Rita",
) -> dict[str, Any]:
    """A partner attempt (no verification) for a new patient, booked at `start`."""
    p = practice.partner
    attempt = await p.create(
        "/self-scheduling/attempt", {"selfSchedulingSettingId": practice.setting_id}
    )
    base = f"/self-scheduling/attempt/{attempt['id']}"
    patient = {"firstName": first_name, "lastName": "Reminder", "dateOfBirth": "1975-04-03"}
    patient |= {k: v for k, v in (("email", email), ("phone", phone)) if v}
    r = await p.post(f"{base}/patient", json=patient)
    assert r.status_code in (200, 201), r.text
    r = await p.post(f"{base}/appointment", json=slot(practice, start))
    assert r.status_code == 201, r.text
    return r.json()


async def reminders_of(pool: asyncpg.Pool, appointment_id: int) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT * FROM appointment_reminders WHERE appointment_id = $1"
        " ORDER BY start_at, offset_minutes, channel",
        appointment_id,
    )


async def drain(pool, settings, channels, now: datetime) -> None:
    """Worker passes at `now` until nothing is left to release or send."""
    while await run_once(pool, settings, channels, batch=50, now=now):
        pass


class Recording:
    """A channel that keeps what it was handed (the provider client's view)."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    async def send(self, message: OutgoingMessage) -> SendResult:
        await asyncio.sleep(0)  # let another worker run in between
        self.sent.append(message)
        return SendResult(f"rec-{secrets.token_hex(4)}")

    def to(self, recipient: str) -> list[OutgoingMessage]:
        """The reminders handed over for `recipient`."""
        return [m for m in self.sent if m.to == recipient and m.purpose == "appointment_reminder"]


def channels(recording: Recording) -> dict[str, Recording]:
    return {"SMS": recording, "EMAIL": recording}
