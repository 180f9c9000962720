"""The server side of the patient's journey through the widget (issue 13): tries left and a
locked proof (bug 3), a "code sent recently" that tells the truth (bug 4), alternatives that
keep the chosen practitioner (bug 5), the config's practitioners per location and booking
horizon (bug 6), an existing upcoming appointment to manage instead (bug 9), and what a
reloaded widget resumes with (bug 10)."""

from datetime import UTC, datetime, timedelta

import pytest

from app.core import clock
from tests.builders import build_practice, first_slot, insert_appointment
from tests.support import Widget, last_code, open_manage_link, problem_code, widget_patient

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # Monday, 07:00 in New York
MONDAY_9 = "2026-03-09T09:00:00-04:00"


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    current = {"now": NOW}
    monkeypatch.setattr(clock, "now", lambda: current["now"])
    return current


async def started(client, practice, lang=None):
    widget = Widget(client, practice.publishable_key)
    body = await widget.post("/attempt", json={"lang": lang} if lang else {})
    assert body.status_code == 201, body.text
    widget.token = body.json()["attemptToken"]
    return widget


async def wrong_code(pool, account_id):
    """A six-digit code that is not the live one."""
    return "000000" if await last_code(pool, account_id) != "000000" else "111111"


async def notifications(pool, account_id):
    return await pool.fetchval(
        "SELECT count(*) FROM notifications WHERE account_id = $1", account_id
    )


async def test_tries_left_then_locked_and_no_useless_code_is_sent(partner, client, pool):
    practice = await build_practice(partner)
    widget = await started(client, practice)
    email = {"email": "tries@example.com"}
    assert (await widget.post("/attempt/send-code", json=email)).status_code == 200
    bad = await wrong_code(pool, partner.account_id)
    left = []
    for _ in range(5):
        answer = await widget.post("/attempt/verify-code", json={"code": bad, **email})
        assert answer.status_code == 200 and answer.json()["verified"] is False
        left.append(answer.json()["triesLeft"])
    assert left == [4, 3, 2, 1, 0]
    right = await last_code(pool, partner.account_id)
    locked = await widget.post("/attempt/verify-code", json={"code": right, **email})
    assert locked.status_code == 429 and problem_code(locked) == "too_many_attempts"
    # a new code could not be used: none is sent (bug 3: "Resend" mailed a locked code)
    before = await notifications(pool, partner.account_id)
    resend = await widget.post("/attempt/send-code", json=email)
    assert resend.status_code == 429 and problem_code(resend) == "too_many_attempts"
    assert resend.json()["retryAfterSeconds"] > 0
    assert await notifications(pool, partner.account_id) == before


async def test_code_sent_recently_says_whose_code_it_is(partner, client, pool):
    practice = await build_practice(partner)
    first, second = await started(client, practice), await started(client, practice)
    email = {"email": "twotabs@example.com"}
    assert (await first.post("/attempt/send-code", json=email)).status_code == 200
    # another tab (or "start over"): the contact's cooldown applies, but that code is not ours
    other = await second.post("/attempt/send-code", json=email)
    assert other.status_code == 429 and problem_code(other) == "send_rate_limited"
    assert other.json()["liveCode"] is False
    own = await first.post("/attempt/send-code", json=email)
    assert own.status_code == 429 and own.json()["liveCode"] is True


async def test_alternatives_keep_the_chosen_practitioner_and_name_others(partner, client, pool):
    practice = await build_practice(partner, practitioners=2, method=None)
    doc1 = practice.practitioner_ids[1]
    await insert_appointment(
        pool,
        practice,
        practitioner_id=doc1,
        location_id=practice.location_ids[0],
        start=datetime.fromisoformat(MONDAY_9),
        config_id=practice.config_ids[1],
    )
    widget = await started(client, practice)
    wanted = {
        **first_slot(practice, MONDAY_9),
        "practitionerId": doc1,
        "schedulerConfigId": practice.config_ids[1],
    }
    taken = await widget.post("/attempt/hold", json=wanted)
    assert taken.status_code == 409 and problem_code(taken) == "slot_unavailable"
    alternatives = taken.json()["alternatives"]
    # Doc0 is free at 9:00 sharp, but the patient chose Doc1: Doc1's nearest times come first
    assert [(a["practitionerId"], a["startDateTime"]) for a in alternatives] == [
        (doc1, "2026-03-09T09:30:00-04:00"),
        (doc1, "2026-03-09T10:00:00-04:00"),
        (doc1, "2026-03-09T10:30:00-04:00"),
    ]
    assert {a["practitionerName"] for a in alternatives} == {"Doc1 Test"}


