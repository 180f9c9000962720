"""Lobbie drop-in rules of the attempt flow: Lobbie's status lists (422 -> 400 with the same
code on Lobbie's operations), the patient step refusing only a contradicting contact,
expired proofs, and phones as digits."""

from datetime import UTC, datetime, timedelta

from tests.api.test_booking_flow import verified_attempt
from tests.builders import build_practice
from tests.support import problem_code

PATIENT = {"firstName": "Ana", "lastName": "Núñez", "dateOfBirth": "1984-05-06"}


async def test_lobbie_operations_answer_400_where_we_would_say_422(partner, pool):
    practice = await build_practice(partner)
    await partner.put(f"/self-scheduling/setting/{practice.setting_id}", json={"active": False})
    r = await partner.post(
        "/self-scheduling/attempt", json={"selfSchedulingSettingId": practice.setting_id}
    )
    assert r.status_code == 400 and problem_code(r) == "setting_inactive", r.text
    r = await partner.get(
        "/self-scheduling/availability",
        params={
            "selfSchedulingSettingId": practice.setting_id,
            "startUnix": 1773032400000,
            "endUnix": 1773118800000,
            "locationId": practice.location_ids[0],
            "appointmentTypeId": practice.appointment_type_id,
        },
    )
    assert r.status_code == 400 and problem_code(r) == "setting_inactive", r.text
    # an operation of ours keeps the contract's 422
    widget = await partner.http.post(
        "/widget/v1/attempt", json={}, headers={"X-Widget-Key": practice.publishable_key}
    )
    assert widget.status_code == 422 and problem_code(widget) == "setting_inactive"


async def test_patient_step_refuses_only_a_contradicting_contact(partner, pool):
    practice = await build_practice(partner)
    attempt, _ = await verified_attempt(partner, pool, practice, email="ana@lobbie.example")
    url = f"/self-scheduling/attempt/{attempt}/patient"
    r = await partner.post(url, json={**PATIENT, "email": "someone.else@lobbie.example"})
    assert r.status_code == 400 and problem_code(r) == "contact_not_verified"
    # a phone on an EMAIL-verified attempt contradicts nothing: accepted, but never stored
    r = await partner.post(
        url, json={**PATIENT, "email": "ANA@lobbie.example", "phone": "2025550143"}
    )
    assert r.status_code == 201, r.text
    assert r.json()["mobilePhone"] is None and r.json()["email"] == "ana@lobbie.example"


async def test_an_unverified_phone_never_matches_nor_changes_an_existing_patient(partner, pool):
    practice = await build_practice(partner)
    existing = await pool.fetchval(
        "INSERT INTO patients (account_id, first_name, last_name, date_of_birth, mobile_phone)"
        " VALUES ($1, 'Ana', 'Núñez', '1984-05-06', '+12025550144') RETURNING id",
        partner.account_id,
    )
    attempt, _ = await verified_attempt(partner, pool, practice, email="fresh@lobbie.example")
    r = await partner.post(
        f"/self-scheduling/attempt/{attempt}/patient", json={**PATIENT, "phone": "2025550144"}
    )
    assert r.status_code == 201 and r.json()["id"] != existing, r.text
    row = await pool.fetchrow("SELECT email, mobile_phone FROM patients WHERE id = $1", existing)
    assert tuple(row) == (None, "+12025550144")


async def test_an_expired_proof_cannot_be_bound(partner, pool):
    practice = await build_practice(partner)
    proof = await partner.create("/identity-proof", {"verificationMethod": "EMAIL"})
    past = datetime.now(UTC) - timedelta(minutes=1)
    await pool.execute(
        "UPDATE identity_proofs SET created_at = $2::timestamptz - interval '1 hour',"
        " expires_at = $2"
        " WHERE id = $1",
        proof["id"],
        past,
    )
    r = await partner.post(
        "/self-scheduling/attempt",
        json={"selfSchedulingSettingId": practice.setting_id, "identityProofId": proof["id"]},
    )
    assert r.status_code == 400 and problem_code(r) == "proof_expired", r.text  # Lobbie's 400
    attempt = await partner.create(
        "/self-scheduling/attempt", {"selfSchedulingSettingId": practice.setting_id}
    )
    r = await partner.put(
        f"/self-scheduling/attempt/{attempt['id']}/identity-proof",
        json={"identityProofId": proof["id"]},
    )
    assert r.status_code == 422 and problem_code(r) == "proof_expired"  # ours: the contract's
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM self_scheduling_attempts WHERE identity_proof_id = $1",
            proof["id"],
        )
        == 0
    )


async def test_partner_availability_with_attempt_id_records_the_view(partner, client, pool):
    practice = await build_practice(partner, method=None)
    attempt = await partner.create(
        "/self-scheduling/attempt", {"selfSchedulingSettingId": practice.setting_id}
    )
    params = {
        "selfSchedulingSettingId": practice.setting_id,
        "startUnix": 1773032400000,
        "endUnix": 1773118800000,
        "locationId": practice.location_ids[0],
        "appointmentTypeId": practice.appointment_type_id,
    }
    for _ in range(2):
        r = await partner.get(
            "/self-scheduling/availability", params={**params, "attemptId": attempt["id"]}
        )
        assert r.status_code == 200, r.text
    steps = (await partner.get(f"/self-scheduling/attempt/{attempt['id']}")).json()["steps"]
    assert [s["step"] for s in steps] == ["STARTED", "AVAILABILITY_VIEWED"]  # once
    other = await build_practice(partner, method=None)
    r = await partner.get(
        "/self-scheduling/availability",
        params={**params, "selfSchedulingSettingId": other.setting_id,
                "locationId": other.location_ids[0],
                "appointmentTypeId": other.appointment_type_id, "attemptId": attempt["id"]},
    )  # fmt: skip
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "attemptId"
    r = await partner.get("/self-scheduling/availability", params={**params, "attemptId": 987654})
    assert r.status_code == 404


async def test_a_reused_idempotency_key_is_400_on_lobbie_operations(partner):
    practice = await build_practice(partner, method=None)
    key = {"Idempotency-Key": "lobbie-reuse-1"}
    body = {"selfSchedulingSettingId": practice.setting_id}
    first = await partner.post("/self-scheduling/attempt", json=body, headers=key)
    assert first.status_code == 201
    r = await partner.post(
        "/self-scheduling/attempt", json={**body, "identityProofId": 987654}, headers=key
    )
    assert r.status_code == 400 and problem_code(r) == "idempotency_key_reused"
    assert r.json()["status"] == 400 and r.json()["title"] == "Bad Request"
    assert int(r.headers["content-length"]) == len(r.content)
    # an operation of ours keeps the contract's 422
    hold = f"/self-scheduling/attempt/{first.json()['id']}/hold"
    slot = {"appointmentTypeId": practice.appointment_type_id,
            "locationId": practice.location_ids[0], "practitionerId": practice.practitioner_ids[0],
            "schedulerConfigId": practice.config_ids[0],
            "startDateTime": "2026-03-09T09:00:00-04:00"}  # fmt: skip
    await partner.post(hold, json=slot, headers={"Idempotency-Key": "ours-1"})
    r = await partner.post(
        hold, json={**slot, "startDateTime": "2026-03-09T09:30:00-04:00"},
        headers={"Idempotency-Key": "ours-1"},
    )  # fmt: skip
    assert r.status_code == 422 and problem_code(r) == "idempotency_key_reused"
