"""Location-scoped appointments over HTTP: list, get, and changes (cancel, reschedule, status,
note), plus the patient-side rules of the shared change service."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from app.appointments import changes
from app.core.errors import Problem
from tests.builders import build_practice, first_slot, insert_appointment
from tests.support import (
    frozen_clock_at,
    make_partner,
    open_manage_link,
    partner_calls_below_500,
    problem_code,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # Monday, 07:00 in New York (EST)
MONDAY_9 = "2026-03-09T09:00:00-04:00"  # EDT from 2026-03-08


frozen_clock = frozen_clock_at(NOW)
never_a_5xx = partner_calls_below_500()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


async def book(p, practice, start=MONDAY_9, *, practitioner=0, email="pat@changes.example"):
    """A real booking through the attempt flow (setting without verification)."""
    attempt = await p.create(
        "/self-scheduling/attempt", {"selfSchedulingSettingId": practice.setting_id}
    )
    base = f"/self-scheduling/attempt/{attempt['id']}"
    patient = await p.post(
        f"{base}/patient",
        json={"firstName": "Ana", "lastName": "Núñez", "dateOfBirth": "1984-05-06", "email": email},
    )
    assert patient.status_code in (200, 201), patient.text
    r = await p.post(f"{base}/appointment", json=first_slot(practice, start, practitioner))
    assert r.status_code == 201, r.text
    return r.json()


def as_booked(shown):
    """A location-scoped appointment (Lobbie's shape) as the attempt flow's shape, to compare
    with what the booking answered."""
    shared = ("id", "appointmentTypeId", "locationId", "practitionerId", "patientId", "status")
    return {
        **{key: shown[key] for key in shared},
        **{key: shown[key] for key in ("telehealth", "formCount", "createdAt")},
        "startDateTime": shown["startTime"],
        "endDateTime": shown["endTime"],
    }


def path(practice, appointment_id=None, location=0):
    base = f"/location/{practice.location_ids[location]}/appointment"
    return base if appointment_id is None else f"{base}/{appointment_id}"


async def open_times(p, practice, day="2026-03-09", practitioner=None):
    start = datetime.fromisoformat(f"{day}T00:00:00-05:00")
    params = {
        "selfSchedulingSettingId": practice.setting_id,
        "locationId": practice.location_ids[0],
        "appointmentTypeId": practice.appointment_type_id,
        "startUnix": int(start.timestamp() * 1000),
        "endUnix": int((start + timedelta(days=1)).timestamp() * 1000),
    }
    if practitioner is not None:
        params["practitionerIds"] = str(practice.practitioner_ids[practitioner])
    r = await p.get("/self-scheduling/availability", params=params)
    assert r.status_code == 200, r.text
    return [s["startDateTime"] for slots in r.json()["slotsByDate"].values() for s in slots]


async def change_rows(pool, appointment_id):
    rows = await pool.fetch(
        "SELECT change, from_status, to_status, actor, at FROM appointment_changes"
        " WHERE appointment_id = $1 ORDER BY id",
        appointment_id,
    )
    return [(r["change"], r["from_status"], r["to_status"], r["actor"]) for r in rows]


async def event_types(pool, account_id):
    rows = await pool.fetch("SELECT type FROM events WHERE account_id = $1 ORDER BY id", account_id)
    return [r["type"] for r in rows]


async def notices(pool, account_id, purpose):
    return await pool.fetch(
        "SELECT channel, recipient, params FROM notifications WHERE account_id = $1"
        " AND purpose = $2 ORDER BY id",
        account_id,
        purpose,
    )


# ------------------------------------------------------------------ list and get


async def test_list_with_filters_and_pagination(partner, client, pool):
    practice = await build_practice(
        partner, method=None, practitioners=2, zones=("America/New_York", "America/Chicago")
    )
    ny, chicago = practice.location_ids
    p0, p1 = practice.practitioner_ids

    async def insert(practitioner, location, start, status="SCHEDULED"):
        return await insert_appointment(
            pool, practice, practitioner_id=practitioner, location_id=location,
            start=at(start), status=status,
        )  # fmt: skip

    a1 = await insert(p0, ny, "2026-03-09T09:00:00-04:00")
    a2 = await insert(p1, ny, "2026-03-09T10:00:00-04:00", "CONFIRMED")
    a3 = await insert(p0, ny, "2026-03-10T09:00:00-04:00", "CANCELLED")
    a4 = await insert(p0, chicago, "2026-03-09T11:00:00-05:00")

    async def ids(params=None, location=0):
        r = await partner.get(path(practice, location=location), params=params or {})
        assert r.status_code == 200, r.text
        return [a["id"] for a in r.json()["appointments"]]

    assert await ids() == [a1, a2, a3]
    assert await ids(location=1) == [a4]
    assert await ids({"startDate": "2026-03-09T09:30:00-04:00"}) == [a2, a3]
    assert await ids({"startDate": "2026-03-09T13:00:00Z"}) == [a1, a2, a3]  # inclusive
    assert await ids({"endDate": "2026-03-10T00:00:00-04:00"}) == [a1, a2]
    assert await ids({"endDate": "2026-03-09T10:00:00-04:00"}) == [a1]  # exclusive
    assert await ids(
        {"startDate": "2026-03-09T09:30:00-04:00", "endDate": "2026-03-09T23:00:00-04:00"}
    ) == [a2]
    assert await ids({"status": "CONFIRMED"}) == [a2]
    assert await ids({"status": "CANCELLED"}) == [a3]
    assert await ids({"practitionerId": p1}) == [a2]
    assert await ids({"practitionerId": p0, "status": "SCHEDULED"}) == [a1]
    patient_of_a3 = await pool.fetchval("SELECT patient_id FROM appointments WHERE id = $1", a3)
    assert await ids({"patientId": patient_of_a3}) == [a3]
    assert await ids({"patientId": 987654321}) == []
    # a "+" the client forgot to encode arrives as a space and is still understood
    r = await partner.get(path(practice) + "?startDate=2026-03-09T13:30:00+00:00")
    assert [a["id"] for a in r.json()["appointments"]] == [a2, a3]

    first = await partner.get(path(practice), params={"limit": 2})
    assert [a["id"] for a in first.json()["appointments"]] == [a1, a2]
    cursor = first.json()["nextCursor"]
    assert cursor
    second = await partner.get(path(practice), params={"limit": 2, "cursor": cursor})
    assert [a["id"] for a in second.json()["appointments"]] == [a3]
    assert second.json()["nextCursor"] is None

    chicago_row = (await partner.get(path(practice, location=1))).json()["appointments"][0]
    assert chicago_row["startTime"] == "2026-03-09T11:00:00-05:00"
    assert chicago_row["endTime"] == "2026-03-09T11:30:00-05:00"
    assert chicago_row["locationId"] == chicago and chicago_row["practitionerId"] == p0

    for params, field in [
        ({"status": "DONE"}, "status"),
        ({"startDate": "2026-03-09T09:00:00"}, "startDate"),
        ({"endDate": "next week"}, "endDate"),
        ({"limit": 101}, None),
        ({"limit": 0}, None),
        ({"cursor": "bogus"}, "cursor"),
        ({"practitionerId": "x"}, None),
        ({"patientId": 0}, None),
    ]:
        r = await partner.get(path(practice), params=params)
        assert r.status_code == 400, (params, r.text)
        assert problem_code(r) == "validation_failed"
        if field:
            assert r.json()["errors"][0]["field"] == field, r.json()

    other = await make_partner(client, pool)
    r = await other.get(f"/location/{ny}/appointment")
    assert r.status_code == 404 and problem_code(r) == "not_found"
    r = await partner.get("/location/987654321/appointment")
    assert r.status_code == 404
    r = await partner.get(f"/location/{2**70}/appointment")
    assert r.status_code == 404


async def test_get_one_appointment(partner, client, pool):
    practice = await build_practice(
        partner, method=None, zones=("America/New_York", "America/Chicago")
    )
    booked = await book(partner, practice)
    r = await partner.get(path(practice, booked["id"]))
    assert r.status_code == 200, r.text
    assert as_booked(r.json()) == booked
    assert r.json()["note"] is None and r.json()["source"] == "SELF_SCHEDULING"

    r = await partner.get(path(practice, booked["id"], location=1))  # not at that location
    assert r.status_code == 404 and problem_code(r) == "not_found"
    r = await partner.get(path(practice, 987654321))
    assert r.status_code == 404
    r = await partner.get(path(practice, 2**70))
    assert r.status_code == 404
    other = await make_partner(client, pool)
    r = await other.get(path(practice, booked["id"]))
    assert r.status_code == 404 and problem_code(r) == "not_found"
    r = await other.put(path(practice, booked["id"]), json={"status": "CANCELLED"})
    assert r.status_code == 404
    still = await pool.fetchval("SELECT status FROM appointments WHERE id = $1", booked["id"])
    assert still == "SCHEDULED"


# ------------------------------------------------------------------ cancel and status


async def test_cancel_frees_the_slot_for_a_new_booking(partner, client, pool):
    practice = await build_practice(partner, method=None)
    booked = await book(partner, practice)
    assert MONDAY_9 not in await open_times(partner, practice)

    r = await partner.put(path(practice, booked["id"]), json={"status": "CANCELLED"})
    assert r.status_code == 200, r.text
    assert as_booked(r.json()) == {**booked, "status": "CANCELLED"}
    assert MONDAY_9 in await open_times(partner, practice)
    assert await change_rows(pool, booked["id"]) == [
        ("cancelled", "SCHEDULED", "CANCELLED", "partner")
    ]
    change_at = await pool.fetchval(
        "SELECT at FROM appointment_changes WHERE appointment_id = $1", booked["id"]
    )
    assert change_at == NOW  # the app clock, not the database's
    assert (await event_types(pool, partner.account_id))[-2:] == [
        "appointment.cancelled", "appointment.status_changed",
    ]  # fmt: skip
    event = await pool.fetchval(
        "SELECT data FROM events WHERE account_id = $1 AND type = 'appointment.cancelled'",
        partner.account_id,
    )
    assert event["appointmentId"] == booked["id"] and event["status"] == "CANCELLED"
    assert event["previousStatus"] == "SCHEDULED" and event["changedBy"] == "partner"
    sent = await notices(pool, partner.account_id, "appointment_cancelled")
    assert [(n["channel"], n["recipient"]) for n in sent] == [("EMAIL", "pat@changes.example")]
    assert sent[0]["params"]["when"] == "Monday, March 9, 2026 at 9:00 AM EDT"
    # bug 1: the cancellation's link opens the (cancelled) appointment
    shown = await open_manage_link(client, sent[0]["params"]["manage_url"])
    assert shown["appointment"]["id"] == booked["id"]
    assert shown["appointment"]["status"] == "CANCELLED"

    again = await book(partner, practice, email="bea@changes.example")
    assert again["startDateTime"] == MONDAY_9 and again["id"] != booked["id"]

    twice = await partner.put(path(practice, booked["id"]), json={"status": "CANCELLED"})
    assert twice.status_code == 409 and problem_code(twice) == "not_cancellable"
    # putting the cancelled one back on the calendar: its time went to someone else
    restore = await partner.put(path(practice, booked["id"]), json={"status": "SCHEDULED"})
    assert restore.status_code == 409 and problem_code(restore) == "slot_unavailable"
    assert [a["startDateTime"] for a in restore.json()["alternatives"]] == [
        "2026-03-09T09:30:00-04:00", "2026-03-09T10:00:00-04:00", "2026-03-09T10:30:00-04:00",
    ]  # fmt: skip
    assert (
        await pool.fetchval("SELECT status FROM appointments WHERE id = $1", booked["id"])
        == "CANCELLED"
    )


async def test_status_changes_and_notes(partner, pool):
    practice = await build_practice(partner, method=None)
    booked = await book(partner, practice)
    url = path(practice, booked["id"])

    for status in ("CONFIRMED", "CHECKED_IN", "IN_TREATMENT", "CHECKED_OUT"):
        r = await partner.put(url, json={"status": status})
        assert r.status_code == 200 and r.json()["status"] == status, r.text
    same = await partner.put(url, json={"status": "CHECKED_OUT"})  # repeated: no change row
    assert same.status_code == 200
    done = await partner.put(url, json={"status": "CANCELLED"})
    assert done.status_code == 409 and problem_code(done) == "not_cancellable"
    late = await partner.put(url, json={"startTime": "2026-03-10T09:00:00-04:00"})
    assert late.status_code == 409 and problem_code(late) == "not_reschedulable"
    unchanged = {"startTime": "2026-03-09T13:00:00Z", "practitionerId": booked["practitionerId"]}
    r = await partner.put(url, json=unchanged)  # the same time again: a no-op, not a conflict
    assert r.status_code == 200 and r.json()["startTime"] == MONDAY_9, r.text
    assert await change_rows(pool, booked["id"]) == [
        ("status", "SCHEDULED", "CONFIRMED", "partner"),
        ("status", "CONFIRMED", "CHECKED_IN", "partner"),
        ("status", "CHECKED_IN", "IN_TREATMENT", "partner"),
        ("status", "IN_TREATMENT", "CHECKED_OUT", "partner"),
    ]

    # VOIDED frees the time; back to SCHEDULED reclaims it while it is still free
    r = await partner.put(url, json={"status": "VOIDED"})
    assert r.status_code == 200 and r.json()["status"] == "VOIDED"
    assert MONDAY_9 in await open_times(partner, practice)
    r = await partner.put(url, json={"status": "SCHEDULED"})
    assert r.status_code == 200 and r.json()["status"] == "SCHEDULED", r.text
    assert MONDAY_9 not in await open_times(partner, practice)
    # a no-show may still be cancelled by the practice
    assert (await partner.put(url, json={"status": "NO_SHOW"})).status_code == 200
    r = await partner.put(url, json={"status": "CANCELLED"})
    assert r.status_code == 200 and r.json()["status"] == "CANCELLED"

    r = await partner.put(url, json={"note": "Bring the referral letter"})
    assert r.status_code == 200 and r.json()["note"] == "Bring the referral letter"
    assert (
        await pool.fetchval("SELECT note FROM appointments WHERE id = $1", booked["id"])
        == "Bring the referral letter"
    )
    r = await partner.put(url, json={"note": None})
    assert r.status_code == 200
    assert await pool.fetchval("SELECT note FROM appointments WHERE id = $1", booked["id"]) is None
    assert (await change_rows(pool, booked["id"]))[-2:] == [
        ("note", "CANCELLED", "CANCELLED", "partner"),
        ("note", "CANCELLED", "CANCELLED", "partner"),
    ]
    empty = await partner.put(url, json={})
    assert empty.status_code == 200 and empty.json()["status"] == "CANCELLED"

    for body, field in [
        ({"status": "DONE"}, "status"),
        ({"status": 7}, "status"),
        ({"note": "x" * 2001}, "note"),
        ({"note": "nul\x00"}, "note"),
        ({"practitionerId": 0}, "practitionerId"),
    ]:
        r = await partner.put(url, json=body)
        assert r.status_code == 400, (body, r.text)
        assert problem_code(r) == "validation_failed"
        assert r.json()["errors"][0]["field"] == field, r.json()
    r = await partner.put(url, content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400


# ------------------------------------------------------------------ reschedule


async def test_reschedule_to_an_open_slot(partner, client, pool):
    practice = await build_practice(partner, method=None)
    booked = await book(partner, practice)
    events_before = await event_types(pool, partner.account_id)

    # sent in UTC, answered in the location's offset; Friday 6 March is still EST (-05:00)
    r = await partner.put(path(practice, booked["id"]), json={"startTime": "2026-03-06T15:30:00Z"})
    assert r.status_code == 200, r.text
    assert as_booked(r.json()) == {
        **booked,
        "startDateTime": "2026-03-06T10:30:00-05:00",
        "endDateTime": "2026-03-06T11:00:00-05:00",
    }
    row = await pool.fetchrow(
        "SELECT start_at, end_at, blocked_from, blocked_until, generated_from_type,"
        " scheduler_config_id, status FROM appointments WHERE id = $1",
        booked["id"],
    )
    assert row["start_at"] == at("2026-03-06T15:30:00+00:00")
    assert row["blocked_until"] == at("2026-03-06T16:00:00+00:00")
    assert (row["generated_from_type"], row["status"]) == ("RULE", "SCHEDULED")
    assert row["scheduler_config_id"] == practice.config_ids[0]
    assert await change_rows(pool, booked["id"]) == [
        ("rescheduled", "SCHEDULED", "SCHEDULED", "partner")
    ]
    types = await event_types(pool, partner.account_id)
    assert types == [*events_before, "appointment.rescheduled"]
    data = await pool.fetchval(
        "SELECT data FROM events WHERE account_id = $1 AND type = 'appointment.rescheduled'",
        partner.account_id,
    )
    assert data["appointmentId"] == booked["id"]
    assert data["startDateTime"] == "2026-03-06T10:30:00-05:00"
    assert data["previousStartDateTime"] == MONDAY_9
    assert data["changedBy"] == "partner"
    sent = await notices(pool, partner.account_id, "appointment_rescheduled")
    assert [(n["channel"], n["recipient"]) for n in sent] == [("EMAIL", "pat@changes.example")]
    assert sent[0]["params"]["when"] == "Friday, March 6, 2026 at 10:30 AM EST"
    # bug 1: the practice moved it; the notice's own link opens it at its new time
    shown = await open_manage_link(client, sent[0]["params"]["manage_url"])
    assert shown["appointment"]["startDateTime"] == "2026-03-06T10:30:00-05:00"
    assert shown["canReschedule"] and shown["canCancel"]

    # the old time is open again, the new one is taken
    assert MONDAY_9 in await open_times(partner, practice)
    assert "2026-03-06T10:30:00-05:00" not in await open_times(partner, practice, "2026-03-06")
    # the same PUT again is a no-op
    r = await partner.put(
        path(practice, booked["id"]), json={"startTime": "2026-03-06T10:30:00-05:00"}
    )
    assert r.status_code == 200
    assert len(await change_rows(pool, booked["id"])) == 1
    # moving and confirming at once
    r = await partner.put(
        path(practice, booked["id"]),
        json={"startTime": "2026-03-10T11:30:00-04:00", "status": "CONFIRMED"},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["startTime"], r.json()["status"]) == (
        "2026-03-10T11:30:00-04:00", "CONFIRMED",
    )  # fmt: skip
    # and a confirmed appointment can still move; it stays confirmed
    r = await partner.put(
        path(practice, booked["id"]), json={"startTime": "2026-03-10T09:00:00-04:00"}
    )
    assert (r.json()["startTime"], r.json()["status"]) == (
        "2026-03-10T09:00:00-04:00", "CONFIRMED",
    )  # fmt: skip


async def test_reschedule_into_a_taken_slot(partner, pool):
    practice = await build_practice(partner, method=None)
    first = await book(partner, practice)
    second = await book(partner, practice, "2026-03-09T09:30:00-04:00", email="bea@changes.example")
    r = await partner.put(
        path(practice, first["id"]), json={"startTime": "2026-03-09T09:30:00-04:00"}
    )
    assert r.status_code == 409 and problem_code(r) == "slot_unavailable"
    alternatives = r.json()["alternatives"]
    # the appointment's own time counts as open for it
    assert sorted(a["startDateTime"] for a in alternatives) == [
        "2026-03-09T09:00:00-04:00", "2026-03-09T10:00:00-04:00", "2026-03-09T10:30:00-04:00",
    ]  # fmt: skip
    assert all(a["practitionerId"] == practice.practitioner_ids[0] for a in alternatives)
    assert all(a["schedulerConfigId"] == practice.config_ids[0] for a in alternatives)
    for appointment in (first, second):
        shown = (await partner.get(path(practice, appointment["id"]))).json()
        assert as_booked(shown) == appointment
    assert await change_rows(pool, first["id"]) == []
    assert await notices(pool, partner.account_id, "appointment_rescheduled") == []


async def test_concurrent_reschedules_into_one_slot(partner, pool):
    practice = await build_practice(partner, method=None)
    booked = [
        await book(partner, practice, f"2026-03-09T{t}-04:00", email=f"p{i}@changes.example")
        for i, t in enumerate(("09:00:00", "09:30:00", "10:00:00", "10:30:00"))
    ]
    responses = await asyncio.gather(
        *(
            partner.put(path(practice, b["id"]), json={"startTime": "2026-03-10T11:00:00-04:00"})
            for b in booked
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409]
    assert all(problem_code(r) == "slot_unavailable" for r in responses if r.status_code == 409)
    count = await pool.fetchval(
        "SELECT count(*) FROM appointments WHERE account_id = $1 AND start_at = $2",
        partner.account_id,
        at("2026-03-10T11:00:00-04:00"),
    )
    assert count == 1


async def test_reschedule_by_a_few_minutes_overlapping_itself(partner, pool):
    practice = await build_practice(partner, method=None, interval=15, buffers=(5, 10))
    booked = await book(partner, practice)
    r = await partner.put(
        path(practice, booked["id"]), json={"startTime": "2026-03-09T09:15:00-04:00"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.json()["startTime"], r.json()["endTime"]) == (
        booked["id"], "2026-03-09T09:15:00-04:00", "2026-03-09T09:45:00-04:00",
    )  # fmt: skip
    row = await pool.fetchrow(
        "SELECT blocked_from, blocked_until FROM appointments WHERE id = $1", booked["id"]
    )
    assert row["blocked_from"] == at("2026-03-09T09:10:00-04:00")
    assert row["blocked_until"] == at("2026-03-09T09:55:00-04:00")
    # and back again, overlapping its new self
    r = await partner.put(path(practice, booked["id"]), json={"startTime": MONDAY_9})
    assert r.status_code == 200 and r.json()["startTime"] == MONDAY_9, r.text


async def test_reschedule_refusals(partner, pool):
    practice = await build_practice(partner, method=None)
    booked = await book(partner, practice)
    url = path(practice, booked["id"])
    for start, nearest in (
        ("2026-03-09T09:10:00-04:00", MONDAY_9),  # off the slot grid (its own time is open)
        ("2026-03-09T13:00:00-04:00", "2026-03-09T11:30:00-04:00"),  # after working hours
        ("2026-03-07T09:00:00-05:00", "2026-03-06T11:30:00-05:00"),  # Saturday
        ("2026-02-27T09:00:00-05:00", "2026-03-02T09:00:00-05:00"),  # in the past
        ("2026-06-01T09:00:00-04:00", None),  # beyond the 60-day booking limit
    ):
        r = await partner.put(url, json={"startTime": start})
        assert r.status_code == 409, (start, r.text)
        assert problem_code(r) == "slot_unavailable"
        alternatives = [a["startDateTime"] for a in r.json()["alternatives"]]
        assert (nearest in alternatives) if nearest else alternatives == [], (start, alternatives)
    for body, field in [
        ({"startTime": "2026-03-10T09:00:00"}, "startTime"),
        ({"startTime": "tomorrow at nine"}, "startTime"),
        ({"startTime": 1773147600000}, "startTime"),
        ({"status": "CANCELLED", "startTime": "2026-03-10T09:00:00-04:00"}, "status"),
    ]:
        r = await partner.put(url, json=body)
        assert r.status_code == 400, (body, r.text)
        assert problem_code(r) == "validation_failed"
        assert r.json()["errors"][0]["field"] == field, r.json()
    assert as_booked((await partner.get(url)).json()) == booked
    assert await change_rows(pool, booked["id"]) == []


async def test_practitioner_change_needs_a_config_at_the_location(partner, client, pool):
    practice = await build_practice(partner, method=None, practitioners=2)
    p0, p1 = practice.practitioner_ids
    booked = await book(partner, practice)
    url = path(practice, booked["id"])

    r = await partner.put(url, json={"practitionerId": p1})
    assert r.status_code == 200, r.text
    assert (r.json()["practitionerId"], r.json()["startTime"]) == (p1, MONDAY_9)
    config = await pool.fetchval(
        "SELECT scheduler_config_id FROM appointments WHERE id = $1", booked["id"]
    )
    assert config == practice.config_ids[1]
    assert MONDAY_9 in await open_times(partner, practice, practitioner=0)
    assert MONDAY_9 not in await open_times(partner, practice, practitioner=1)

    r = await partner.put(
        url, json={"practitionerId": p0, "startTime": "2026-03-10T10:00:00-04:00"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["practitionerId"], r.json()["startTime"]) == (
        p0, "2026-03-10T10:00:00-04:00",
    )  # fmt: skip

    # p1 is busy at 09:00 on Tuesday: moving there with p1 is refused
    await book(
        partner, practice, "2026-03-10T09:00:00-04:00", practitioner=1, email="c@changes.example"
    )
    r = await partner.put(
        url, json={"practitionerId": p1, "startTime": "2026-03-10T09:00:00-04:00"}
    )
    assert r.status_code == 409 and problem_code(r) == "slot_unavailable"

    no_config = await partner.create("/practitioner", {"firstName": "New", "lastName": "Doc"})
    other = await make_partner(client, pool)
    foreign = await other.create("/practitioner", {"firstName": "Far", "lastName": "Away"})
    for practitioner in (no_config["id"], foreign["id"], 987654321):
        r = await partner.put(url, json={"practitionerId": practitioner})
        assert r.status_code == 400, r.text
        assert problem_code(r) == "validation_failed"
        assert r.json()["errors"][0]["field"] == "practitionerId"
    row = await pool.fetchrow(
        "SELECT practitioner_id, start_at FROM appointments WHERE id = $1", booked["id"]
    )
    assert (row["practitioner_id"], row["start_at"]) == (p0, at("2026-03-10T10:00:00-04:00"))


async def test_an_appointment_without_a_config_moves_with_the_practitioners_config(partner, pool):
    practice = await build_practice(partner, method=None)
    loose = await insert_appointment(
        pool, practice, practitioner_id=practice.practitioner_ids[0],
        location_id=practice.location_ids[0], start=at(MONDAY_9),
    )  # fmt: skip
    r = await partner.put(path(practice, loose), json={"startTime": "2026-03-09T11:00:00-04:00"})
    assert r.status_code == 200, r.text
    assert r.json()["startTime"] == "2026-03-09T11:00:00-04:00"
    assert (
        await pool.fetchval("SELECT scheduler_config_id FROM appointments WHERE id = $1", loose)
        == practice.config_ids[0]
    )


# ------------------------------------------------------------------ reason and notifyPatient


async def manage_links(pool, appointment_id):
    return await pool.fetchval(
        "SELECT count(*) FROM manage_links WHERE appointment_id = $1", appointment_id
    )


async def event_data(pool, account_id, appointment_id):
    rows = await pool.fetch(
        "SELECT type, data FROM events WHERE account_id = $1"
        " AND (data->>'appointmentId')::bigint = $2 ORDER BY id",
        account_id,
        appointment_id,
    )
    return [(r["type"], r["data"]) for r in rows]


async def test_notify_patient_false_changes_without_a_message_but_tells_partners(
    partner, client, pool
):
    practice = await build_practice(partner, method=None)
    booked = await book(partner, practice)
    url = path(practice, booked["id"])
    account = partner.account_id
    links = await manage_links(pool, booked["id"])

    # the practice moved it and phones the patient itself
    r = await partner.put(
        url, json={"startTime": "2026-03-09T10:00:00-04:00", "notifyPatient": False}
    )
    assert r.status_code == 200 and r.json()["startTime"] == "2026-03-09T10:00:00-04:00", r.text
    assert await notices(pool, account, "appointment_rescheduled") == []
    # a confirmation is no news to the patient either way; CONFIRMED then CANCELLED
    r = await partner.put(url, json={"status": "CONFIRMED", "notifyPatient": False})
    assert r.status_code == 200 and r.json()["status"] == "CONFIRMED", r.text
    reason = "Dr. Test is ill; the front desk calls to rebook"
    r = await partner.put(
        url, json={"status": "CANCELLED", "reason": reason, "notifyPatient": False}
    )
    assert r.status_code == 200 and r.json()["status"] == "CANCELLED", r.text
    assert await notices(pool, account, "appointment_cancelled") == []
    assert await manage_links(pool, booked["id"]) == links  # no link for a message not sent
    # the history and the partners' events are complete all the same
    assert [(h["status"], h["by"], h["reason"]) for h in r.json()["statusHistory"]] == [
        ("SCHEDULED", "patient", None),
        ("CONFIRMED", "partner", None),
        ("CANCELLED", "partner", reason),
    ]
    assert await change_rows(pool, booked["id"]) == [
        ("rescheduled", "SCHEDULED", "SCHEDULED", "partner"),
        ("status", "SCHEDULED", "CONFIRMED", "partner"),
        ("cancelled", "CONFIRMED", "CANCELLED", "partner"),
    ]
    sent = await event_data(pool, account, booked["id"])
    assert [kind for kind, _ in sent] == [
        "appointment.created",
        "appointment.rescheduled",
        "appointment.status_changed",
        "appointment.confirmed",
        "appointment.cancelled",
        "appointment.status_changed",
    ]
    by_type = dict(sent)
    assert by_type["appointment.rescheduled"]["patientNotified"] is False
    assert by_type["appointment.cancelled"]["patientNotified"] is False
    assert by_type["appointment.cancelled"]["previousStatus"] == "CONFIRMED"
    # the reason is free text that may name a health matter: never in events (ids only)
    assert all("ill" not in str(data) for _, data in sent)
    assert (
        await pool.fetchval("SELECT cancel_reason FROM appointments WHERE id = $1", booked["id"])
        == reason
    )


async def test_changes_notify_the_patient_by_default_with_a_working_link(partner, client, pool):
    practice = await build_practice(partner, method=None)
    booked = await book(partner, practice)
    url = path(practice, booked["id"])
    account = partner.account_id

    r = await partner.put(url, json={"startTime": "2026-03-09T10:00:00-04:00"})
    assert r.status_code == 200, r.text
    moved = await notices(pool, account, "appointment_rescheduled")
    assert [(n["channel"], n["recipient"]) for n in moved] == [("EMAIL", "pat@changes.example")]
    shown = await open_manage_link(client, moved[0]["params"]["manage_url"])
    assert shown["appointment"]["startDateTime"] == "2026-03-09T10:00:00-04:00"

    reason = "Patient asked by phone"
    body = {"status": "CANCELLED", "reason": reason, "notifyPatient": True}
    r = await partner.put(url, json=body)
    assert r.status_code == 200, r.text
    cancelled = await notices(pool, account, "appointment_cancelled")
    assert [(n["channel"], n["recipient"]) for n in cancelled] == [("EMAIL", "pat@changes.example")]
    shown = await open_manage_link(client, cancelled[0]["params"]["manage_url"])
    assert (shown["appointment"]["id"], shown["appointment"]["status"]) == (
        booked["id"], "CANCELLED",
    )  # fmt: skip
    # the reason is the practice's own record: not in the patient's message
    assert reason not in str(dict(cancelled[0]["params"]))
    history = (await partner.get(url)).json()["statusHistory"]
    assert [(h["status"], h["reason"]) for h in history] == [
        ("SCHEDULED", None), ("CANCELLED", reason),
    ]  # fmt: skip
    sent = dict(await event_data(pool, account, booked["id"]))
    assert sent["appointment.rescheduled"]["patientNotified"] is True
    assert sent["appointment.cancelled"]["patientNotified"] is True


async def test_restoring_a_cancelled_appointment_tells_the_patient_it_stands(
    partner, client, pool, frozen_clock
):
    """The patient was told it was cancelled: putting it back on the calendar says so, in
    their language, with a working link, or they would not come (yet get its reminders)."""
    practice = await build_practice(partner, method=None)
    booked = await book(partner, practice)
    url = path(practice, booked["id"])
    account = partner.account_id
    booking_confirmations = await notices(pool, account, "appointment_confirmation")
    assert len(booking_confirmations) == 1

    assert (await partner.put(url, json={"status": "CANCELLED"})).status_code == 200
    r = await partner.put(url, json={"status": "SCHEDULED"})
    assert r.status_code == 200 and r.json()["status"] == "SCHEDULED", r.text
    sent = (await notices(pool, account, "appointment_confirmation"))[1:]
    assert [(n["channel"], n["recipient"]) for n in sent] == [("EMAIL", "pat@changes.example")]
    assert sent[0]["params"]["when"] == "Monday, March 9, 2026 at 9:00 AM EDT"
    assert sent[0]["params"]["manage_url"] != booking_confirmations[0]["params"]["manage_url"]
    shown = await open_manage_link(client, sent[0]["params"]["manage_url"])
    assert (shown["appointment"]["id"], shown["appointment"]["status"]) == (
        booked["id"], "SCHEDULED",
    )  # fmt: skip
    armed = await pool.fetchval(
        "SELECT count(*) FROM appointment_reminders WHERE appointment_id = $1"
        " AND status = 'SCHEDULED'",
        booked["id"],
    )
    assert armed > 0  # and its reminders follow it again

    # the practice tells the patient itself: no message, and none for a visit already past
    for body in ({"status": "CANCELLED"}, {"status": "CONFIRMED", "notifyPatient": False}):
        assert (await partner.put(url, json=body)).status_code == 200
    assert len(await notices(pool, account, "appointment_confirmation")) == 2
    assert (await partner.put(url, json={"status": "CANCELLED"})).status_code == 200
    frozen_clock["now"] = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)  # 10:00 EDT, an hour after
    r = await partner.put(url, json={"status": "SCHEDULED"})
    assert r.status_code == 200 and r.json()["status"] == "SCHEDULED", r.text
    assert len(await notices(pool, account, "appointment_confirmation")) == 2


async def test_reason_and_notify_patient_are_validated(partner, pool):
    practice = await build_practice(partner, method=None)
    booked = await book(partner, practice)
    url = path(practice, booked["id"])
    for body, field in [
        ({"reason": "Asked by phone"}, "reason"),  # a reason explains a status change
        ({"startTime": "2026-03-09T10:00:00-04:00", "reason": "Asked by phone"}, "reason"),
        ({"status": "CANCELLED", "reason": ""}, "reason"),
        ({"status": "CANCELLED", "reason": "x" * 501}, "reason"),
        ({"status": "CANCELLED", "reason": "nul\x00"}, "reason"),
        ({"status": "CANCELLED", "reason": 7}, "reason"),
        ({"status": "CANCELLED", "notifyPatient": "no"}, "notifyPatient"),
        ({"status": "CANCELLED", "notifyPatient": 0}, "notifyPatient"),
        ({"status": "CANCELLED", "notifyPatient": None}, "notifyPatient"),
    ]:
        r = await partner.put(url, json=body)
        assert r.status_code == 400, (body, r.text)
        assert problem_code(r) == "validation_failed"
        assert r.json()["errors"][0]["field"] == field, (body, r.json())
    assert as_booked((await partner.get(url)).json()) == booked
    assert await change_rows(pool, booked["id"]) == []
    assert await notices(pool, partner.account_id, "appointment_cancelled") == []
    # a field this operation does not know is ignored, as everywhere in this API
    r = await partner.put(url, json={"status": "CONFIRMED", "reasonCode": "patient_request"})
    assert r.status_code == 200 and r.json()["status"] == "CONFIRMED", r.text
    # an explicit null reason is no reason
    r = await partner.put(url, json={"status": "NO_SHOW", "reason": None})
    assert r.status_code == 200 and r.json()["statusHistory"][-1]["reason"] is None, r.text


# ------------------------------------------------------------------ the patient's side


async def test_patient_rules_of_the_change_service(partner, pool, settings, frozen_clock):
    practice = await build_practice(partner, method=None)
    booked = await book(partner, practice)
    account = partner.account_id

    moved = await changes.reschedule(
        pool, settings, account, booked["id"], start=at("2026-03-09T10:00:00-04:00"),
        actor=changes.PATIENT, now=NOW, manage_token="mg_patientlink",
    )  # fmt: skip
    assert moved["id"] == booked["id"] and moved["start_at"] == at("2026-03-09T10:00:00-04:00")
    sent = await notices(pool, account, "appointment_rescheduled")
    assert sent[-1]["params"]["manage_url"].endswith("/widget/v1/frame#manage=mg_patientlink")

    with pytest.raises(Problem) as refused:
        await changes.reschedule(
            pool, settings, account, booked["id"], start=at("2026-03-09T10:00:00-04:00"),
            actor=changes.PATIENT, now=NOW, practitioner_id=987654321,
        )  # fmt: skip
    assert refused.value.status == 400

    later = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)  # 11:00 EDT: the visit has started
    with pytest.raises(Problem) as past:
        await changes.cancel(
            pool, settings, account, booked["id"], actor=changes.PATIENT, now=later
        )
    assert (past.value.status, past.value.code) == (409, "appointment_in_past")
    with pytest.raises(Problem) as past:
        await changes.reschedule(
            pool, settings, account, booked["id"], start=at("2026-03-10T10:00:00-04:00"),
            actor=changes.PATIENT, now=later,
        )  # fmt: skip
    assert past.value.code == "appointment_in_past"

    checked_in = await insert_appointment(
        pool, practice, practitioner_id=practice.practitioner_ids[0],
        location_id=practice.location_ids[0], start=at("2026-03-11T09:00:00-04:00"),
        status="CHECKED_IN",
    )  # fmt: skip
    with pytest.raises(Problem) as refused:
        await changes.cancel(pool, settings, account, checked_in, actor=changes.PATIENT, now=NOW)
    assert refused.value.code == "not_cancellable"

    # the patient cancels in time, with a reason; the practice cleans up a past one quietly
    cancelled = await changes.cancel(
        pool, settings, account, booked["id"], actor=changes.PATIENT, now=NOW, reason="ill"
    )
    assert (cancelled["status"], cancelled["cancel_reason"]) == ("CANCELLED", "ill")
    quiet_before = len(await notices(pool, account, "appointment_cancelled"))
    assert quiet_before == 1
    late = await changes.cancel(
        pool, settings, account, checked_in, actor=changes.PARTNER,
        now=datetime(2026, 3, 12, tzinfo=UTC),
    )  # fmt: skip
    assert late["status"] == "CANCELLED"
    assert len(await notices(pool, account, "appointment_cancelled")) == quiet_before
    assert (await event_types(pool, account))[-4:] == [
        "appointment.cancelled", "appointment.status_changed",
        "appointment.cancelled", "appointment.status_changed",
    ]  # fmt: skip
    assert await change_rows(pool, booked["id"]) == [
        ("rescheduled", "SCHEDULED", "SCHEDULED", "patient"),
        ("cancelled", "SCHEDULED", "CANCELLED", "patient"),
    ]
