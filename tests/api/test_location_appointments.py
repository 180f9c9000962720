"""Location-scoped appointments in Lobbie's shape: fields, filters, sort, unknown parameters,
direct bookings (`POST /location/{locationId}/appointment`) and status-change events."""

from datetime import UTC, datetime

from app.partners.scopes import SCHEDULING
from app.partners.store import create_client
from tests.builders import build_practice, insert_appointment
from tests.support import fetch_token, frozen_clock_at, make_partner, problem_code

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # Monday, 07:00 in New York (EST)
MONDAY_9 = "2026-03-09T09:00:00-04:00"


frozen_clock = frozen_clock_at(NOW)


async def new_patient(pool, account_id, email="lobbie@patients.example"):
    return await pool.fetchval(
        "INSERT INTO patients (account_id, first_name, last_name, date_of_birth, email)"
        " VALUES ($1, 'Lee', 'Lobbie', '1980-02-03', $2) RETURNING id",
        account_id,
        email,
    )


def direct_body(practice, patient_id, start=MONDAY_9, **extra):
    return {
        "patientId": patient_id,
        "appointmentTypeId": practice.appointment_type_id,
        "practitionerId": practice.practitioner_ids[0],
        "startTime": start,
        **extra,
    }


def url(practice, appointment_id=None):
    base = f"/location/{practice.location_ids[0]}/appointment"
    return base if appointment_id is None else f"{base}/{appointment_id}"


async def event_rows(pool, account_id, *types):
    return await pool.fetch(
        "SELECT type, data FROM events WHERE account_id = $1 AND type = ANY($2::text[])"
        " ORDER BY id",
        account_id,
        list(types),
    )


async def test_direct_booking_in_lobbie_shape(partner, pool):
    practice = await build_practice(partner, method=None)
    patient = await new_patient(pool, partner.account_id)
    r = await partner.post(url(practice), json=direct_body(practice, patient, note="Fasting"))
    assert r.status_code == 201, r.text
    shown = r.json()
    assert shown["startTime"] == MONDAY_9 and shown["endTime"] == "2026-03-09T09:30:00-04:00"
    assert shown["durationMinutes"] == 30 and shown["note"] == "Fasting"
    assert (shown["status"], shown["source"], shown["patientId"]) == (
        "SCHEDULED", "PARTNER", patient,
    )  # fmt: skip
    assert shown["locationId"] == practice.location_ids[0]
    assert shown["telehealth"] is False and shown["formCount"] == 0
    assert [(h["status"], h["by"]) for h in shown["statusHistory"]] == [("SCHEDULED", "partner")]
    assert shown["updatedAt"] and shown["createdAt"]
    # the same path as every booking: the slot is taken, the patient told, partners notified
    again = await partner.post(url(practice), json=direct_body(practice, patient))
    assert again.status_code == 409 and problem_code(again) == "slot_unavailable"
    assert again.json()["alternatives"][0]["startDateTime"] == "2026-03-09T09:30:00-04:00"
    created = await event_rows(pool, partner.account_id, "appointment.created")
    assert [(e["data"]["appointmentId"], e["data"]["source"]) for e in created] == [
        (shown["id"], "PARTNER")
    ]
    sent = await pool.fetchval(
        "SELECT count(*) FROM notifications WHERE account_id = $1"
        " AND purpose = 'appointment_confirmation'",
        partner.account_id,
    )
    assert sent == 1
    # read back through get and list
    one = await partner.get(url(practice, shown["id"]))
    assert one.status_code == 200 and one.json() == shown
    listed = await partner.get(url(practice))
    assert listed.json()["appointments"] == [shown]
    # startDateTime is accepted as Lobbie's attempt flow spells it
    r = await partner.post(
        url(practice), json=direct_body(practice, patient, start=None)
        | {"startDateTime": "2026-03-09T10:00:00-04:00"},
    )  # fmt: skip
    assert r.status_code == 201 and r.json()["startTime"] == "2026-03-09T10:00:00-04:00", r.text


