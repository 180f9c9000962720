"""The partner self-scheduling flow over HTTP, token to confirmation, and its error codes."""

import asyncio
import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest

from app.core import clock
from app.notifications.channels import build_channels
from app.notifications.worker import run_once
from tests.builders import build_practice
from tests.support import last_code, make_partner, problem_code

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # Monday, 07:00 in New York
MONDAY_9 = "2026-03-09T09:00:00-04:00"


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    current = {"now": NOW}
    monkeypatch.setattr(clock, "now", lambda: current["now"])
    return current


def slot_body(practice, start=MONDAY_9, practitioner=0):
    return {
        "appointmentTypeId": practice.appointment_type_id,
        "locationId": practice.location_ids[0],
        "practitionerId": practice.practitioner_ids[practitioner],
        "schedulerConfigId": practice.config_ids[practitioner * len(practice.location_ids)],
        "startDateTime": start,
    }


async def verified_attempt(p, pool, practice, email="ana@example.com"):
    proof = await p.create("/identity-proof", {"verificationMethod": "email"})
    attempt = await p.create(
        "/self-scheduling/attempt",
        {"selfSchedulingSettingId": practice.setting_id, "identityProofId": proof["id"]},
    )
    assert (await p.post(f"/identity-proof/{proof['id']}/send", json={"email": email})).json() == {
        "sent": True
    }
    code = await last_code(pool, p.account_id)
    r = await p.post(f"/identity-proof/{proof['id']}/verify", json={"code": code, "email": email})
    assert r.json()["verified"] is True, r.text
    return attempt["id"], proof["id"]


PATIENT = {"firstName": "Ana", "lastName": "Núñez", "dateOfBirth": "1984-05-06"}


async def test_the_whole_partner_flow(partner, pool, settings, outbox_dir):
    practice = await build_practice(partner)
    email = f"ana.{partner.account_id}@example.com"  # unique in the shared file outbox
    attempt_id, proof_id = await verified_attempt(partner, pool, practice, email=email)
    base = f"/self-scheduling/attempt/{attempt_id}"

    attempt = (await partner.get(base)).json()
    assert attempt["status"] == "VERIFIED" and attempt["isVerified"] is True
    assert attempt["identityProofId"] == proof_id
    assert "patientId" not in attempt and "appointmentId" not in attempt

    hold = await partner.post(f"{base}/hold", json=slot_body(practice))
    assert hold.status_code == 201, hold.text
    assert hold.json()["expiresAt"].startswith("2026-03-02T12:10:00")

    patient = await partner.post(f"{base}/patient", json=PATIENT)
    assert patient.status_code == 201, patient.text
    assert patient.json() == {
        "id": patient.json()["id"], "firstName": "Ana", "lastName": "Núñez",
        "dateOfBirth": "1984-05-06", "email": email, "mobilePhone": None,
    }  # fmt: skip

    booked = await partner.post(f"{base}/appointment", json=slot_body(practice))
    assert booked.status_code == 201, booked.text
    appointment = booked.json()
    assert appointment == {
        "id": appointment["id"],
        "appointmentTypeId": practice.appointment_type_id,
        "locationId": practice.location_ids[0],
        "practitionerId": practice.practitioner_ids[0],
        "patientId": patient.json()["id"],
        "startDateTime": MONDAY_9,
        "endDateTime": "2026-03-09T09:30:00-04:00",
        "status": "SCHEDULED",
        "telehealth": False,
        "formCount": 0,
        "createdAt": appointment["createdAt"],
    }
    attempt = (await partner.get(base)).json()
    assert attempt["status"] == "BOOKED"
    assert attempt["appointmentId"] == appointment["id"]
    assert attempt["patientId"] == patient.json()["id"]
    assert [s["step"] for s in attempt["steps"]] == [
        "STARTED", "CODE_SENT", "VERIFIED", "SLOT_SELECTED", "PATIENT_SET", "BOOKED",
    ]  # fmt: skip
    row = await pool.fetchrow(
        "SELECT generated_from_type, status FROM appointments WHERE id = $1", appointment["id"]
    )
    assert (row["generated_from_type"], row["status"]) == ("RULE", "SCHEDULED")
    assert await pool.fetchval("SELECT count(*) FROM holds WHERE attempt_id = $1", attempt_id) == 0
    kinds = await pool.fetch(
        "SELECT type, data FROM events WHERE account_id = $1 ORDER BY id", partner.account_id
    )
    assert [k["type"] for k in kinds] == [
        "attempt.started",
        "attempt.verified",
        "appointment.created",
    ]
    assert kinds[-1]["data"]["appointmentId"] == appointment["id"]

    # the confirmation goes out through the outbox to the verified email, with a manage link
    channels = build_channels(settings)
    while await run_once(pool, settings, channels):
        pass
    files = [json.loads(f.read_text()) for f in outbox_dir.glob("*.json")]
    confirmation = [
        f for f in files if f["purpose"] == "appointment_confirmation" and f["to"] == email
    ]
    assert len(confirmation) == 1
    assert "#manage=mg_" in confirmation[0]["body"]
    assert "Monday, March 9, 2026 at 9:00 AM EDT" in confirmation[0]["body"]

    again = await partner.post(
        f"{base}/appointment", json=slot_body(practice, "2026-03-09T10:00:00-04:00")
    )
    assert again.status_code == 409 and problem_code(again) == "already_booked"


