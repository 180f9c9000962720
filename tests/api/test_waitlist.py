"""Waitlist and earlier-slot offers through the public API: who is offered an opened slot and in
which order, exactly one winner among concurrent claims, earlier-claims that move an
appointment and free its old time, expiry and re-offer rounds, and the cascade limit."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from app.core import clock
from app.waitlist.matcher import MAX_CASCADE_DEPTH, MAX_REOFFER_ROUNDS
from tests.builders import first_slot
from tests.support import frozen_clock_at, partner_calls_below_500, problem_code
from tests.waitlist_helpers import (
    cancel,
    make_patient,
    match,
    offers,
    waitlist_practice,
    widget_book,
    widget_booking,
    window_entry,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # Monday, 07:00 in New York (EST)
MON_9 = "2026-03-09T09:00:00-04:00"  # EDT from 2026-03-08
DAY_START, DAY_END = "2026-03-09T00:00:00-04:00", "2026-03-10T00:00:00-04:00"


frozen_clock = frozen_clock_at(NOW)
never_a_5xx = partner_calls_below_500()


async def drain(pool, settings):
    """Match everything pending (other tests' openings included) at the frozen time."""
    await match(pool, settings, clock.now())


async def one_offer_of_monday_9(partner, client, pool, settings):
    """A waitlist practice whose Monday 9:00 was booked, then cancelled, and offered to the one
    patient waiting for that day: (practice, the offer)."""
    practice = await waitlist_practice(partner)
    await drain(pool, settings)  # the new schedule's own opening
    booked, _ = await widget_book(client, practice, MON_9, "gone@example.com")
    patient = await make_patient(pool, partner.account_id, "a@x.io")
    await window_entry(practice, patient, DAY_START, DAY_END)
    await cancel(practice, booked["id"])
    await drain(pool, settings)
    (offer,) = await offers(pool, partner.account_id)
    return practice, offer


async def test_a_cancel_offers_the_slot_to_the_oldest_matching_entries_only(
    partner, client, pool, settings
):
    practice = await waitlist_practice(partner, practitioners=2, offers_per_slot=3)
    await drain(pool, settings)  # the new schedule's own opening
    account = partner.account_id
    doc0, doc1 = practice.practitioner_ids
    booked, _ = await widget_book(client, practice, MON_9, "gone@example.com")
    later, later_link = await widget_book(client, practice, "2026-03-09T11:00:00-04:00", "eb@x.io")
    await drain(pool, settings)  # the bookings themselves open nothing

    async def entry(email, start=DAY_START, end=DAY_END, **kw):
        patient = await make_patient(pool, account, email)
        return await window_entry(practice, patient, start, end, **kw)

    w1 = await entry("w1@example.com")
    await entry("tuesday@example.com", "2026-03-10T00:00:00-04:00", "2026-03-11T00:00:00-04:00")
    await entry("other-doctor@example.com", practitioner_ids=[doc1])
    r = await client.post(f"/widget/v1/manage/{later_link}/earlier", json={})
    assert r.status_code == 201, r.text
    earlier_entry = r.json()["waitlistEntryId"]
    w2 = await entry("w2@example.com", practitioner_ids=[doc0])
    await entry("w3@example.com")  # fourth in line: offersPerSlot is 3

    await cancel(practice, booked["id"])
    await drain(pool, settings)

    sent = await offers(pool, account)
    assert [o["entry_id"] for o in sent] == [w1, earlier_entry, w2]
    assert [o["recipient"] for o in sent] == ["w1@example.com", "eb@x.io", "w2@example.com"]
    assert {o["start_at"] for o in sent} == {datetime.fromisoformat(MON_9)}
    assert all(o["channel"] == "EMAIL" and o["status"] == "OPEN" for o in sent)
    assert all(
        o["params"]["offer_url"].startswith(
            "http://127.0.0.1:8000/widget/v1/frame?lang=en#offer=of_"
        )
        for o in sent
    )
    events = await pool.fetch(
        "SELECT data FROM events WHERE account_id = $1 AND type = 'waitlist.offered' ORDER BY id",
        account,
    )
    assert [e["data"]["waitlistEntryId"] for e in events] == [w1, earlier_entry, w2]
    assert all("email" not in str(e["data"]) for e in events)
    assert later["id"]  # still booked: its own time was never offered

    # the same opening is never matched twice
    await drain(pool, settings)
    assert len(await offers(pool, account)) == 3


async def test_twenty_concurrent_claims_one_winner(partner, client, pool, settings):
    practice = await waitlist_practice(partner, offers_per_slot=20)
    await drain(pool, settings)  # the new schedule's own opening
    account = partner.account_id
    booked, _ = await widget_book(client, practice, MON_9, "gone@example.com")
    for i in range(20):
        patient = await make_patient(pool, account, f"c{i}@example.com")
        await window_entry(practice, patient, DAY_START, DAY_END)
    await cancel(practice, booked["id"])
    await drain(pool, settings)
    tokens = [o["token"] for o in await offers(pool, account)]
    assert len(tokens) == 20

    answers = await asyncio.gather(*(client.post(f"/widget/v1/offer/{t}/claim") for t in tokens))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 19, [a.text for a in answers if a.status_code >= 500]
    assert {problem_code(a) for a in answers if a.status_code == 409} == {"offer_taken"}
    live = await pool.fetchval(
        "SELECT count(*) FROM appointments WHERE account_id = $1 AND start_at = $2"
        " AND status NOT IN ('CANCELLED', 'RESCHEDULED', 'VOIDED')",
        account,
        datetime.fromisoformat(MON_9),
    )
    assert live == 1
    winner = next(a for a in answers if a.status_code == 201).json()
    assert winner["appointment"]["startDateTime"] == MON_9
    assert winner["manageUrl"].startswith("http://127.0.0.1:8000/widget/v1/frame#manage=mg_")
    # the partner sees how it was booked: a patient claiming a waitlist offer
    at_location = f"/location/{practice.location_ids[0]}/appointment"
    shown = (await partner.get(f"{at_location}/{winner['appointment']['id']}")).json()
    assert (shown["source"], shown["statusHistory"][0]["by"]) == ("WAITLIST", "patient")
    created = await pool.fetchval(
        "SELECT data FROM events WHERE account_id = $1 AND type = 'appointment.created'"
        " AND (data->>'appointmentId')::bigint = $2",
        account,
        winner["appointment"]["id"],
    )
    assert created["source"] == "WAITLIST"
    states = await pool.fetch(
        "SELECT status, count(*) FROM waitlist_entries WHERE account_id = $1 GROUP BY status",
        account,
    )
    assert {r["status"]: r["count"] for r in states} == {"CLAIMED": 1, "ACTIVE": 19}
    claimed = await pool.fetch(
        "SELECT type FROM events WHERE account_id = $1 AND type = 'waitlist.claimed'", account
    )
    assert len(claimed) == 1
    # a loser's link now says so
    loser = next(t for t, a in zip(tokens, answers, strict=True) if a.status_code == 409)
    shown = await client.get(f"/widget/v1/offer/{loser}")
    assert shown.status_code == 200 and shown.json()["status"] == "TAKEN"


async def test_one_link_claimed_five_times_at_once_books_once(partner, client, pool, settings):
    _, offer = await one_offer_of_monday_9(partner, client, pool, settings)
    answers = await asyncio.gather(
        *(client.post(f"/widget/v1/offer/{offer['token']}/claim") for _ in range(5))
    )
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409, 409]
    live = await pool.fetchval(
        "SELECT count(*) FROM appointments WHERE account_id = $1 AND status = 'SCHEDULED'",
        partner.account_id,
    )
    assert live == 1