async def test_alternatives_from_someone_else_are_named(partner, client, pool):
    # Doc0 works only Mondays 9:00-9:30: one slot a week
    practice = await build_practice(
        partner,
        practitioners=1,
        method=None,
        rules=[{"weekday": 0, "start": "09:00", "end": "09:30"}],
    )
    doc0 = practice.practitioner_ids[0]
    doc1 = (await partner.create("/practitioner", {"firstName": "Ben", "lastName": "Okafor"}))["id"]
    await partner.put(
        f"/self-scheduling/setting/{practice.setting_id}",
        json={"practitionerIds": [doc0, doc1]},
    )
    config = await partner.create(
        f"/self-scheduling/setting/{practice.setting_id}/scheduler-config",
        {
            "practitionerId": doc1,
            "locationId": practice.location_ids[0],
            "appointmentTypeIds": [practice.appointment_type_id],
            "slotIntervalMinutes": 30,
            "rules": [{"weekday": 0, "start": "09:00", "end": "10:30"}],
        },
    )
    await insert_appointment(
        pool, practice, practitioner_id=doc0, location_id=practice.location_ids[0],
        start=datetime.fromisoformat(MONDAY_9), config_id=practice.config_ids[0],
    )  # fmt: skip
    widget = await started(client, practice)
    taken = await widget.post("/attempt/hold", json=first_slot(practice, MONDAY_9))
    assert taken.status_code == 409, taken.text
    alternatives = taken.json()["alternatives"]
    # Doc0's only other time within a week comes first, then Ben fills up, named
    assert [(a["practitionerName"], a["startDateTime"]) for a in alternatives] == [
        ("Doc0 Test", "2026-03-02T09:00:00-05:00"),
        ("Ben Okafor", MONDAY_9),
        ("Ben Okafor", "2026-03-09T09:30:00-04:00"),
    ]
    assert {a["schedulerConfigId"] for a in alternatives[1:]} == {config["id"]}


async def test_config_tells_where_practitioners_work_and_the_booking_horizon(partner, client):
    practice = await build_practice(
        partner, zones=("America/New_York", "America/Los_Angeles"), notice_hours=2
    )
    config = (
        await client.get("/widget/v1/config", headers={"X-Widget-Key": practice.publishable_key})
    ).json()
    [doc] = config["practitioners"]
    assert doc["locationIds"] == practice.location_ids
    assert doc["appointmentTypeIds"] == [practice.appointment_type_id]
    horizon = config["bookingHorizon"]
    assert horizon["earliestUnix"] == int((NOW + timedelta(hours=2)).timestamp() * 1000)
    assert horizon["latestUnix"] == int((NOW + timedelta(days=60)).timestamp() * 1000)


async def verified_patient(client, pool, practice, email):
    return await widget_patient(client, pool, practice.publishable_key, email)


async def test_an_upcoming_visit_of_the_same_type_can_be_managed_instead(
    partner, client, pool, frozen_clock
):
    practice = await build_practice(partner)
    email = f"twice.{partner.account_id}@example.com"
    first = await verified_patient(client, pool, practice, email)
    booked = await first.post("/attempt/appointment", json=first_slot(practice, MONDAY_9))
    assert booked.status_code == 201, booked.text

    fresh = await started(client, practice)
    query = {"appointmentTypeId": practice.appointment_type_id}
    early = await fresh.get("/attempt/upcoming", params=query)
    assert early.status_code == 422 and problem_code(early) == "patient_not_set"

    frozen_clock["now"] = NOW + timedelta(minutes=2)  # past the contact's send cooldown
    again = await verified_patient(client, pool, practice, email)  # a second tab, same person
    found = (await again.get("/attempt/upcoming", params=query)).json()["appointments"]
    assert [(a["id"], a["startDateTime"]) for a in found] == [
        (booked.json()["appointment"]["id"], MONDAY_9)
    ]
    assert found[0]["practitionerName"] == "Doc0 Test"
    shown = await open_manage_link(client, found[0]["manageUrl"])
    assert shown["appointment"]["id"] == found[0]["id"]
    other_type = {"appointmentTypeId": practice.appointment_type_id + 10_000}
    assert (await again.get("/attempt/upcoming", params=other_type)).json() == {"appointments": []}


async def test_a_reloaded_widget_resumes_with_its_hold_and_patient(partner, client, pool):
    practice = await build_practice(partner)
    widget = await started(client, practice)
    email = {"email": "reload@example.com"}
    assert (await widget.post("/attempt/send-code", json=email)).status_code == 200
    held = await widget.post("/attempt/hold", json=first_slot(practice, MONDAY_9))
    assert held.status_code == 201, held.text
    resumed = (await widget.get("/attempt")).json()
    assert resumed["hold"] == {
        "appointmentTypeId": practice.appointment_type_id,
        "locationId": practice.location_ids[0],
        "practitionerId": practice.practitioner_ids[0],
        "schedulerConfigId": practice.config_ids[0],
        "startDateTime": MONDAY_9,
        "startUnix": int(datetime.fromisoformat(MONDAY_9).timestamp() * 1000),
        "endUnix": int(datetime.fromisoformat(MONDAY_9).timestamp() * 1000) + 30 * 60_000,
        "expiresAt": held.json()["expiresAt"],
    }
    assert resumed["patient"] is None
    code = await last_code(pool, partner.account_id)
    await widget.post("/attempt/verify-code", json={"code": code, **email})
    patient = {"firstName": "Rae", "lastName": "Load", "dateOfBirth": "1990-01-01"}
    assert (await widget.post("/attempt/patient", json=patient)).status_code == 201
    resumed = (await widget.get("/attempt")).json()
    assert (resumed["patient"]["firstName"], resumed["patient"]["lastName"]) == ("Rae", "Load")
    assert resumed["isVerified"] is True and resumed["hold"]["startDateTime"] == MONDAY_9