async def test_availability_hides_the_booked_and_held_slots(partner, pool):
    practice = await build_practice(partner, method=None)
    first = await partner.create(
        "/self-scheduling/attempt", {"selfSchedulingSettingId": practice.setting_id}
    )
    assert first["isVerified"] is True  # nothing to verify for this setting
    r = await partner.post(f"/self-scheduling/attempt/{first['id']}/hold", json=slot_body(practice))
    assert r.status_code == 201, r.text
    start = datetime(2026, 3, 9, 4, 0, tzinfo=UTC)
    r = await partner.get(
        "/self-scheduling/availability",
        params={
            "selfSchedulingSettingId": practice.setting_id, "locationId": practice.location_ids[0],
            "appointmentTypeId": practice.appointment_type_id,
            "startUnix": int(start.timestamp() * 1000),
            "endUnix": int((start + timedelta(days=1)).timestamp() * 1000),
        },
    )  # fmt: skip
    times = [s["startDateTime"] for s in r.json()["slotsByDate"]["3/9/2026"]]
    assert MONDAY_9 not in times and len(times) == 5


async def test_a_held_slot_is_refused_to_others_until_it_expires(partner, frozen_clock):
    practice = await build_practice(partner, method=None)
    a = await partner.create(
        "/self-scheduling/attempt", {"selfSchedulingSettingId": practice.setting_id}
    )
    b = await partner.create(
        "/self-scheduling/attempt", {"selfSchedulingSettingId": practice.setting_id}
    )
    assert (
        await partner.post(f"/self-scheduling/attempt/{a['id']}/hold", json=slot_body(practice))
    ).status_code == 201
    refused = await partner.post(
        f"/self-scheduling/attempt/{b['id']}/hold", json=slot_body(practice)
    )
    assert refused.status_code == 409 and problem_code(refused) == "slot_unavailable"
    alternatives = refused.json()["alternatives"]
    assert [x["startDateTime"] for x in alternatives] == [
        "2026-03-09T09:30:00-04:00", "2026-03-09T10:00:00-04:00", "2026-03-09T10:30:00-04:00",
    ]  # fmt: skip
    # the holder can re-hold (replacing its own hold) without conflict
    assert (
        await partner.post(f"/self-scheduling/attempt/{a['id']}/hold", json=slot_body(practice))
    ).status_code == 201
    frozen_clock["now"] = NOW + timedelta(minutes=11)  # the hold expired
    later = await partner.post(f"/self-scheduling/attempt/{b['id']}/hold", json=slot_body(practice))
    assert later.status_code == 201, later.text


