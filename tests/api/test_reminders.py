"""Reminders: armed by every booking, re-armed by a reschedule, disarmed by a cancel, sent
exactly once per (appointment, reminder) by any number of workers."""

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from app.core import clock
from app.notifications.worker import run_once
from app.reminders import service as reminders
from tests.reminder_support import (
    NOW,
    Recording,
    book,
    channels,
    drain,
    new_phone,
    ny,
    reminder_practice,
    reminders_of,
    slot,
)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    current = {"now": NOW}
    monkeypatch.setattr(clock, "now", lambda: current["now"])
    return current


def states(rows: list[asyncpg.Record]) -> list[tuple]:
    return [(r["offset_minutes"], r["channel"], r["status"], r["reason"]) for r in rows]


async def test_a_booking_arms_the_default_reminders_where_the_patient_has_the_contact(
    partner, pool
):
    practice = await reminder_practice(partner)
    start = ny(2027, 3, 10, 14, 0)
    both = await book(practice, start, email="both@example.com", phone=new_phone())
    email_only = await book(practice, start + timedelta(hours=1), email="only@example.com")

    armed = await reminders_of(pool, both["id"])
    assert states(armed) == [
        (1440, "SMS", "SCHEDULED", None),
        (4320, "EMAIL", "SCHEDULED", None),
    ]
    assert [r["due_at"] for r in armed] == [ny(2027, 3, 9, 14, 0), ny(2027, 3, 7, 14, 0)]
    assert states(await reminders_of(pool, email_only["id"])) == [
        (1440, "SMS", "SKIPPED", "no_contact"),
        (4320, "EMAIL", "SCHEDULED", None),
    ]


async def test_reminders_already_past_at_booking_are_skipped(partner, pool, frozen_clock):
    practice = await reminder_practice(partner)
    start = ny(2027, 3, 3, 10, 0)  # 47 hours after NOW: the 72 h email is past
    appointment = await book(practice, start, email="late@example.com", phone=new_phone())
    assert states(await reminders_of(pool, appointment["id"])) == [
        (1440, "SMS", "SCHEDULED", None),
        (4320, "EMAIL", "SKIPPED", "past_at_booking"),
    ]
    # booked 30 minutes before the start: none of the earlier ones
    start = ny(2027, 3, 1, 9, 0)
    frozen_clock["now"] = start - timedelta(minutes=30)
    appointment = await book(practice, start, email="last@example.com", phone=new_phone())
    assert [r["status"] for r in await reminders_of(pool, appointment["id"])] == [
        "SKIPPED",
        "SKIPPED",
    ]


async def test_a_text_reminder_due_at_night_is_armed_for_the_evening_before_across_dst(
    partner, pool
):
    # DST starts Sunday 14 March 2027 in New York; a 12 h text before 09:00 EDT Monday is
    # due 21:00 EDT Sunday: quiet, so 20:55 EDT = 00:55 UTC Monday
    practice = await reminder_practice(partner, [{"offsetMinutes": 720, "channel": "SMS"}])
    appointment = await book(practice, ny(2027, 3, 15, 9, 0), phone=new_phone())
    (row,) = await reminders_of(pool, appointment["id"])
    assert row["due_at"] == datetime(2027, 3, 15, 0, 55, tzinfo=UTC)


async def test_reschedule_rearms_and_cancel_disarms(partner, pool, settings):
    practice = await reminder_practice(partner)
    phone = new_phone()
    appointment = await book(practice, ny(2027, 3, 10, 14, 0), email="move@example.com",
                             phone=phone)  # fmt: skip
    path = f"/location/{practice.location_ids[0]}/appointment/{appointment['id']}"

    # the 72 h email goes out for the first time
    recording = Recording()
    await drain(pool, settings, channels(recording), ny(2027, 3, 7, 14, 1))
    assert len(recording.to("move@example.com")) == 1

    moved = await partner.put(path, json={"startTime": ny(2027, 3, 12, 15, 0).isoformat()})
    assert moved.status_code == 200, moved.text
    rows = await reminders_of(pool, appointment["id"])
    assert states(rows) == [
        (1440, "SMS", "CANCELLED", "rescheduled"),
        (4320, "EMAIL", "QUEUED", None),  # sent, for the old start: history
        (1440, "SMS", "SCHEDULED", None),
        (4320, "EMAIL", "SCHEDULED", None),  # the new start gets its own
    ]
    assert rows[2]["due_at"] == ny(2027, 3, 11, 15, 0)

    # moving back to the first start does not send its 72 h email again
    back = await partner.put(path, json={"startTime": ny(2027, 3, 10, 14, 0).isoformat()})
    assert back.status_code == 200, back.text
    rows = await reminders_of(pool, appointment["id"])
    armed = [(r["offset_minutes"], r["channel"]) for r in rows if r["status"] == "SCHEDULED"]
    assert armed == [(1440, "SMS")]
    assert [r["start_at"] for r in rows if r["status"] == "SCHEDULED"] == [ny(2027, 3, 10, 14, 0)]

    cancelled = await partner.put(path, json={"status": "CANCELLED"})
    assert cancelled.status_code == 200, cancelled.text
    rows = await reminders_of(pool, appointment["id"])
    assert not [r for r in rows if r["status"] == "SCHEDULED"]
    assert {r["reason"] for r in rows if r["status"] == "CANCELLED"} >= {"appointment_cancelled"}
    await drain(pool, settings, channels(recording), ny(2027, 3, 12, 16, 0))
    assert recording.to(phone) == []
    assert len(recording.to("move@example.com")) == 1


