"""The patient's manage link moves an appointment only within the setting it was booked
through, never into another setting's scheduler config (its hours, rules and limits)."""

from datetime import UTC, datetime

from tests.builders import build_practice
from tests.support import frozen_clock_at, problem_code

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
AFTERNOONS = [{"weekday": d, "start": "13:00", "end": "17:00"} for d in range(5)]


frozen_clock = frozen_clock_at(NOW)


async def widget_booking(client, practice, start):
    key = {"X-Widget-Key": practice.publishable_key}
    started = await client.post("/widget/v1/attempt", headers=key)
    headers = {**key, "Authorization": f"Bearer {started.json()['attemptToken']}"}
    patient = await client.post(
        "/widget/v1/attempt/patient",
        headers=headers,
        json={
            "firstName": "Ola",
            "lastName": "Berg",
            "dateOfBirth": "1980-01-02",
            "email": "o@example.com",
        },
    )
    assert patient.status_code == 201, patient.text
    booked = await client.post(
        "/widget/v1/attempt/appointment",
        headers=headers,
        json={
            "appointmentTypeId": practice.appointment_type_id,
            "locationId": practice.location_ids[0],
            "practitionerId": practice.practitioner_ids[0],
            "schedulerConfigId": practice.config_ids[0],
            "startDateTime": start,
        },
    )
    assert booked.status_code == 201, booked.text
    return booked.json()


async def test_a_manage_link_cannot_move_into_another_settings_config(partner, client, pool):
    practice = await build_practice(partner, method=None)  # mornings only
    doctor = practice.practitioner_ids[0]
    afternoons = await partner.create(
        "/self-scheduling/setting",
        {
            "name": "Staff afternoons",
            "verificationMethod": None,
            "locationIds": practice.location_ids,
            "appointmentTypeIds": [practice.appointment_type_id],
            "practitionerIds": [doctor],
            "forwardBookingLimit": 60,
            "forwardBookingLimitUnit": "DAYS",
        },
    )
    other_config = await partner.create(
        f"/self-scheduling/setting/{afternoons['id']}/scheduler-config",
        {
            "practitionerId": doctor,
            "locationId": practice.location_ids[0],
            "appointmentTypeIds": [practice.appointment_type_id],
            "slotIntervalMinutes": 30,
            "rules": AFTERNOONS,
        },
    )
    booked = await widget_booking(client, practice, "2026-03-09T09:00:00-04:00")
    manage = f"/widget/v1/manage/{booked['manageToken']}"

    moved = await client.post(
        f"{manage}/reschedule",
        json={
            "startDateTime": "2026-03-10T14:00:00-04:00",  # outside the booked setting's hours
            "schedulerConfigId": other_config["id"],
            "practitionerId": doctor,
        },
    )
    assert moved.status_code == 400, moved.text
    assert problem_code(moved) == "validation_failed"
    assert moved.json()["errors"][0]["field"] == "schedulerConfigId"
    row = await pool.fetchrow(
        "SELECT start_at, scheduler_config_id FROM appointments WHERE id = $1",
        booked["appointment"]["id"],
    )
    assert row["start_at"] == datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
    assert row["scheduler_config_id"] == practice.config_ids[0]

    # within its own setting the link still moves it
    ok = await client.post(
        f"{manage}/reschedule",
        json={
            "startDateTime": "2026-03-10T10:00:00-04:00",
            "schedulerConfigId": practice.config_ids[0],
            "practitionerId": doctor,
        },
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["appointment"]["startDateTime"] == "2026-03-10T10:00:00-04:00"