async def test_attempt_error_codes(partner, client, pool):
    practice = await build_practice(partner)
    sid = practice.setting_id

    wrong_method = await partner.create("/identity-proof", {"verificationMethod": "SMS"})
    r = await partner.post(
        "/self-scheduling/attempt",
        json={"selfSchedulingSettingId": sid, "identityProofId": wrong_method["id"]},
    )
    assert r.status_code == 422 and problem_code(r) == "verification_method_mismatch"

    proof = await partner.create("/identity-proof", {"verificationMethod": "EMAIL"})
    await partner.create(
        "/self-scheduling/attempt", {"selfSchedulingSettingId": sid, "identityProofId": proof["id"]}
    )
    r = await partner.post(
        "/self-scheduling/attempt",
        json={"selfSchedulingSettingId": sid, "identityProofId": proof["id"]},
    )
    assert r.status_code == 409 and problem_code(r) == "proof_already_bound"

    unverified = await partner.create("/self-scheduling/attempt", {"selfSchedulingSettingId": sid})
    assert unverified["isVerified"] is False
    base = f"/self-scheduling/attempt/{unverified['id']}"
    r = await partner.post(f"{base}/patient", json=PATIENT)
    assert r.status_code == 422 and problem_code(r) == "not_verified"
    r = await partner.post(f"{base}/appointment", json=slot_body(practice))
    assert r.status_code == 422 and problem_code(r) == "patient_not_set"

    other = await make_partner(client, pool)
    r = await other.get(base)
    assert r.status_code == 404 and problem_code(r) == "not_found"
    r = await partner.get("/self-scheduling/attempt/987654321")
    assert r.status_code == 404

    r = await partner.put(f"/self-scheduling/setting/{sid}", json={"active": False})
    assert r.status_code == 200
    r = await partner.post("/self-scheduling/attempt", json={"selfSchedulingSettingId": sid})
    assert r.status_code == 422 and problem_code(r) == "setting_inactive"


async def test_slot_request_validation(partner):
    practice = await build_practice(partner, method=None, practitioners=2)
    attempt = await partner.create(
        "/self-scheduling/attempt", {"selfSchedulingSettingId": practice.setting_id}
    )
    base = f"/self-scheduling/attempt/{attempt['id']}"
    assert (
        await partner.post(f"{base}/patient", json={**PATIENT, "email": "a@example.com"})
    ).status_code == 201
    cases = [
        ({"schedulerConfigId": 987654321}, "schedulerConfigId"),
        ({"practitionerId": practice.practitioner_ids[1]}, "practitionerId"),
        ({"appointmentTypeId": 987654321}, "appointmentTypeId"),
        ({"startDateTime": "2026-03-09T09:00:00"}, "startDateTime"),
        ({"startDateTime": "next monday"}, "startDateTime"),
    ]
    for change, field in cases:
        r = await partner.post(f"{base}/appointment", json={**slot_body(practice), **change})
        assert r.status_code == 400, (change, r.text)
        assert problem_code(r) == "validation_failed"
        assert r.json()["errors"][0]["field"] == field, r.json()
    saturday = await partner.post(
        f"{base}/appointment", json=slot_body(practice, "2026-03-07T09:00:00-05:00")
    )
    assert saturday.status_code == 409 and problem_code(saturday) == "slot_unavailable"
    assert len(saturday.json()["alternatives"]) == 3
    off_grid = await partner.post(
        f"{base}/appointment", json=slot_body(practice, "2026-03-09T09:10:00-04:00")
    )
    assert off_grid.status_code == 409