async def test_earlier_claim_moves_the_appointment_and_its_old_time_is_offered(
    partner, client, pool, settings
):
    practice = await waitlist_practice(partner, offers_per_slot=1)
    await drain(pool, settings)  # the new schedule's own opening
    account = partner.account_id
    booked, _ = await widget_book(client, practice, MON_9, "gone@example.com")
    mine, link = await widget_book(client, practice, "2026-03-09T11:00:00-04:00", "me@x.io")
    shown = (await client.get(f"/widget/v1/manage/{link}")).json()
    assert (shown["canAskEarlier"], shown["earlierRequested"]) == (True, False)
    r = await client.post(f"/widget/v1/manage/{link}/earlier", json={"lang": "es"})
    assert r.status_code == 201
    assert (await client.get(f"/widget/v1/manage/{link}")).json()["earlierRequested"] is True
    again = await client.post(f"/widget/v1/manage/{link}/earlier", json={})
    assert again.status_code == 200 and again.json() == r.json()  # no second entry
    # someone who wants 11:00-12:00 only: not offered 9:00, but the time I leave
    waiting = await make_patient(pool, account, "next@x.io")
    next_entry = await window_entry(
        practice, waiting, "2026-03-09T11:00:00-04:00", "2026-03-09T12:00:00-04:00"
    )
    await cancel(practice, booked["id"])
    await drain(pool, settings)
    (offer,) = await offers(pool, account)
    assert offer["recipient"] == "me@x.io" and offer["locale"] == "es"

    shown = (await client.get(f"/widget/v1/offer/{offer['token']}")).json()
    assert shown["kind"] == "EARLIER" and shown["status"] == "OPEN"
    assert shown["startDateTime"] == MON_9
    assert shown["currentStartDateTime"] == "2026-03-09T11:00:00-04:00"
    assert shown["lang"] == "es"

    claimed = await client.post(f"/widget/v1/offer/{offer['token']}/claim")
    assert claimed.status_code == 200, claimed.text
    moved = claimed.json()["appointment"]
    assert moved["id"] == mine["id"] and moved["startDateTime"] == MON_9
    assert "manageUrl" not in claimed.json()  # the patient's link is unchanged
    at_location = f"/location/{practice.location_ids[0]}/appointment/{mine['id']}"
    assert (await partner.get(at_location)).json()["source"] == "SELF_SCHEDULING"  # moved only
    rescheduled = await pool.fetchval(
        "SELECT count(*) FROM notifications WHERE account_id = $1"
        " AND purpose = 'appointment_rescheduled' AND recipient = 'me@x.io'",
        account,
    )
    assert rescheduled == 1
    event = await pool.fetchval(
        "SELECT data FROM events WHERE account_id = $1 AND type = 'waitlist.claimed'", account
    )
    assert event["moved"] is True and event["minutesGained"] == 120

    await drain(pool, settings)
    sent = await offers(pool, account)
    assert len(sent) == 2
    assert sent[1]["entry_id"] == next_entry and sent[1]["depth"] == 1
    assert sent[1]["start_at"] == datetime.fromisoformat("2026-03-09T11:00:00-04:00")
    status = await pool.fetchval(
        "SELECT status FROM waitlist_entries WHERE id = $1", r.json()["waitlistEntryId"]
    )
    assert status == "CLAIMED"

    stats = await partner.get("/waitlist/stats", params={"from": "2026-03-02", "to": "2026-03-02"})
    assert stats.status_code == 200, stats.text
    assert stats.json() == {
        "timeZone": "America/New_York",
        "days": [
            {
                "date": "2026-03-02",
                "selfSchedulingSettingId": practice.setting_id,
                "entries": 2,
                "offersSent": 2,
                "claims": 1,
                "slotsRefilled": 1,
                "minutesGained": 120,
            }
        ],
    }
    assert (await partner.get("/waitlist/stats", params={"from": "2026-03-02"})).status_code == 400


