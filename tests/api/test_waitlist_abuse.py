"""Waitlist inputs under abuse (docs/threat-model.md): guessed offer links, a patient spamming
earlier-requests, one address flooding the list, one patient hoarding entries, and joins that
skip identity proofing."""

import secrets
from datetime import UTC, datetime

import httpx

from app.waitlist.entries import MAX_ACTIVE_PER_PATIENT, MAX_JOINS_PER_ORIGIN_PER_HOUR
from tests.support import frozen_clock_at, last_code, problem_code
from tests.waitlist_helpers import (
    cancel,
    make_patient,
    waitlist_practice,
    widget_book,
    widget_booking,
    window_entry,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DAY_START, DAY_END = "2026-03-09T00:00:00-04:00", "2026-03-10T00:00:00-04:00"


frozen_clock = frozen_clock_at(NOW)


async def test_guessed_offer_links_are_404_whatever_their_shape(partner, client):
    await waitlist_practice(partner)
    guesses = [f"of_{secrets.token_urlsafe(24)}" for _ in range(20)]
    guesses += ["of_", "nope", "mg_" + "a" * 32, "of_" + "a" * 200, "of_%00"]
    for token in guesses:
        shown = await client.get(f"/widget/v1/offer/{token}")
        claimed = await client.post(f"/widget/v1/offer/{token}/claim")
        for r in (shown, claimed):
            assert r.status_code == 404 and problem_code(r) == "not_found", token
            assert r.json()["detail"] == "The offer does not exist."


async def test_earlier_requests_spammed_from_one_link_make_one_entry(partner, client, pool):
    practice = await waitlist_practice(partner)
    _, link = await widget_book(client, practice, "2026-03-09T11:00:00-04:00", "spam@x.io")
    answers = [await client.post(f"/widget/v1/manage/{link}/earlier", json={}) for _ in range(15)]
    assert [a.status_code for a in answers] == [201] + [200] * 14
    assert len({a.json()["waitlistEntryId"] for a in answers}) == 1
    count = await pool.fetchval(
        "SELECT count(*) FROM waitlist_entries WHERE account_id = $1", partner.account_id
    )
    assert count == 1


async def test_only_an_appointments_own_manage_token_asks_earlier_for_it(partner, client, pool):
    """The earlier-time request (manage page, widget confirmation) is authorized by the manage
    token alone: a guessed, altered or borrowed token is 404 and writes nothing, and no body
    can point a good token at another patient's appointment."""
    practice = await waitlist_practice(partner)
    mine = await widget_booking(client, practice, "2026-03-09T11:00:00-04:00", "mine@x.io")
    theirs = await widget_booking(client, practice, "2026-03-09T10:00:00-04:00", "them@x.io")
    token = mine["manageToken"]
    stored = await pool.fetchval(
        "SELECT manage_token_hash FROM appointments WHERE id = $1", mine["appointment"]["id"]
    )
    guesses = [f"mg_{secrets.token_urlsafe(24)}" for _ in range(10)]
    guesses += [
        token[:-1] + ("A" if token[-1] != "A" else "B"),  # one character off
        token[:-1],
        token + "x",
        token.upper(),
        token.removeprefix("mg_"),
        stored,  # the keyed hash the database keeps is not a token
        f"at_{secrets.token_urlsafe(24)}",
        f"of_{secrets.token_urlsafe(24)}",
        "mg_",
        "mg_%00",
        "mg_" + "a" * 200,
    ]

    async def asked_for() -> list[int]:
        return [
            row["appointment_id"]
            for row in await pool.fetch(
                "SELECT appointment_id FROM waitlist_entries WHERE account_id = $1",
                partner.account_id,
            )
        ]

    for guess in guesses:
        r = await client.post(f"/widget/v1/manage/{guess}/earlier", json={})
        assert r.status_code == 404 and problem_code(r) == "not_found", guess
    assert await asked_for() == []

    # my token, naming their appointment in the body: the body cannot choose the appointment
    r = await client.post(
        f"/widget/v1/manage/{token}/earlier",
        json={"appointmentId": theirs["appointment"]["id"], "lang": "es"},
    )
    assert r.status_code == 201, r.text  # unknown members are ignored
    assert await asked_for() == [mine["appointment"]["id"]]

    # a token whose appointment was cancelled asks for nothing
    await cancel(practice, theirs["appointment"]["id"])
    r = await client.post(f"/widget/v1/manage/{theirs['manageToken']}/earlier", json={})
    assert r.status_code == 409 and problem_code(r) == "not_reschedulable", r.text
    assert await asked_for() == [mine["appointment"]["id"]]


async def test_one_patient_holds_a_bounded_number_of_entries(partner, pool):
    practice = await waitlist_practice(partner)
    patient = await make_patient(pool, partner.account_id, "hoarder@x.io")
    for _ in range(MAX_ACTIVE_PER_PATIENT):
        await window_entry(practice, patient, DAY_START, DAY_END)
    r = await partner.post(
        "/waitlist",
        json={
            "selfSchedulingSettingId": practice.setting_id,
            "patientId": patient,
            "appointmentTypeId": practice.appointment_type_id,
            "locationId": practice.location_ids[0],
            "windowStart": DAY_START,
            "windowEnd": DAY_END,
        },
    )
    assert r.status_code == 409 and problem_code(r) == "waitlist_limit_reached"


async def _widget_join(http: httpx.AsyncClient, pool, practice, n: int) -> httpx.Response:
    """A verified widget patient joins the waitlist."""
    headers = {"X-Widget-Key": practice.publishable_key}
    started = await http.post("/widget/v1/attempt", headers=headers)
    headers["Authorization"] = f"Bearer {started.json()['attemptToken']}"
    email = f"f{n}@x.io"
    sent = await http.post("/widget/v1/attempt/send-code", headers=headers, json={"email": email})
    assert sent.status_code == 200, sent.text
    code = await last_code(pool, practice.partner.account_id)
    checked = await http.post(
        "/widget/v1/attempt/verify-code", headers=headers, json={"code": code, "email": email}
    )
    assert checked.json()["verified"] is True
    person = {"firstName": "Flo", "lastName": f"Od{n}", "dateOfBirth": "1990-01-01"}
    patient = await http.post("/widget/v1/attempt/patient", headers=headers, json=person)
    assert patient.status_code in (200, 201), patient.text
    return await http.post(
        "/widget/v1/attempt/waitlist",
        headers=headers,
        json={
            "appointmentTypeId": practice.appointment_type_id,
            "locationId": practice.location_ids[0],
            "windowStart": DAY_START,
            "windowEnd": DAY_END,
            "lang": "es",
        },
    )


async def test_one_address_cannot_flood_the_waitlist(partner, app, pool):
    practice = await waitlist_practice(partner, method="EMAIL")

    def from_address(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 4000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async with from_address("203.0.113.7") as flooder, from_address("198.51.100.9") as other:
        joins = [
            await _widget_join(flooder, pool, practice, n)
            for n in range(MAX_JOINS_PER_ORIGIN_PER_HOUR)
        ]
        assert {j.status_code for j in joins} == {201}
        refused = await _widget_join(flooder, pool, practice, 99)
        assert refused.status_code == 429 and problem_code(refused) == "rate_limited"
        assert int(refused.headers["retry-after"]) > 0
        assert (await _widget_join(other, pool, practice, 100)).status_code == 201
    stored = await pool.fetch(
        "SELECT source, locale, origin_hash FROM waitlist_entries WHERE account_id = $1",
        partner.account_id,
    )
    assert {(r["source"], r["locale"]) for r in stored} == {("WIDGET", "es")}
    assert all("203.0.113.7" not in (r["origin_hash"] or "") for r in stored)  # a keyed hash


async def test_widget_join_needs_a_proven_patient(partner, client):
    practice = await waitlist_practice(partner, method="EMAIL")
    headers = {"X-Widget-Key": practice.publishable_key}
    started = await client.post("/widget/v1/attempt", headers=headers)
    headers["Authorization"] = f"Bearer {started.json()['attemptToken']}"
    body = {
        "appointmentTypeId": practice.appointment_type_id,
        "locationId": practice.location_ids[0],
        "windowStart": DAY_START,
        "windowEnd": DAY_END,
    }
    r = await client.post("/widget/v1/attempt/waitlist", headers=headers, json=body)
    assert r.status_code == 422 and problem_code(r) == "patient_not_set"
    # a setting that proves nothing cannot send offers to whatever contact was typed
    open_practice = await waitlist_practice(partner)
    headers = {"X-Widget-Key": open_practice.publishable_key}
    started = await client.post("/widget/v1/attempt", headers=headers)
    headers["Authorization"] = f"Bearer {started.json()['attemptToken']}"
    person = {"firstName": "Vic", "lastName": "Tim", "dateOfBirth": "1990-01-01"}
    await client.post(
        "/widget/v1/attempt/patient", headers=headers, json={**person, "email": "victim@x.io"}
    )
    body = {**body, "appointmentTypeId": open_practice.appointment_type_id}
    body["locationId"] = open_practice.location_ids[0]
    r = await client.post("/widget/v1/attempt/waitlist", headers=headers, json=body)
    assert r.status_code == 422 and problem_code(r) == "not_verified"
    no_token = await client.post(
        "/widget/v1/attempt/waitlist", headers={"X-Widget-Key": practice.publishable_key}, json=body
    )
    assert no_token.status_code == 401


async def test_times_at_the_edges_are_a_400_naming_the_field(partner, client, pool):
    practice = await waitlist_practice(partner)
    patient = await make_patient(pool, partner.account_id, "edge@x.io")
    _, link = await widget_book(client, practice, "2026-03-09T11:00:00-04:00", "edgy@x.io")
    base = {
        "selfSchedulingSettingId": practice.setting_id,
        "patientId": patient,
        "appointmentTypeId": practice.appointment_type_id,
        "locationId": practice.location_ids[0],
        "windowStart": DAY_START,
        "windowEnd": DAY_END,
    }
    for field in ("windowStart", "windowEnd"):
        for edge in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
            r = await partner.post("/waitlist", json={**base, field: edge})
            assert r.status_code == 400, (field, edge, r.text)
            assert r.json()["errors"][0]["field"] == field
    for edge in ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z"):
        r = await client.post(f"/widget/v1/manage/{link}/earlier", json={"notBefore": edge})
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "notBefore"