async def test_a_due_reminder_is_sent_once_with_its_event(partner, pool, settings):
    practice = await reminder_practice(partner)
    phone = new_phone()
    appointment = await book(practice, ny(2027, 3, 10, 14, 0), phone=phone)
    recording = Recording()
    await drain(pool, settings, channels(recording), ny(2027, 3, 9, 13, 59))
    assert recording.to(phone) == []  # not yet due
    for _ in range(3):
        await drain(pool, settings, channels(recording), ny(2027, 3, 9, 14, 0))
    (message,) = recording.to(phone)
    assert message.purpose == "appointment_reminder" and message.channel == "SMS"
    assert "Reply C to confirm" in message.body
    (row,) = [r for r in await reminders_of(pool, appointment["id"]) if r["channel"] == "SMS"]
    assert row["status"] == "QUEUED" and row["sent_at"] is not None
    events = await pool.fetch(
        "SELECT data FROM events WHERE account_id = $1 AND type = 'reminder.sent'",
        partner.account_id,
    )
    assert [e["data"] for e in events] == [
        {"appointmentId": appointment["id"], "offsetMinutes": 1440, "channel": "SMS"}
    ]


async def test_two_workers_racing_the_same_due_reminders_send_each_exactly_once(
    partner, pool, settings
):
    practice = await reminder_practice(partner, [{"offsetMinutes": 1440, "channel": "SMS"}])
    phones = [new_phone() for _ in range(12)]
    start = ny(2027, 3, 10, 14, 0)
    for i, phone in enumerate(phones):
        await book(practice, start + timedelta(minutes=30 * i), phone=phone)
    due = ny(2027, 3, 9, 20, 0)  # every one of them is due, none has started
    first, second = Recording(), Recording()
    for _ in range(4):  # several rounds of both workers at once, claiming small batches
        await asyncio.gather(
            run_once(pool, settings, channels(first), batch=3, now=due),
            run_once(pool, settings, channels(second), batch=3, now=due),
            reminders.release_due(pool, settings, due, limit=2),
        )
    await asyncio.gather(
        drain(pool, settings, channels(first), due), drain(pool, settings, channels(second), due)
    )
    handed = Counter(m.to for m in first.sent + second.sent if m.purpose == "appointment_reminder")
    assert handed == Counter(phones)  # each exactly once
    assert first.sent and second.sent  # both workers did part of it
    per_reminder = await pool.fetch(
        "SELECT count(*) AS n FROM appointment_reminders r"
        " JOIN appointments a ON a.id = r.appointment_id"
        " WHERE a.account_id = $1 GROUP BY r.appointment_id, r.offset_minutes, r.channel",
        partner.account_id,
    )
    assert {r["n"] for r in per_reminder} == {1}


async def test_the_database_refuses_a_second_reminder_for_one_slot(partner, pool):
    practice = await reminder_practice(partner, [{"offsetMinutes": 60, "channel": "SMS"}])
    appointment = await book(practice, ny(2027, 3, 10, 14, 0), phone=new_phone())
    (row,) = await reminders_of(pool, appointment["id"])
    with pytest.raises(asyncpg.UniqueViolationError):
        await pool.execute(
            "INSERT INTO appointment_reminders (account_id, appointment_id, offset_minutes,"
            " channel, start_at, due_at) VALUES ($1, $2, 60, 'SMS', $3, $4)",
            row["account_id"],
            row["appointment_id"],
            row["start_at"],
            row["due_at"],
        )
    with pytest.raises(asyncpg.UniqueViolationError):  # nor two armed for other starts
        await pool.execute(
            "INSERT INTO appointment_reminders (account_id, appointment_id, offset_minutes,"
            " channel, start_at, due_at) VALUES ($1, $2, 60, 'SMS', $3, $4)",
            row["account_id"],
            row["appointment_id"],
            row["start_at"] + timedelta(days=1),
            row["due_at"] + timedelta(days=1),
        )