async def test_offers_expire_and_the_next_in_line_is_offered(
    partner, client, pool, settings, frozen_clock
):
    practice = await waitlist_practice(partner, offers_per_slot=1, offer_minutes=10)
    await drain(pool, settings)  # the new schedule's own opening
    account = partner.account_id
    booked, _ = await widget_book(client, practice, MON_9, "gone@example.com")
    entries = []
    for i in range(5):
        patient = await make_patient(pool, account, f"r{i}@example.com")
        entries.append(await window_entry(practice, patient, DAY_START, DAY_END))
    await cancel(practice, booked["id"])
    await drain(pool, settings)
    for _ in range(MAX_REOFFER_ROUNDS + 2):
        frozen_clock["now"] += timedelta(minutes=11)
        await drain(pool, settings)
    sent = await offers(pool, account)
    # one round per entry, oldest first, until the re-offer rounds are used up
    assert [o["entry_id"] for o in sent] == entries[: MAX_REOFFER_ROUNDS + 1]
    assert [o["round"] for o in sent] == list(range(MAX_REOFFER_ROUNDS + 1))
    assert {o["status"] for o in sent} == {"EXPIRED"}

    late = await client.post(f"/widget/v1/offer/{sent[0]['token']}/claim")
    assert late.status_code == 409 and problem_code(late) == "offer_expired"
    assert (await client.get(f"/widget/v1/offer/{sent[0]['token']}")).json()["status"] == (
        "EXPIRED"
    )
    # an expired offer leaves its patient on the list
    active = await pool.fetchval(
        "SELECT count(*) FROM waitlist_entries WHERE account_id = $1 AND status = 'ACTIVE'",
        account,
    )
    assert active == 5


