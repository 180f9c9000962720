"""Tell the patient (outbox notifications) and partners (events -> webhooks) about a booking
change, in the transaction that made it. Messages say what, with whom, when, where, the
practice's phone and a working manage link, in the patient's language
(`message_context`); event data carries ids and times only, never PHI."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from app import events
from app.appointments.message_context import (
    appointment_message,
    manage_token_hash,
    manage_url,
    new_manage_token,
)
from app.availability import engine as e
from app.notifications.outbox import enqueue

__all__ = [
    "announce", "manage_token_hash", "manage_url", "new_manage_token", "patient_contacts",
    "tell_patient",
]  # fmt: skip

Contacts = list[tuple[str, str]]  # (channel "EMAIL" | "SMS", recipient)


def when_text(at: datetime, time_zone: str) -> str:
    """An instant as messages show it: local date, time and zone abbreviation."""
    local = at.astimezone(e.zone(time_zone))
    return local.strftime("%Y-%m-%d %H:%M ") + (local.tzname() or "")


async def patient_contacts(conn: asyncpg.Connection, patient_id: int) -> Contacts:
    row = await conn.fetchrow("SELECT email, mobile_phone FROM patients WHERE id = $1", patient_id)
    contacts: Contacts = []
    if row and row["email"]:
        contacts.append(("EMAIL", row["email"]))
    if row and row["mobile_phone"]:
        contacts.append(("SMS", row["mobile_phone"]))
    return contacts


async def announce(
    conn: asyncpg.Connection,
    *,
    account_id: int,
    appointment_id: int,
    event_type: str,
    purpose: str,
    contacts: Contacts,
    public_url: str,
    secret_key: str,
    now: datetime,
    manage_token: str | None,
    extra: dict[str, object] | None = None,
) -> None:
    """The patient's message (`tell_patient`) and the partners' event about one change."""
    await tell_patient(
        conn,
        account_id=account_id,
        appointment_id=appointment_id,
        purpose=purpose,
        contacts=contacts,
        public_url=public_url,
        secret_key=secret_key,
        now=now,
        manage_token=manage_token,
    )
    row = await conn.fetchrow(
        "SELECT a.*, l.time_zone FROM appointments a JOIN locations l ON l.id = a.location_id"
        " WHERE a.id = $1",
        appointment_id,
    )
    await events.record(
        conn, account_id=account_id, type=event_type, data={**_event_data(row), **(extra or {})}
    )


async def tell_patient(
    conn: asyncpg.Connection,
    *,
    account_id: int,
    appointment_id: int,
    purpose: str,
    contacts: Contacts,
    public_url: str,
    secret_key: str,
    now: datetime,
    manage_token: str | None,
) -> None:
    """One message per contact (none when there is none). `manage_token`: the link the patient
    holds when they made the change (or were just given it); None issues a new one."""
    if not contacts:
        return
    message = await appointment_message(
        conn,
        appointment_id,
        public_url=public_url,
        secret_key=secret_key,
        now=now,
        manage_token=manage_token,
    )
    for channel, to in contacts:
        await enqueue(
            conn,
            account_id=account_id,
            channel=channel,
            to=to,
            purpose=purpose,
            params=message.params,
            locale=message.locale,
        )


def _event_data(row: asyncpg.Record) -> dict[str, object]:
    tz = e.zone(row["time_zone"])
    return {
        "appointmentId": row["id"],
        "status": row["status"],
        "locationId": row["location_id"],
        "practitionerId": row["practitioner_id"],
        "appointmentTypeId": row["appointment_type_id"],
        "startDateTime": row["start_at"].astimezone(tz).isoformat(),
        "endDateTime": row["end_at"].astimezone(tz).isoformat(),
    }


async def status_changed(
    conn: asyncpg.Connection, appointment_id: int, previous: str, actor: str
) -> None:
    """`appointment.status_changed` for every status change (cancellations included), and
    `appointment.confirmed` when the new status is CONFIRMED; ids and statuses only."""
    row = await conn.fetchrow(
        "SELECT a.*, l.time_zone FROM appointments a JOIN locations l ON l.id = a.location_id"
        " WHERE a.id = $1",
        appointment_id,
    )
    data = {**_event_data(row), "previousStatus": previous, "changedBy": actor}
    kinds = [events.APPOINTMENT_STATUS_CHANGED]
    if row["status"] == "CONFIRMED":
        kinds.append(events.APPOINTMENT_CONFIRMED)
    for kind in kinds:
        await events.record(conn, account_id=row["account_id"], type=kind, data=data)
