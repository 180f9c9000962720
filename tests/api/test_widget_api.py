"""The widget's JSON API: publishable key + attempt token, over the same services."""

from datetime import UTC, datetime, timedelta

from tests.builders import build_practice
from tests.support import Widget, frozen_clock_at, last_code, problem_code

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


frozen_clock = frozen_clock_at(NOW)


def month_of_march(practice):
    start = datetime(2026, 3, 1, 5, 0, tzinfo=UTC)
    return {
        "startUnix": int(start.timestamp() * 1000),
        "endUnix": int((start + timedelta(days=31)).timestamp() * 1000),
        "locationId": practice.location_ids[0],
        "appointmentTypeId": practice.appointment_type_id,
    }


async def test_widget_booking_flow(partner, client, pool):
    practice = await build_practice(partner)
    widget = Widget(client, practice.publishable_key)

    config = (await widget.get("/config")).json()
    assert config["settingId"] == practice.setting_id
    assert config["verificationMethod"] == "EMAIL"
    assert [loc["id"] for loc in config["locations"]] == practice.location_ids
    assert config["locations"][0]["timeZone"] == "America/New_York"
    assert [p["displayName"] for p in config["practitioners"]] == ["Doc0 Test"]
    assert config["appointmentTypes"][0]["durationMinutes"] == 30

    started = await widget.post("/attempt")
    assert started.status_code == 201, started.text
    body = started.json()
    assert body["attemptToken"].startswith("at_")
    assert body["attempt"]["status"] == "STARTED"
    assert body["attempt"]["missingVerifications"] == ["EMAIL"]
    widget.token = body["attemptToken"]

    slots = (await widget.get("/availability", params=month_of_march(practice))).json()
    first_day = next(iter(slots["slotsByDate"]))
    slot = slots["slotsByDate"][first_day][0]
    assert first_day == "3/2/2026" and slot["startDateTime"] == "2026-03-02T09:00:00-05:00"
    request = {
        "appointmentTypeId": practice.appointment_type_id,
        "locationId": practice.location_ids[0],
        "practitionerId": practice.practitioner_ids[0],
        "schedulerConfigId": slot["practitionerToConfig"][str(practice.practitioner_ids[0])],
        "startDateTime": slot["startDateTime"],
    }
    early = await widget.post("/attempt/hold", json=request)  # no code sent yet: no hold
    assert early.status_code == 409 and problem_code(early) == "code_not_sent"

    assert (await widget.post("/attempt/send-code", json={"email": "pat@example.com"})).json() == {
        "sent": True
    }
    held = await widget.post("/attempt/hold", json=request)
    assert held.status_code == 201, held.text
    assert held.json()["expiresAt"].startswith("2026-03-02T12:03:00")  # unverified: 3 minutes
    wrong = await widget.post(
        "/attempt/verify-code", json={"code": "000000", "email": "pat@example.com"}
    )
    code = await last_code(pool, partner.account_id)
    if code == "000000":  # one in a million: pick another wrong code
        wrong = await widget.post(
            "/attempt/verify-code", json={"code": "111111", "email": "pat@example.com"}
        )
    assert wrong.json() == {"verified": False, "missingVerifications": ["EMAIL"], "triesLeft": 4}
    ok = await widget.post("/attempt/verify-code", json={"code": code, "email": "pat@example.com"})
    assert ok.json() == {"verified": True, "missingVerifications": [], "triesLeft": None}

    patient = await widget.post(
        "/attempt/patient",
        json={"firstName": "Pat", "lastName": "Lee", "dateOfBirth": "1990-02-03"},
    )
    assert patient.status_code == 201, patient.text
    assert patient.json()["email"] == "pat@example.com"

    booked = await widget.post("/attempt/appointment", json=request)
    assert booked.status_code == 201, booked.text
    result = booked.json()
    assert result["appointment"]["startDateTime"] == "2026-03-02T09:00:00-05:00"
    assert result["manageToken"].startswith("mg_")
    assert (
        result["manageUrl"]
        == f"http://127.0.0.1:8000/widget/v1/frame#manage={result['manageToken']}"
    )

    steps = [s["step"] for s in (await widget.get("/attempt")).json()["steps"]]
    assert steps == [
        "STARTED", "AVAILABILITY_VIEWED", "CODE_SENT", "SLOT_SELECTED", "VERIFIED",
        "PATIENT_SET", "BOOKED",
    ]  # fmt: skip
    source = await pool.fetchval(
        "SELECT source FROM self_scheduling_attempts WHERE appointment_id = $1",
        result["appointment"]["id"],
    )
    assert source == "WIDGET"

    managed = await client.get(f"/widget/v1/manage/{result['manageToken']}")
    assert managed.status_code == 200, managed.text
    shown = managed.json()
    assert shown["appointment"]["id"] == result["appointment"]["id"]
    assert shown["location"]["name"] == "Site 0"
    assert shown["practitioner"]["displayName"] == "Doc0 Test"
    assert shown["canCancel"] is True and shown["settingPublishableKey"] == practice.publishable_key

    # the link offers only what the cancel and reschedule calls would allow the patient
    appointment_id = result["appointment"]["id"]
    checked_in = await partner.put(
        f"/location/{practice.location_ids[0]}/appointment/{appointment_id}",
        json={"status": "CHECKED_IN"},
    )
    assert checked_in.status_code == 200, checked_in.text
    shown = (await client.get(f"/widget/v1/manage/{result['manageToken']}")).json()
    assert (shown["canCancel"], shown["canReschedule"]) == (False, False)
    refused = await client.post(f"/widget/v1/manage/{result['manageToken']}/cancel")
    assert refused.status_code == 409


async def test_widget_auth_errors(partner, client):
    practice = await build_practice(partner)
    no_key = await client.get("/widget/v1/config")
    assert no_key.status_code == 401 and problem_code(no_key) == "invalid_widget_key"
    bad_key = await client.get("/widget/v1/config", headers={"X-Widget-Key": "pk_nope"})
    assert bad_key.status_code == 401
    widget = Widget(client, practice.publishable_key)
    no_attempt = await widget.post("/attempt/send-code", json={"email": "a@example.com"})
    assert no_attempt.status_code == 401 and problem_code(no_attempt) == "invalid_attempt_token"
    widget.token = "at_forged"
    forged = await widget.post("/attempt/hold", json={})
    assert forged.status_code in (400, 401)
    forged = await widget.get("/attempt")
    assert forged.status_code == 401

    # a token of one setting does not work with another setting's key
    other = await build_practice(partner)
    widget.key, widget.token = other.publishable_key, None
    token = (await widget.post("/attempt")).json()["attemptToken"]
    widget.key, widget.token = practice.publishable_key, token
    assert (await widget.get("/attempt")).status_code == 401

    unknown_link = await client.get("/widget/v1/manage/mg_doesnotexist")
    assert unknown_link.status_code == 404 and problem_code(unknown_link) == "not_found"


async def test_widget_inactive_setting(partner, client):
    practice = await build_practice(partner)
    await partner.put(f"/self-scheduling/setting/{practice.setting_id}", json={"active": False})
    r = await client.get("/widget/v1/config", headers={"X-Widget-Key": practice.publishable_key})
    assert r.status_code == 422 and problem_code(r) == "setting_inactive"