async def test_a_cancellation_sets_off_a_bounded_cascade_of_moves(partner, client, pool, settings):
    practice = await waitlist_practice(partner, offers_per_slot=1)
    await drain(pool, settings)  # the new schedule's own opening
    account = partner.account_id
    first, _ = await widget_book(client, practice, MON_9, "gone@example.com")
    times = ["09:30", "10:00", "10:30", "11:00", "11:30"]
    links = []
    for i, hhmm in enumerate(times):
        _, link = await widget_book(client, practice, f"2026-03-09T{hhmm}:00-04:00", f"p{i}@x.io")
        links.append(link)
    for link in links:  # the 9:30 patient asked first
        assert (await client.post(f"/widget/v1/manage/{link}/earlier", json={})).status_code == 201
    await cancel(practice, first["id"])
    await drain(pool, settings)
    for _ in range(len(times)):
        open_offers = [o for o in await offers(pool, account) if o["status"] == "OPEN"]
        for offer in open_offers:
            claimed = await client.post(f"/widget/v1/offer/{offer['token']}/claim")
            assert claimed.status_code == 200, claimed.text
        await drain(pool, settings)
    sent = await offers(pool, account)
    # each move frees a slot one step deeper; past the limit a freed slot is not offered
    assert [o["depth"] for o in sent] == list(range(MAX_CASCADE_DEPTH))
    assert [o["recipient"] for o in sent] == [f"p{i}@x.io" for i in range(MAX_CASCADE_DEPTH)]
    unoffered = await pool.fetchval(
        "SELECT count(*) FROM waitlist_openings WHERE account_id = $1 AND depth = $2"
        " AND processed_at IS NOT NULL",
        account,
        MAX_CASCADE_DEPTH,
    )
    assert unoffered == 1


async def test_cancelling_the_appointment_ends_its_earlier_request(partner, client, pool, settings):
    practice = await waitlist_practice(partner)
    await drain(pool, settings)  # the new schedule's own opening
    account = partner.account_id
    booked, _ = await widget_book(client, practice, MON_9, "gone@example.com")
    mine, link = await widget_book(client, practice, "2026-03-09T11:00:00-04:00", "me@x.io")
    entry = (await client.post(f"/widget/v1/manage/{link}/earlier", json={})).json()
    assert (await client.post(f"/widget/v1/manage/{link}/cancel")).status_code == 200
    row = await pool.fetchrow(
        "SELECT status, end_reason FROM waitlist_entries WHERE id = $1",
        entry["waitlistEntryId"],
    )
    assert tuple(row) == ("ENDED", "APPOINTMENT_CANCELLED")
    await cancel(practice, booked["id"])
    await drain(pool, settings)
    assert await offers(pool, account) == []
    assert mine["id"]


async def test_a_slot_booked_by_someone_else_first_is_taken(partner, client, pool, settings):
    practice, offer = await one_offer_of_monday_9(partner, client, pool, settings)
    await widget_book(client, practice, MON_9, "quicker@example.com")
    lost = await client.post(f"/widget/v1/offer/{offer['token']}/claim")
    assert lost.status_code == 409 and problem_code(lost) == "offer_taken"
    entry = await pool.fetchval(
        "SELECT status FROM waitlist_entries WHERE id = $1", offer["entry_id"]
    )
    assert entry == "ACTIVE"