async def test_patient_matching(partner, pool, frozen_clock):
    practice = await build_practice(partner)  # EMAIL: only a verified contact matches
    existing = await pool.fetchval(
        "INSERT INTO patients (account_id, first_name, last_name, date_of_birth, email)"
        " VALUES ($1, 'ANA', 'Nunez', '1984-05-06', 'Ana@Example.com') RETURNING id",
        partner.account_id,
    )

    async def set_patient(body):
        frozen_clock["now"] += timedelta(minutes=3)  # past the per-contact send limits
        attempt_id, _ = await verified_attempt(
            partner, pool, practice, email=body.get("email", "x@example.com")
        )
        return await partner.post(f"/self-scheduling/attempt/{attempt_id}/patient", json=body)

    matched = await set_patient({**PATIENT, "email": "ana@example.com"})
    assert matched.status_code == 200, matched.text
    assert matched.json()["id"] == existing
    other_person = await set_patient({**PATIENT, "firstName": "Bea", "email": "ana@example.com"})
    assert other_person.status_code == 201
    await pool.execute(
        "INSERT INTO patients (account_id, first_name, last_name, date_of_birth, email)"
        " VALUES ($1, 'Ana', 'Núñez', '1984-05-06', 'ana@example.com')",
        partner.account_id,
    )
    ambiguous = await set_patient({**PATIENT, "email": "ana@example.com"})
    assert ambiguous.status_code == 422 and problem_code(ambiguous) == "ambiguous_match"
    for bad, field in [
        ({"dateOfBirth": "2999-01-01"}, "dateOfBirth"),
        ({"dateOfBirth": "1800-01-01"}, "dateOfBirth"),
        ({"firstName": "   "}, "firstName"),
    ]:
        r = await set_patient({**PATIENT, "email": "x@example.com", **bad})
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["errors"][0]["field"] == field

    open_setting = await build_practice(partner, method=None)
    attempt = await partner.create(
        "/self-scheduling/attempt", {"selfSchedulingSettingId": open_setting.setting_id}
    )
    base = f"/self-scheduling/attempt/{attempt['id']}/patient"
    bad_email = await partner.post(base, json={**PATIENT, "email": "not-an-email"})
    assert bad_email.status_code == 400 and bad_email.json()["errors"][0]["field"] == "email"
    assert "not-an-email" not in bad_email.text
    missing = await partner.post(base, json=PATIENT)
    assert missing.status_code == 400


async def test_fifty_concurrent_bookings_of_one_slot(partner, pool):
    practice = await build_practice(partner, method=None)
    attempts = []
    for i in range(50):
        a = await partner.create(
            "/self-scheduling/attempt", {"selfSchedulingSettingId": practice.setting_id}
        )
        r = await partner.post(
            f"/self-scheduling/attempt/{a['id']}/patient",
            json={**PATIENT, "email": f"p{i}@example.com"},
        )
        assert r.status_code == 201
        attempts.append(a["id"])
    responses = await asyncio.gather(
        *(
            partner.post(f"/self-scheduling/attempt/{a}/appointment", json=slot_body(practice))
            for a in attempts
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1 and statuses.count(409) == 49, statuses
    assert all(problem_code(r) == "slot_unavailable" for r in responses if r.status_code == 409)
    count = await pool.fetchval(
        "SELECT count(*) FROM appointments WHERE account_id = $1 AND status = 'SCHEDULED'",
        partner.account_id,
    )
    assert count == 1


async def test_concurrent_overlapping_bookings_with_buffers(partner, pool):
    practice = await build_practice(partner, method=None, interval=15, buffers=(5, 10))
    starts = [
        f"2026-03-09T{t}:00-04:00" for t in ("09:00", "09:15", "09:30", "09:45", "10:00", "10:15")
    ]
    attempts = []
    for i in range(len(starts) * 5):
        a = await partner.create(
            "/self-scheduling/attempt", {"selfSchedulingSettingId": practice.setting_id}
        )
        await partner.post(
            f"/self-scheduling/attempt/{a['id']}/patient",
            json={**PATIENT, "email": f"q{i}@example.com"},
        )
        attempts.append(a["id"])
    responses = await asyncio.gather(
        *(
            partner.post(
                f"/self-scheduling/attempt/{a}/appointment",
                json=slot_body(practice, starts[i % len(starts)]),
            )
            for i, a in enumerate(attempts)
        )
    )
    assert {r.status_code for r in responses} <= {201, 409}
    rows = await pool.fetch(
        "SELECT blocked_from, blocked_until FROM appointments WHERE account_id = $1"
        " AND status = 'SCHEDULED' ORDER BY blocked_from",
        partner.account_id,
    )
    assert len(rows) == sum(r.status_code == 201 for r in responses) >= 2
    for before, after in itertools.pairwise(rows):
        assert before["blocked_until"] <= after["blocked_from"]