async def test_reminder_stats_per_day_and_per_setting(partner, pool, settings):
    practice = await reminder_practice(partner, [{"offsetMinutes": 1440, "channel": "SMS"}])
    day = [await book(practice, ny(2027, 3, 10, 9 + i, 0), phone=new_phone()) for i in range(4)]
    other_day = await book(practice, ny(2027, 3, 11, 9, 0), phone=new_phone())
    await drain(pool, settings, channels(Recording()), ny(2027, 3, 9, 20, 0))

    def path(a):
        return f"/location/{practice.location_ids[0]}/appointment/{a['id']}"

    async def set_status(a, status):
        r = await partner.put(path(a), json={"status": status})
        assert r.status_code == 200, r.text

    await set_status(day[0], "CONFIRMED")
    await set_status(day[0], "NO_SHOW")  # confirmed, then did not come
    await set_status(day[1], "CONFIRMED")
    await set_status(day[2], "NO_SHOW")  # never confirmed, did not come
    await set_status(other_day, "CANCELLED")  # off the calendar: not counted

    r = await partner.get(
        "/self-scheduling/reminder-stats", params={"from": "2027-03-10", "to": "2027-03-11"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["timeZone"], body["groupBy"]) == ("America/New_York", "day")
    assert body["groups"] == [
        {
            "key": "2027-03-10",
            "appointments": 4,
            "remindersSent": 4,
            "confirmed": 2,
            "confirmedRate": 0.5,
            "noShows": 2,
            "noShowRateConfirmed": 0.5,
            "noShowRateUnconfirmed": 0.5,
        },
        {
            "key": "2027-03-11",
            "appointments": 0,
            "remindersSent": 0,
            "confirmed": 0,
            "confirmedRate": None,
            "noShows": 0,
            "noShowRateConfirmed": None,
            "noShowRateUnconfirmed": None,
        },
    ]
    by_setting = await partner.get(
        "/self-scheduling/reminder-stats",
        params={"from": "2027-03-10", "to": "2027-03-11", "groupBy": "setting",
                "selfSchedulingSettingId": practice.setting_id},
    )  # fmt: skip
    assert [(g["key"], g["appointments"]) for g in by_setting.json()["groups"]] == [
        (practice.setting_id, 4)
    ]
    missing = await partner.get("/self-scheduling/reminder-stats", params={"to": "2027-03-11"})
    assert missing.status_code == 400 and missing.json()["errors"][0]["field"] == "from"
    bad = await partner.get(
        "/self-scheduling/reminder-stats",
        params={"from": "2027-03-10", "to": "2027-03-11", "groupBy": "hour"},
    )
    assert bad.status_code == 400


async def test_partners_see_each_reminder_and_its_state_on_the_appointment(partner, pool, settings):
    practice = await reminder_practice(partner)
    appointment = await book(practice, ny(2027, 3, 10, 14, 0), email="seen@example.com")
    path = f"/location/{practice.location_ids[0]}/appointment/{appointment['id']}"
    shown = (await partner.get(path)).json()["reminders"]
    assert shown == [
        {"offsetMinutes": 1440, "channel": "SMS", "status": "SKIPPED",
         "dueAt": "2027-03-09T19:00:00Z", "sentAt": None},
        {"offsetMinutes": 4320, "channel": "EMAIL", "status": "SCHEDULED",
         "dueAt": "2027-03-07T19:00:00Z", "sentAt": None},
    ]  # fmt: skip
    await drain(pool, settings, channels(Recording()), ny(2027, 3, 7, 14, 0))
    listed = await partner.get(f"/location/{practice.location_ids[0]}/appointment")
    (mine,) = [a for a in listed.json()["appointments"] if a["id"] == appointment["id"]]
    email = mine["reminders"][1]
    assert email["status"] == "SENT" and email["sentAt"] is not None


async def test_a_reminder_speaks_the_language_the_patient_booked_in(
    partner, pool, settings, client
):
    practice = await reminder_practice(partner)
    headers = {"X-Widget-Key": practice.publishable_key}
    started = await client.post("/widget/v1/attempt", headers=headers, json={"lang": "es"})
    assert started.status_code == 201, started.text
    headers["Authorization"] = f"Bearer {started.json()['attemptToken']}"
    phone, email = new_phone(), f"es.{partner.account_id}@example.com"
    patient = {"firstName": "Lucía", "lastName": "Reyes", "dateOfBirth": "1980-02-03",
               "email": email, "phone": phone}  # fmt: skip
    r = await client.post("/widget/v1/attempt/patient", headers=headers, json=patient)
    assert r.status_code in (200, 201), r.text
    r = await client.post(
        "/widget/v1/attempt/appointment",
        headers=headers,
        json=slot(practice, ny(2027, 3, 10, 14, 0)),
    )
    assert r.status_code == 201, r.text
    recording = Recording()
    await drain(pool, settings, channels(recording), ny(2027, 3, 9, 14, 0))
    (text,) = recording.to(phone)
    (mail,) = recording.to(email)
    assert text.locale == mail.locale == "es"
    assert "miércoles, 10 de marzo de 2027 a las 2:00 p. m. EST" in text.body
    assert "Responda C para confirmar" in text.body and "#manage=mg_" in text.body
    assert "Por favor confirme su asistencia" in mail.body and "Doc0 Test" in mail.body
    assert '<html lang="es">' in mail.html