async def test_new_capacity_and_expired_holds_open_slots(
    partner, client, pool, settings, frozen_clock
):
    practice = await waitlist_practice(partner, offers_per_slot=1, rules=[])
    await drain(pool, settings)  # the new schedule's own opening
    account = partner.account_id
    saturday = "2026-03-14"
    patient = await make_patient(pool, account, "sat@x.io", phone="+12025550123")
    entry = await window_entry(
        practice, patient, f"{saturday}T00:00:00-04:00", f"{saturday}T23:00:00-04:00"
    )
    await drain(pool, settings)
    assert await offers(pool, account) == []
    config = f"/self-scheduling/setting/{practice.setting_id}/scheduler-config"
    r = await practice.partner.put(
        f"{config}/{practice.config_ids[0]}",
        json={"overrides": [{"date": saturday, "windows": [{"start": "10:00", "end": "11:00"}]}]},
    )
    assert r.status_code == 200, r.text
    await drain(pool, settings)
    (offer,) = await offers(pool, account)
    assert offer["entry_id"] == entry and offer["channel"] == "SMS"
    assert offer["recipient"] == "+12025550123"
    assert offer["start_at"] == datetime.fromisoformat(f"{saturday}T10:00:00-04:00")

    # an expired hold is swept, and its time is offered
    other = await make_patient(pool, account, "hold@x.io")
    await window_entry(practice, other, f"{saturday}T10:30:00-04:00", f"{saturday}T11:00:00-04:00")
    headers = {"X-Widget-Key": practice.publishable_key}
    started = (await client.post("/widget/v1/attempt", headers=headers)).json()
    headers["Authorization"] = f"Bearer {started['attemptToken']}"
    hold = await client.post(
        "/widget/v1/attempt/hold",
        headers=headers,
        json=first_slot(practice, f"{saturday}T10:30:00-04:00"),
    )
    assert hold.status_code == 201, hold.text
    frozen_clock["now"] += timedelta(minutes=15)
    from app.jobs import run_periodic_once

    await run_periodic_once(pool, settings, clock.now(), erase_contacts=False)
    await drain(pool, settings)
    sent = await offers(pool, account)
    assert [o["recipient"] for o in sent] == ["+12025550123", "hold@x.io"]


async def test_daily_offer_cap_per_patient(partner, client, pool, settings, frozen_clock):
    from app.waitlist.matcher import OFFERS_PER_PATIENT_PER_DAY

    practice = await waitlist_practice(partner, offers_per_slot=1, offer_minutes=5)
    await drain(pool, settings)  # the new schedule's own opening
    account = partner.account_id
    starts = [f"2026-03-09T{h}:00-04:00" for h in ("09:00", "09:30", "10:00", "10:30", "11:00")]
    booked = [
        (await widget_book(client, practice, s, f"b{i}@x.io"))[0] for i, s in enumerate(starts)
    ]
    patient = await make_patient(pool, account, "keen@x.io")
    await window_entry(practice, patient, DAY_START, DAY_END)
    for appointment in booked:
        await cancel(practice, appointment["id"])
        await drain(pool, settings)
        frozen_clock["now"] += timedelta(minutes=6)  # each offer lapses before the next cancel
        await drain(pool, settings)
    sent = [o for o in await offers(pool, account) if o["recipient"] == "keen@x.io"]
    assert len(sent) == OFFERS_PER_PATIENT_PER_DAY


async def test_partner_waitlist_calls(partner, client, pool, settings):
    practice = await waitlist_practice(partner)
    await drain(pool, settings)  # the new schedule's own opening
    account = partner.account_id
    patient = await make_patient(pool, account, "listed@x.io")
    entry = await window_entry(practice, patient, DAY_START, DAY_END, lang="es")
    listed = await partner.get("/waitlist", params={"status": "ACTIVE"})
    assert listed.status_code == 200
    (shown,) = listed.json()["entries"]
    assert shown["id"] == entry and shown["kind"] == "WINDOW" and shown["source"] == "PARTNER"
    assert shown["patientId"] == patient and shown["practitionerIds"] == []
    assert (await partner.delete(f"/waitlist/{entry}")).status_code == 204
    assert (await partner.get("/waitlist", params={"status": "ACTIVE"})).json()["entries"] == []
    booked, _ = await widget_book(client, practice, MON_9, "gone@example.com")
    await cancel(practice, booked["id"])
    await drain(pool, settings)
    assert await offers(pool, account) == []  # a removed entry is offered nothing

    # bad input: clear 4xx
    base = {
        "selfSchedulingSettingId": practice.setting_id,
        "patientId": patient,
        "appointmentTypeId": practice.appointment_type_id,
        "locationId": practice.location_ids[0],
    }
    cases = [
        ({**base, "windowStart": DAY_END, "windowEnd": DAY_START}, 400, "invalid_range"),
        (
            {**base, "windowStart": DAY_START, "windowEnd": "2026-06-01T00:00:00-04:00"},
            400,
            "range_too_long",
        ),
        ({**base, "windowStart": DAY_START}, 400, "validation_failed"),
        (
            {**base, "patientId": 999_999_999, "windowStart": DAY_START, "windowEnd": DAY_END},
            404,
            "not_found",
        ),
        (
            {**base, "windowStart": "2026-03-09T00:00:00", "windowEnd": DAY_END},
            400,
            "validation_failed",
        ),
    ]
    for body, status, code in cases:
        r = await partner.post("/waitlist", json=body)
        assert (r.status_code, problem_code(r)) == (status, code), body
    assert (await partner.delete("/waitlist/999999999")).status_code == 404
    assert (await partner.get("/waitlist", params={"status": "NOPE"})).status_code == 400


