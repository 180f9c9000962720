"""Random sequences of attempt calls over HTTP never leave an attempt in an invalid state.

Each sequence is drawn from a seeded generator (reproducible: the seed is in the test id).
After every call the attempt's status and recorded steps must replay through the pure state
machine, every call must answer below 500, and a BOOKED attempt must own exactly one live
appointment.
"""

import random
from datetime import UTC, datetime

import pytest

from app.attempts.machine import State, Step, is_valid_history
from tests.builders import build_practice
from tests.support import frozen_clock_at, last_code

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ACTIONS = ["send", "verify_right", "verify_wrong", "hold", "patient", "book", "attach_again"]
SLOTS = ["2026-03-09T09:00:00-04:00", "2026-03-09T09:30:00-04:00", "2026-03-07T09:00:00-05:00"]


frozen_clock = frozen_clock_at(NOW)


@pytest.fixture
async def practice(partner):
    return await build_practice(partner)


@pytest.mark.parametrize("seed", range(12))
async def test_random_attempt_sequences(partner, pool, practice, seed):
    rng = random.Random(seed)
    proof = await partner.create("/identity-proof", {"verificationMethod": "EMAIL"})
    attempt = await partner.create(
        "/self-scheduling/attempt",
        {"selfSchedulingSettingId": practice.setting_id, "identityProofId": proof["id"]},
    )
    base = f"/self-scheduling/attempt/{attempt['id']}"
    email = f"seq{seed}.{partner.account_id}@example.com"
    for _ in range(rng.randint(3, 14)):
        action = rng.choice(ACTIONS)
        slot = {
            "appointmentTypeId": practice.appointment_type_id,
            "locationId": practice.location_ids[0],
            "practitionerId": practice.practitioner_ids[0],
            "schedulerConfigId": practice.config_ids[0],
            "startDateTime": rng.choice(SLOTS),
        }
        if action == "send":
            r = await partner.post(f"/identity-proof/{proof['id']}/send", json={"email": email})
        elif action in ("verify_right", "verify_wrong"):
            code = await last_code(pool, partner.account_id)
            if code is None or action == "verify_wrong":
                code = "999999" if code != "999999" else "888888"
            r = await partner.post(
                f"/identity-proof/{proof['id']}/verify", json={"code": code, "email": email}
            )
        elif action == "hold":
            r = await partner.post(f"{base}/hold", json=slot)
        elif action == "patient":
            r = await partner.post(
                f"{base}/patient",
                json={"firstName": "Seq", "lastName": "Uence", "dateOfBirth": "1970-01-01"},
            )
        elif action == "book":
            r = await partner.post(f"{base}/appointment", json=slot)
        else:
            r = await partner.put(f"{base}/identity-proof", json={"identityProofId": proof["id"]})
        assert r.status_code < 500, (action, r.text)

        current = (await partner.get(base)).json()
        steps = [Step(s["step"]) for s in current["steps"]]
        assert is_valid_history(steps), steps
        state = State(current["status"])
        transitions = [s for s in steps if s.value in State.__members__]
        assert state.value == transitions[-1].value
        if state is State.BOOKED:
            live = await pool.fetchval(
                "SELECT count(*) FROM appointments WHERE attempt_id = $1"
                " AND status NOT IN ('CANCELLED', 'RESCHEDULED', 'VOIDED')",
                attempt["id"],
            )
            assert live == 1 and current["appointmentId"]
        if state in (State.PATIENT_SET, State.BOOKED):
            assert current["isVerified"] is True and current["patientId"]
