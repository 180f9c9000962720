"""A setting without verification must not hand out or change existing patients: its
contacts are whatever the caller typed (API.md, "Self-scheduling attempt")."""

from datetime import UTC, datetime

from tests.builders import build_practice
from tests.support import frozen_clock_at, last_code

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
VICTIM = {"firstName": "Vera", "lastName": "Lind", "dateOfBirth": "1971-02-03"}


frozen_clock = frozen_clock_at(NOW)


async def _patient_step(partner, setting_id, body):
    attempt = await partner.create(
        "/self-scheduling/attempt", {"selfSchedulingSettingId": setting_id}
    )
    return await partner.post(f"/self-scheduling/attempt/{attempt['id']}/patient", json=body)


async def test_an_unverified_patient_step_never_matches_reveals_or_changes_a_patient(partner, pool):
    verified = await build_practice(partner)  # EMAIL verification
    open_setting = await build_practice(partner, method=None)
    email = f"vera.{partner.account_id}@example.com"
    victim = await pool.fetchrow(
        "INSERT INTO patients (account_id, first_name, last_name, date_of_birth, email,"
        " mobile_phone) VALUES ($1, 'Vera', 'Lind', '1971-02-03', $2, NULL) RETURNING *",
        partner.account_id,
        email,
    )

    attacker_phone = "+12025550187"
    typed = f"VERA.{partner.account_id}@example.com"  # another case: same contact key
    sent = {**VICTIM, "email": typed, "phone": attacker_phone}
    answers = [await _patient_step(partner, open_setting.setting_id, sent) for _ in range(2)]
    for answer in answers:
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["id"] != victim["id"]
        # only what was sent comes back (normalised), nothing from the stored record
        assert {k: v for k, v in body.items() if k != "id"} == {
            "firstName": "Vera", "lastName": "Lind", "dateOfBirth": "1971-02-03",
            "email": typed, "mobilePhone": attacker_phone.lstrip("+"),  # partner paths: digits
        }  # fmt: skip
    assert answers[0].json()["id"] != answers[1].json()["id"]  # a new patient every time

    after = await pool.fetchrow("SELECT * FROM patients WHERE id = $1", victim["id"])
    assert dict(after) == dict(victim)  # no phone written into it, not even updated_at

    # the real owner, verifying her email, still gets exactly her own record: the records
    # typed in on the open setting neither match nor make the match ambiguous
    proof = await partner.create("/identity-proof", {"verificationMethod": "EMAIL"})
    attempt = await partner.create(
        "/self-scheduling/attempt",
        {"selfSchedulingSettingId": verified.setting_id, "identityProofId": proof["id"]},
    )
    await partner.post(f"/identity-proof/{proof['id']}/send", json={"email": email})
    code = await last_code(pool, partner.account_id)
    checked = await partner.post(
        f"/identity-proof/{proof['id']}/verify", json={"code": code, "email": email}
    )
    assert checked.json()["verified"] is True
    lookup = await partner.get(f"/identity-proof/{proof['id']}/patient")
    assert lookup.status_code == 200 and lookup.json() == {"patientId": victim["id"]}
    mine = await partner.post(f"/self-scheduling/attempt/{attempt['id']}/patient", json=VICTIM)
    assert mine.status_code == 200, mine.text
    assert mine.json()["id"] == victim["id"] and mine.json()["mobilePhone"] is None


async def test_typed_in_records_are_never_matched_by_a_later_unverified_step(partner, pool):
    """An attacker's record (victim's name, DOB and email, attacker's phone) is not what the
    next caller on the open setting gets back either."""
    open_setting = await build_practice(partner, method=None)
    planted = await _patient_step(
        partner,
        open_setting.setting_id,
        {**VICTIM, "email": "v@example.com", "phone": "+12025550187"},
    )
    again = await _patient_step(
        partner, open_setting.setting_id, {**VICTIM, "email": "v@example.com"}
    )
    assert again.status_code == 201
    assert again.json()["id"] != planted.json()["id"]
    assert again.json()["mobilePhone"] is None