async def test_settings_waitlist_field(partner):
    practice = await waitlist_practice(partner, offers_per_slot=5, offer_minutes=15)
    path = f"/self-scheduling/setting/{practice.setting_id}"
    shown = (await partner.get(path)).json()["waitlist"]
    assert shown == {"enabled": True, "offerMinutes": 15, "offersPerSlot": 5}
    for bad in ({"offersPerSlot": 0}, {"offerMinutes": 2}, {"offersPerSlot": 21}, {"enabled": 1}):
        r = await partner.put(path, json={"waitlist": bad})
        assert r.status_code == 400 and problem_code(r) == "validation_failed", bad
    r = await partner.put(path, json={"waitlist": {"enabled": False}})
    assert r.json()["waitlist"] == {"enabled": False, "offerMinutes": 30, "offersPerSlot": 3}
    schema = (await partner.http.get("/schema/openapi.json")).json()["components"]["schemas"]
    waitlist = next(v for k, v in schema.items() if k.endswith("Waitlist"))
    assert set(waitlist["properties"]) == {"enabled", "offerMinutes", "offersPerSlot"}


async def test_waitlist_disabled_or_closed(partner, client, pool):
    practice = await waitlist_practice(partner)
    _, link = await widget_book(client, practice, MON_9, "me@x.io")
    await partner.put(
        f"/self-scheduling/setting/{practice.setting_id}", json={"waitlist": {"enabled": False}}
    )
    r = await client.post(f"/widget/v1/manage/{link}/earlier", json={})
    assert r.status_code == 422 and problem_code(r) == "waitlist_disabled"
    await partner.put(
        f"/self-scheduling/setting/{practice.setting_id}", json={"waitlist": {"enabled": True}}
    )
    late = await client.post(
        f"/widget/v1/manage/{link}/earlier", json={"notBefore": "2026-03-09T10:00:00-04:00"}
    )
    assert late.status_code == 400 and problem_code(late) == "validation_failed"
    assert (await client.post("/widget/v1/manage/mg_nope/earlier", json={})).status_code == 404


async def test_the_booking_answer_says_whether_an_earlier_time_may_be_asked(partner, client, pool):
    """The widget's confirmation step offers the earlier-time request straight from the
    booking's answer: its manage token and `canAskEarlier` (as the manage page has it)."""
    practice = await waitlist_practice(partner)
    booked = await widget_booking(client, practice, "2026-03-09T11:00:00-04:00", "now@x.io")
    assert booked["canAskEarlier"] is True
    link = booked["manageToken"]
    shown = (await client.get(f"/widget/v1/manage/{link}")).json()
    assert (shown["canAskEarlier"], shown["earlierRequested"]) == (True, False)
    for status in (201, 200):  # asked from the confirmation, then again: one entry
        r = await client.post(f"/widget/v1/manage/{link}/earlier", json={"lang": "es"})
        assert r.status_code == status, r.text
    entries = await pool.fetch(
        "SELECT kind, appointment_id, locale FROM waitlist_entries WHERE account_id = $1",
        partner.account_id,
    )
    assert [tuple(e) for e in entries] == [("EARLIER", booked["appointment"]["id"], "es")]

    await partner.put(
        f"/self-scheduling/setting/{practice.setting_id}", json={"waitlist": {"enabled": False}}
    )
    later = await widget_booking(client, practice, "2026-03-09T10:00:00-04:00", "off@x.io")
    assert later["canAskEarlier"] is False
    schema = (await partner.http.get("/schema/openapi.json")).json()["components"]["schemas"]
    assert "canAskEarlier" in schema["Booked"]["required"]