async def test_direct_booking_is_rechecked_and_override_never_double_books(partner, client, pool):
    practice = await build_practice(partner, method=None)
    patient = await new_patient(pool, partner.account_id)
    evening = "2026-03-09T19:00:00-04:00"  # outside the 09:00-12:00 rules
    r = await partner.post(url(practice), json=direct_body(practice, patient, start=evening))
    assert r.status_code == 409 and problem_code(r) == "slot_unavailable"

    # overrideAvailability needs the config scope
    async with pool.acquire() as conn:
        client_id, secret = await create_client(
            conn, "front desk", [SCHEDULING], [partner.account_id]
        )
    scheduling_only = await fetch_token(client, client_id, secret)
    body = direct_body(practice, patient, start=evening, overrideAvailability=True)
    r = await partner.post(url(practice), json=body, token=scheduling_only)
    assert r.status_code == 403 and problem_code(r) == "forbidden"

    r = await partner.post(url(practice), json=body)
    assert r.status_code == 201, r.text
    assert r.json()["startTime"] == evening
    # even an override cannot book the practitioner twice (the database constraint holds)
    r = await partner.post(
        url(practice), json=direct_body(practice, patient, start="2026-03-09T19:15:00-04:00",
                                        overrideAvailability=True),
    )  # fmt: skip
    assert r.status_code == 409 and problem_code(r) == "slot_unavailable"
    count = await pool.fetchval(
        "SELECT count(*) FROM appointments WHERE practitioner_id = $1",
        practice.practitioner_ids[0],
    )
    assert count == 1


async def test_direct_booking_refusals(partner, client, pool):
    practice = await build_practice(partner, method=None)
    patient = await new_patient(pool, partner.account_id)
    other = await make_partner(client, pool)
    strangers_patient = await new_patient(pool, other.account_id)
    for body, status, field in [
        (direct_body(practice, strangers_patient), 404, None),
        (direct_body(practice, patient) | {"practitionerId": 987654321}, 404, None),
        (direct_body(practice, patient) | {"appointmentTypeId": 987654321}, 404, None),
        (direct_body(practice, patient) | {"schedulerConfigId": 987654321}, 404, None),
        ({k: v for k, v in direct_body(practice, patient).items() if k != "startTime"}, 400,
         "startTime"),
        (direct_body(practice, patient, start="2026-03-09T09:00:00"), 400, "startTime"),
        (direct_body(practice, patient, note="x" * 2001), 400, "note"),
    ]:  # fmt: skip
        r = await partner.post(url(practice), json=body)
        assert r.status_code == status, (body, r.text)
        if field:
            assert r.json()["errors"][0]["field"] == field, r.json()
    r = await other.post(url(practice), json=direct_body(practice, strangers_patient))
    assert r.status_code == 404
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM appointments WHERE account_id = $1", partner.account_id
        )
        == 0
    )


