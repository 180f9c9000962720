"""The IHE operations end to end, as an EHR plays them: $find, $hold, $book (book, cancel,
move), conflicts with alternatives, idempotency, a 20-way race, DST, and that a FHIR booking
is visible everywhere a widget booking is (funnel, events, audit)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from app.webhooks.dispatcher import fan_out
from tests.api.fhir_support import (
    entries,
    fhir_get,
    fhir_url,
    issue_code,
    operation,
    parameters,
    valid,
)
from tests.builders import build_practice

PATIENT = {
    "resourceType": "Patient",
    "name": [{"family": "Okafor", "given": ["Ada"]}],
    "birthDate": "1979-11-02",
    "telecom": [
        {"system": "email", "value": "ada@example.com"},
        {"system": "sms", "value": "2025550143"},
    ],
}


def ref(name: str, appointment_id: str) -> tuple[str, str, dict]:
    return (name, "valueReference", {"reference": f"Appointment/{appointment_id}"})


def find_body(start: datetime, end: datetime, *extra) -> dict:
    return parameters(
        ("start", "valueDateTime", start.isoformat()),
        ("end", "valueDateTime", end.isoformat()),
        *extra,
    )


def next_week() -> tuple[datetime, datetime]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    return start, start + timedelta(days=7)


async def proposals(p, *extra) -> list[dict]:
    start, end = next_week()
    response = await operation(p, "find", find_body(start, end, *extra))
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["type"] == "searchset" and bundle["total"] >= len(bundle.get("entry", []))
    return entries(bundle)


async def test_an_ehr_finds_holds_books_searches_and_cancels(partner, client, pool, settings):
    practice = await build_practice(partner)
    hook = await partner.create(
        "/webhook-endpoint",
        {"url": "https://hooks.example/slotproof", "events": ["appointment.created"]},
    )
    assert (await client.get(fhir_url(partner, "/metadata"))).status_code == 200
    # $find for a week: proposed Appointments with their participants
    found = await proposals(
        partner,
        ("visit-type", "valueString", str(practice.appointment_type_id)),
        (
            "location-reference",
            "valueReference",
            {"reference": f"Location/{practice.location_ids[0]}"},
        ),
        (
            "practitioner",
            "valueReference",
            {"reference": f"Practitioner/{practice.practitioner_ids[0]}"},
        ),
    )
    assert found and all(a["status"] == "proposed" for a in found)
    chosen = found[0]
    assert (await fhir_get(partner, f"/Appointment/{chosen['id']}")).json()["start"] == chosen[
        "start"
    ]
    actors = {p["actor"]["reference"] for p in chosen["participant"]}
    assert actors == {
        f"Practitioner/{practice.practitioner_ids[0]}",
        f"Location/{practice.location_ids[0]}",
    }
    assert chosen["start"].endswith(("-05:00", "-04:00"))  # the location's offset

    # $hold: pending, withheld from the next $find exactly like a widget hold
    held = await operation(partner, "hold", parameters(ref("appointment-reference", chosen["id"])))
    assert held.status_code == 200, held.text
    pending = entries(held.json())[0]
    assert pending["status"] == "pending" and pending["start"] == chosen["start"]
    assert chosen["start"] not in {a["start"] for a in await proposals(partner)}
    # both references resolve while they mean something
    assert (await fhir_get(partner, f"/Appointment/{pending['id']}")).json() == pending
    gone = await client.get(
        fhir_url(partner, f"/Appointment/{chosen['id']}"), headers=partner.headers()
    )
    assert gone.status_code == 404  # held: no longer proposed
    hold = await pool.fetchrow(
        "SELECT h.expires_at - h.created_at AS lasts, a.source FROM holds h"
        " JOIN self_scheduling_attempts a ON a.id = h.attempt_id WHERE h.account_id = $1",
        partner.account_id,
    )
    assert hold["source"] == "FHIR" and hold["lasts"] <= timedelta(minutes=10, seconds=5)

    # $book it with a patient
    booked = await operation(
        partner,
        "book",
        parameters(
            ref("appointment-reference", pending["id"]),
            ("patient-resource", "resource", PATIENT),
            ("comment", "valueString", "Prefers mornings"),
        ),
    )
    assert booked.status_code == 201, booked.text
    appointment = entries(booked.json())[0]
    assert appointment["status"] == "booked" and appointment["start"] == chosen["start"]
    assert appointment["comment"] == "Prefers mornings"
    assert booked.headers["location"].endswith(f"/Appointment/{appointment['id']}")
    consumed = await client.get(
        fhir_url(partner, f"/Appointment/{pending['id']}"), headers=partner.headers()
    )
    assert consumed.status_code == 404  # the booking consumed the hold
    patient = next(
        p["actor"]["reference"]
        for p in appointment["participant"]
        if "Patient/" in p["actor"]["reference"]
    )

    # search the Appointment by patient and date
    day = chosen["start"][:10]
    search = await fhir_get(partner, f"/Appointment?patient={patient}&date={day}")
    assert [a["id"] for a in entries(search.json())] == [appointment["id"]]
    assert (
        entries((await fhir_get(partner, f"/Appointment?patient={patient}&date=lt{day}")).json())
        == []
    )

    # visible elsewhere: the funnel (source FHIR), events for webhooks, the audit trail
    attempt = await pool.fetchrow(
        "SELECT id, status, source FROM self_scheduling_attempts WHERE appointment_id = $1",
        int(appointment["id"]),
    )
    assert (attempt["status"], attempt["source"]) == ("BOOKED", "FHIR")
    steps = await pool.fetch(
        "SELECT step FROM attempt_steps WHERE attempt_id = $1 ORDER BY id", attempt["id"]
    )
    assert [s["step"] for s in steps] == ["STARTED", "SLOT_SELECTED", "PATIENT_SET", "BOOKED"]
    records = (await partner.get("/self-scheduling/attempt")).json()["attempts"]
    assert {(a["source"], a["status"]) for a in records} >= {("FHIR", "BOOKED")}
    events = await pool.fetch(
        "SELECT type FROM events WHERE account_id = $1 ORDER BY id", partner.account_id
    )
    assert "appointment.created" in {e["type"] for e in events}
    # reminders are armed by the same booking path (a reminder already past is skipped)
    reminders = await pool.fetch(
        "SELECT channel, status FROM appointment_reminders WHERE appointment_id = $1",
        int(appointment["id"]),
    )
    assert reminders and {r["status"] for r in reminders} <= {"SCHEDULED", "SKIPPED"}
    while await fan_out(pool, settings):  # other tests' events may come first
        pass
    deliveries = await pool.fetchval(
        "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1", hook["id"]
    )
    assert deliveries == 1
    partner_url = f"/location/{practice.location_ids[0]}/appointment/{appointment['id']}"
    partner_view = await partner.get(partner_url)
    assert partner_view.status_code == 200
    # booked through the FHIR facade, and the location-appointment list says so
    assert partner_view.json()["source"] == "FHIR"
    assert partner_view.json()["statusHistory"][0]["by"] == "partner"

    # cancel via $book: the slot is offered again
    cancelled = await operation(
        partner,
        "book",
        parameters(
            ("appointment-resource", "resource", {**appointment, "status": "cancelled"}),
            ("comment", "valueString", "Patient called"),
        ),
    )
    assert cancelled.status_code == 200, cancelled.text
    assert entries(cancelled.json())[0]["status"] == "cancelled"
    assert chosen["start"] in {a["start"] for a in await proposals(partner)}
    types = [
        e["type"]
        for e in await pool.fetch(
            "SELECT type FROM events WHERE account_id = $1 ORDER BY id", partner.account_id
        )
    ]
    assert "appointment.cancelled" in types
    # the comment is the cancellation's reason, on its statusHistory entry
    history = (await partner.get(partner_url)).json()["statusHistory"]
    assert [(h["status"], h["reason"]) for h in history] == [
        ("SCHEDULED", None), ("CANCELLED", "Patient called"),
    ]  # fmt: skip
    disarmed = await pool.fetch(
        "SELECT status FROM appointment_reminders WHERE appointment_id = $1",
        int(appointment["id"]),
    )
    assert {r["status"] for r in disarmed} <= {"CANCELLED", "SKIPPED"}


async def test_a_conflict_is_409_with_alternatives_that_can_be_booked(partner):
    await build_practice(partner)
    chosen = (await proposals(partner))[0]
    first = await operation(
        partner,
        "book",
        parameters(
            ref("appointment-reference", chosen["id"]), ("patient-resource", "resource", PATIENT)
        ),
    )
    assert first.status_code == 201
    again = await operation(partner, "hold", parameters(ref("appointment-reference", chosen["id"])))
    assert again.status_code == 409 and issue_code(again) == "slot_unavailable"
    outcome = again.json()
    contained = outcome["contained"]
    assert 1 <= len(contained) <= 3 and all(a["status"] == "proposed" for a in contained)
    assert [e["valueReference"]["reference"] for e in outcome["issue"][0]["extension"]] == [
        f"#{a['id']}" for a in contained
    ]
    # an alternative goes straight back as the appointment-resource, with status pending
    alternative = {**contained[0], "status": "pending"}
    alternative.pop("id")
    booked = await operation(
        partner,
        "book",
        parameters(
            ("appointment-resource", "resource", alternative),
            ("patient-resource", "resource", PATIENT),
        ),
    )
    assert booked.status_code == 201, booked.text
    assert entries(booked.json())[0]["start"] == contained[0]["start"]


async def test_book_moves_an_appointment_to_a_new_start(partner, pool):
    await build_practice(partner)
    found = await proposals(partner)
    booked = await operation(
        partner,
        "book",
        parameters(
            ref("appointment-reference", found[0]["id"]), ("patient-resource", "resource", PATIENT)
        ),
    )
    appointment = entries(booked.json())[0]
    target = found[3]["start"]
    moved = await operation(
        partner,
        "book",
        parameters(("appointment-resource", "resource", {**appointment, "start": target})),
    )
    assert moved.status_code == 200, moved.text
    assert entries(moved.json())[0]["id"] == appointment["id"]
    assert entries(moved.json())[0]["start"] == target
    events = [
        r["type"]
        for r in await pool.fetch(
            "SELECT type FROM events WHERE account_id = $1 ORDER BY id", partner.account_id
        )
    ]
    assert "appointment.rescheduled" in events


async def test_book_replays_with_the_same_idempotency_key(partner, pool):
    await build_practice(partner)
    chosen = (await proposals(partner))[0]
    body = parameters(
        ref("appointment-reference", chosen["id"]), ("patient-resource", "resource", PATIENT)
    )
    first = await operation(partner, "book", body, headers={"Idempotency-Key": "ehr-book-1"})
    second = await operation(partner, "book", body, headers={"Idempotency-Key": "ehr-book-1"})
    assert first.status_code == second.status_code == 201
    assert second.headers.get("idempotent-replayed") == "true"
    assert second.json() == first.json()
    other = parameters(ref("appointment-reference", chosen["id"]))
    reused = await operation(partner, "book", other, headers={"Idempotency-Key": "ehr-book-1"})
    assert reused.status_code == 422 and issue_code(reused) == "idempotency_key_reused"
    count = await pool.fetchval(
        "SELECT count(*) FROM appointments WHERE account_id = $1", partner.account_id
    )
    assert count == 1


async def test_twenty_ehrs_booking_one_slot_get_exactly_one_booking(partner, pool):
    await build_practice(partner)
    chosen = (await proposals(partner))[0]
    patient_id = await pool.fetchval(
        "INSERT INTO patients (account_id, first_name, last_name, date_of_birth)"
        " VALUES ($1, 'Ada', 'Okafor', '1979-11-02') RETURNING id",
        partner.account_id,
    )
    # the patient named as a participant of the appointment resource
    resource = {
        **{k: chosen[k] for k in ("resourceType", "id", "start", "end", "slot")},
        "status": "pending",
        "participant": [{"actor": {"reference": f"Patient/{patient_id}"}, "status": "accepted"}],
    }
    body = parameters(("appointment-resource", "resource", resource))
    responses = await asyncio.gather(*(operation(partner, "book", body) for _ in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19, statuses
    assert {issue_code(r) for r in responses if r.status_code == 409} == {"slot_unavailable"}
    live = await pool.fetchval(
        "SELECT count(*) FROM appointments WHERE account_id = $1 AND status = 'SCHEDULED'",
        partner.account_id,
    )
    assert live == 1


def next_spring_forward(zone: ZoneInfo) -> date:
    """The next day whose local midnight and next midnight are 23 hours apart."""
    day = datetime.now(zone).date() + timedelta(days=2)
    while True:
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        following = start + timedelta(days=1)
        if (following.astimezone(UTC) - start.astimezone(UTC)) == timedelta(hours=23):
            return day
        day += timedelta(days=1)


async def test_dst_day_matches_the_lobbie_shaped_availability(partner):
    zone = ZoneInfo("America/New_York")
    day = next_spring_forward(zone)
    every_night = [{"weekday": d, "start": "00:00", "end": "05:00"} for d in range(7)]
    practice = await build_practice(partner, rules=every_night, forward_days=400, method=None)
    start = datetime(day.year, day.month, day.day, tzinfo=zone)
    end = start + timedelta(days=2)
    found = await operation(partner, "find", find_body(start, end, ("_count", "valueString", "x")))
    assert found.status_code == 400  # _count is a query parameter of $find, not a Parameter
    found = await partner.http.post(
        fhir_url(partner, "/Appointment/$find?_count=100"),
        json=find_body(start, end),
        headers=partner.headers(),
    )
    bundle = valid(found.json())
    fhir_starts = [a["start"] for a in entries(bundle)]
    lobbie = (
        await partner.get(
            "/self-scheduling/availability",
            params={
                "selfSchedulingSettingId": practice.setting_id,
                "startUnix": int(start.timestamp() * 1000),
                "endUnix": int(end.timestamp() * 1000),
                "locationId": practice.location_ids[0],
                "appointmentTypeId": practice.appointment_type_id,
            },
        )
    ).json()
    lobbie_starts = [
        s["startDateTime"] for day_slots in lobbie["slotsByDate"].values() for s in day_slots
    ]
    assert fhir_starts == lobbie_starts
    assert any(s.endswith("-05:00") for s in fhir_starts) and any(
        s.endswith("-04:00") for s in fhir_starts
    )
    assert not any(s[11:13] == "02" for s in fhir_starts if s.startswith(day.isoformat()))


async def test_cancelling_a_hold_gives_the_slot_back(partner, pool):
    await build_practice(partner)
    chosen = (await proposals(partner))[0]
    held = entries(
        (
            await operation(partner, "hold", parameters(ref("appointment-reference", chosen["id"])))
        ).json()
    )[0]
    assert chosen["start"] not in {a["start"] for a in await proposals(partner)}
    released = await operation(
        partner,
        "book",
        parameters(("appointment-resource", "resource", {**held, "status": "cancelled"})),
    )
    assert released.status_code == 200, released.text
    assert entries(released.json())[0]["status"] == "cancelled"
    assert chosen["start"] in {a["start"] for a in await proposals(partner)}
    assert (
        await pool.fetchval("SELECT count(*) FROM holds WHERE account_id = $1", partner.account_id)
        == 0
    )


async def test_a_hold_id_cannot_reach_a_widget_or_partner_attempt(partner, pool):
    """A crafted `hold-{attemptId}-…` id drives only FHIR attempts of the same account."""
    practice = await build_practice(partner)
    attempt = await partner.create(
        "/self-scheduling/attempt", {"selfSchedulingSettingId": practice.setting_id}
    )
    chosen = (await proposals(partner))[0]
    slot = chosen["id"].removeprefix("proposed-")
    crafted = f"hold-{attempt['id']}-{slot}"
    response = await operation(
        partner,
        "book",
        parameters(
            ref("appointment-reference", crafted), ("patient-resource", "resource", PATIENT)
        ),
    )
    assert response.status_code == 404 and issue_code(response) == "not_found"
    status = await pool.fetchval(
        "SELECT status FROM self_scheduling_attempts WHERE id = $1", attempt["id"]
    )
    assert status == "STARTED"


async def test_a_described_patient_is_reused_only_on_an_exact_match_and_never_changed(
    partner, pool
):
    await build_practice(partner)
    found = await proposals(partner)
    existing = await pool.fetchrow(
        "INSERT INTO patients (account_id, first_name, last_name, date_of_birth, email)"
        " VALUES ($1, 'Ada', 'Okafor', '1979-11-02', 'ada@example.com') RETURNING *",
        partner.account_id,
    )

    async def book(proposal: dict, patient: dict) -> str:
        response = await operation(
            partner,
            "book",
            parameters(
                ref("appointment-reference", proposal["id"]),
                ("patient-resource", "resource", patient),
            ),
        )
        assert response.status_code == 201, response.text
        appointment = entries(response.json())[0]
        return next(
            p["actor"]["reference"].split("/")[1]
            for p in appointment["participant"]
            if p["actor"]["reference"].startswith("Patient/")
        )

    assert await book(found[0], PATIENT) == str(existing["id"])  # same name, birth date, email
    other_name = {**PATIENT, "name": [{"family": "Okafor", "given": ["Eve"]}]}
    assert await book(found[1], other_name) != str(existing["id"])
    after = await pool.fetchrow("SELECT * FROM patients WHERE id = $1", existing["id"])
    assert after["mobile_phone"] is None and after["updated_at"] == existing["updated_at"]


async def test_find_pages_through_get_links(partner, client):
    practice = await build_practice(partner, practitioners=2)
    start, end = next_week()
    body = find_body(
        start,
        end,
        (
            "practitioner",
            "valueReference",
            {"reference": f"Practitioner/{practice.practitioner_ids[0]}"},
        ),
        (
            "practitioner",
            "valueReference",
            {"reference": f"Practitioner/{practice.practitioner_ids[1]}"},
        ),
    )
    first = await client.post(
        fhir_url(partner, "/Appointment/$find?_count=5"), json=body, headers=partner.headers()
    )
    bundle = valid(first.json())
    seen = [a["id"] for a in entries(bundle)]
    while next_link := next((x["url"] for x in bundle["link"] if x["relation"] == "next"), None):
        response = await client.get(
            "/" + next_link.split("://", 1)[1].split("/", 1)[1], headers=partner.headers()
        )
        assert response.status_code == 200, response.text
        bundle = valid(response.json())
        seen += [a["id"] for a in entries(bundle)]
    assert len(seen) == len(set(seen)) == bundle["total"]
    everyone = await client.post(
        fhir_url(partner, "/Appointment/$find?_count=100"),
        json=find_body(start, end),
        headers=partner.headers(),
    )
    assert everyone.json()["total"] == bundle["total"]  # both practitioners were asked for