async def test_a_matcher_that_dies_mid_pass_loses_nothing_and_offers_once(
    partner, client, pool, settings, monkeypatch
):
    from app.waitlist import matcher

    practice = await waitlist_practice(partner)
    await drain(pool, settings)
    account = partner.account_id
    booked, _ = await widget_book(client, practice, MON_9, "gone@example.com")
    for i in range(2):
        await window_entry(
            practice, await make_patient(pool, account, f"d{i}@x.io"), DAY_START, DAY_END
        )
    await cancel(practice, booked["id"])  # committed: the opening is in the database now

    real_offer, calls = matcher._offer, []

    async def dies_on_the_second(*args, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise ConnectionResetError("worker lost")
        await real_offer(*args, **kw)

    monkeypatch.setattr(matcher, "_offer", dies_on_the_second)
    with pytest.raises(ConnectionResetError):
        await drain(pool, settings)
    assert await offers(pool, account) == []  # the first offer went with the transaction
    monkeypatch.setattr(matcher, "_offer", real_offer)
    await drain(pool, settings)
    await drain(pool, settings)
    assert [o["recipient"] for o in await offers(pool, account)] == ["d0@x.io", "d1@x.io"]


async def test_openings_without_offers_are_pruned_after_a_day(partner, client, pool, settings):
    from app.jobs import run_periodic_once

    practice = await waitlist_practice(partner)
    await drain(pool, settings)
    account = partner.account_id
    for start, email in ((MON_9, "a@x.io"), ("2026-03-09T10:00:00-04:00", "b@x.io")):
        booked, _ = await widget_book(client, practice, start, email)
        await cancel(practice, booked["id"])
    await window_entry(practice, await make_patient(pool, account, "w@x.io"), DAY_START, DAY_END)
    await drain(pool, settings)  # one opening offers 9:00; the other finds the entry holding it
    openings = "SELECT count(*) FROM waitlist_openings WHERE account_id = $1"
    before = await pool.fetchval(openings, account)
    await run_periodic_once(pool, settings, clock.now() + timedelta(days=2), erase_contacts=False)
    assert await pool.fetchval(openings, account) == 1 < before
    assert len(await offers(pool, account)) == 1


async def test_the_matcher_loop_wakes_on_the_cancel_and_stops_cleanly(
    partner, client, pool, settings
):
    from app.waitlist.worker import run_forever

    practice = await waitlist_practice(partner)
    await drain(pool, settings)
    account = partner.account_id
    booked, _ = await widget_book(client, practice, MON_9, "gone@example.com")
    await window_entry(practice, await make_patient(pool, account, "loop@x.io"), DAY_START, DAY_END)
    stop = asyncio.Event()
    # an hour's poll: the cancel is matched at once only if the loop LISTENs (or its first
    # pass, which starts after the LISTEN, already finds it)
    loop = asyncio.create_task(run_forever(pool, settings, stop=stop, poll_seconds=3600))
    try:
        await cancel(practice, booked["id"])
        for _ in range(600):
            if await offers(pool, account):
                break
            await asyncio.sleep(0.05)
        assert [o["recipient"] for o in await offers(pool, account)] == ["loop@x.io"]
    finally:
        stop.set()
        await asyncio.wait_for(loop, 30)


async def test_a_number_that_replied_stop_gets_its_offer_by_email(partner, client, pool, settings):
    from app.notifications.optouts import opt_out

    practice = await waitlist_practice(partner)
    await drain(pool, settings)
    account = partner.account_id
    booked, _ = await widget_book(client, practice, MON_9, "gone@example.com")
    texts = await make_patient(pool, account, "texts@x.io", phone="+12025550111")
    stopped = await make_patient(pool, account, "stopped@x.io", phone="+12025550122")
    for patient in (texts, stopped):
        await window_entry(practice, patient, DAY_START, DAY_END)
    async with pool.acquire() as conn:  # as a STOP reply records it
        await opt_out(conn, [account], "SMS", "+12025550122")
    await cancel(practice, booked["id"])
    await drain(pool, settings)
    sent = await offers(pool, account)
    assert [(o["channel"], o["recipient"]) for o in sent] == [
        ("SMS", "+12025550111"),
        ("EMAIL", "stopped@x.io"),
    ]