async def test_filters_sort_and_cursor(partner, pool):
    practice = await build_practice(partner, method=None, practitioners=2)
    ny = practice.location_ids[0]
    p0, p1 = practice.practitioner_ids

    async def insert(practitioner, start):
        return await insert_appointment(
            pool, practice, practitioner_id=practitioner, location_id=ny,
            start=datetime.fromisoformat(start),
        )  # fmt: skip

    # inserted out of time order: ids do not follow start times
    late = await insert(p0, "2026-03-11T09:00:00-04:00")
    early = await insert(p1, "2026-03-09T09:00:00-04:00")
    middle = await insert(p0, "2026-03-10T09:00:00-04:00")

    async def ids(**params):
        r = await partner.get(url(practice), params=params)
        assert r.status_code == 200, r.text
        return [a["id"] for a in r.json()["appointments"]]

    assert await ids() == [early, middle, late]  # by start time by default
    assert await ids(sortDir="DESC") == [late, middle, early]
    assert await ids(sortBy="CREATED_DATE") == [late, early, middle]
    assert await ids(sortBy="CREATED_DATE", sortDir="DESC") == [middle, early, late]
    assert await ids(startDate="2030-01-01") == []  # Lobbie's filters are honoured
    assert await ids(startDate="2026-03-10") == [middle, late]  # a date: midnight at the location
    assert await ids(startDate="2026-03-10", endDate="2026-03-11") == [middle]
    assert await ids(endDate="2026-03-10T09:00:00-04:00") == [early]
    assert await ids(appointmentTypeId=practice.appointment_type_id) == [early, middle, late]
    assert await ids(appointmentTypeId=987654321) == []

    for order in ({}, {"sortDir": "DESC"}, {"sortBy": "CREATED_DATE", "sortDir": "DESC"}):
        seen, cursor = [], None
        while True:
            params = {"limit": 1, **order, **({"cursor": cursor} if cursor else {})}
            page = (await partner.get(url(practice), params=params)).json()
            seen += [a["id"] for a in page["appointments"]]
            if not (cursor := page["nextCursor"]):
                break
        assert seen == await ids(**order), order
    # a cursor belongs to its order
    first = (await partner.get(url(practice), params={"limit": 1})).json()
    r = await partner.get(url(practice), params={"cursor": first["nextCursor"], "sortDir": "DESC"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "cursor"

    for params, field in [
        ({"sortBy": "NAME"}, "sortBy"),
        ({"sortDir": "UP"}, "sortDir"),
        ({"startDate": "next week"}, "startDate"),
        ({"startdate": "2026-03-09"}, "startdate"),  # misspelt: refused, never ignored
        ({"from": "2026-03-09"}, "from"),
    ]:
        r = await partner.get(url(practice), params=params)
        assert r.status_code == 400 and problem_code(r) == "validation_failed", (params, r.text)
        assert r.json()["errors"][0]["field"] == field, r.json()


async def test_unknown_query_parameters_are_refused_everywhere(partner):
    practice = await build_practice(partner, method=None)
    for path in ("/location", f"/self-scheduling/setting/{practice.setting_id}", "/practitioner"):
        r = await partner.get(path, params={"bogus": "1"})
        assert r.status_code == 400 and r.json()["errors"] == [
            {"field": "bogus", "message": "unknown query parameter"}
        ], (path, r.text)
    r = await partner.http.get(
        "/widget/v1/config", params={"bogus": "1"},
        headers={"X-Widget-Key": practice.publishable_key},
    )  # fmt: skip
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "bogus"
    assert (await partner.http.get("/healthz", params={"x": "1"})).status_code == 400


async def test_status_changes_are_recorded_and_announced(partner, pool):
    practice = await build_practice(partner, method=None)
    patient = await new_patient(pool, partner.account_id)
    booked = (await partner.post(url(practice), json=direct_body(practice, patient))).json()
    r = await partner.put(url(practice, booked["id"]), json={"status": "CONFIRMED"})
    assert r.status_code == 200, r.text
    confirmed = r.json()
    r = await partner.put(url(practice, booked["id"]), json={"status": "CANCELLED"})
    cancelled = r.json()
    assert [(h["status"], h["by"]) for h in cancelled["statusHistory"]] == [
        ("SCHEDULED", "partner"), ("CONFIRMED", "partner"), ("CANCELLED", "partner"),
    ]  # fmt: skip
    assert cancelled["statusHistory"][1]["at"] == NOW.isoformat().replace("+00:00", "Z")
    assert confirmed["updatedAt"] >= booked["updatedAt"]
    rows = await event_rows(
        pool, partner.account_id,
        "appointment.status_changed", "appointment.confirmed", "appointment.cancelled",
    )  # fmt: skip
    assert [(e["type"], e["data"]["status"], e["data"].get("previousStatus")) for e in rows] == [
        ("appointment.status_changed", "CONFIRMED", "SCHEDULED"),
        ("appointment.confirmed", "CONFIRMED", "SCHEDULED"),
        ("appointment.cancelled", "CANCELLED", "CONFIRMED"),
        ("appointment.status_changed", "CANCELLED", "CONFIRMED"),
    ]
    assert all(e["data"]["appointmentId"] == booked["id"] for e in rows)
    # a note alone is no status change
    await partner.put(url(practice, booked["id"]), json={"note": "late"})
    assert len(await event_rows(pool, partner.account_id, "appointment.status_changed")) == 2
