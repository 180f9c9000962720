"""A practice with a waitlist, patients, entries and offers, built through the public API,
for the waitlist tests (API, browser) and the bench."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import httpx

from app.config import Settings
from app.waitlist.worker import run_once
from tests.builders import Practice, build_practice, first_slot
from tests.support import Partner


async def waitlist_practice(
    partner: Partner, *, offers_per_slot: int = 3, offer_minutes: int = 30, **kw: Any
) -> Practice:
    """`build_practice` without verification (widget patients are set directly) and the
    waitlist enabled."""
    practice = await build_practice(partner, method=kw.pop("method", None), **kw)
    r = await partner.put(
        f"/self-scheduling/setting/{practice.setting_id}",
        json={
            "waitlist": {
                "enabled": True,
                "offersPerSlot": offers_per_slot,
                "offerMinutes": offer_minutes,
            }
        },
    )
    assert r.status_code == 200, r.text
    return practice


async def make_patient(
    pool: asyncpg.Pool, account_id: int, email: str, phone: str | None = None
) -> int:
    return await pool.fetchval(
        "INSERT INTO patients (account_id, first_name, last_name, date_of_birth, email,"
        " mobile_phone) VALUES ($1, 'Wai', 'Ting', '1980-01-01', $2, $3) RETURNING id",
        account_id,
        email,
        phone,
    )


async def window_entry(
    practice: Practice,
    patient_id: int,
    start: str,
    end: str,
    *,
    practitioner_ids: list[int] | None = None,
    lang: str | None = None,
) -> int:
    body: dict[str, Any] = {
        "selfSchedulingSettingId": practice.setting_id,
        "patientId": patient_id,
        "appointmentTypeId": practice.appointment_type_id,
        "locationId": practice.location_ids[0],
        "windowStart": start,
        "windowEnd": end,
    }
    if practitioner_ids is not None:
        body["practitionerIds"] = practitioner_ids
    if lang is not None:
        body["lang"] = lang
    return (await practice.partner.create("/waitlist", body))["waitlistEntryId"]


async def widget_book(
    client: httpx.AsyncClient, practice: Practice, start: str, email: str, **kw: Any
) -> tuple[dict[str, Any], str]:
    """Book through the widget (a setting without verification): (appointment, manage
    token). `kw`: `widget_booking`'s."""
    booked = await widget_booking(client, practice, start, email, **kw)
    return booked["appointment"], booked["manageToken"]


async def widget_booking(
    client: httpx.AsyncClient,
    practice: Practice,
    start: str,
    email: str,
    *,
    practitioner: int = 0,
    phone: str | None = None,
) -> dict[str, Any]:
    """`widget_book`'s whole answer: the appointment, its manage token and link, and whether
    an earlier time may be asked."""
    headers = {"X-Widget-Key": practice.publishable_key}
    started = await client.post("/widget/v1/attempt", headers=headers)
    assert started.status_code == 201, started.text
    headers["Authorization"] = f"Bearer {started.json()['attemptToken']}"
    person = {"firstName": "Pat", "lastName": email.split("@")[0], "dateOfBirth": "1980-01-01"}
    person["email"] = email
    if phone:
        person["phone"] = phone
    patient = await client.post("/widget/v1/attempt/patient", headers=headers, json=person)
    assert patient.status_code in (200, 201), patient.text
    booked = await client.post(
        "/widget/v1/attempt/appointment",
        headers=headers,
        json=first_slot(practice, start, practitioner),
    )
    assert booked.status_code == 201, booked.text
    return booked.json()


async def cancel(practice: Practice, appointment_id: int) -> None:
    r = await practice.partner.put(
        f"/location/{practice.location_ids[0]}/appointment/{appointment_id}",
        json={"status": "CANCELLED"},
    )
    assert r.status_code == 200, r.text


async def match(pool: asyncpg.Pool, settings: Settings, now: datetime) -> int:
    """One pass of the background matcher, as the worker runs it."""
    return await run_once(pool, settings, now)


async def offers(pool: asyncpg.Pool, account_id: int) -> list[asyncpg.Record]:
    """Offers with their outbox message, oldest first: recipient, channel, locale, the link's
    token, entry_id, start_at, status, opening depth and round."""
    return await pool.fetch(
        """
        SELECT n.recipient, n.channel, n.locale, n.params,
               split_part(n.params->>'offer_url', '#offer=', 2) AS token,
               o.id, o.entry_id, o.start_at, o.status, w.depth, w.round
          FROM waitlist_offers o
          JOIN notifications n ON n.id = o.notification_id
          JOIN waitlist_openings w ON w.id = o.opening_id
         WHERE o.account_id = $1
         ORDER BY o.id
        """,
        account_id,
    )
