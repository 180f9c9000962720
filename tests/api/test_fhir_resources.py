"""FHIR facade: metadata, the partner checks in order, read and search of every resource type
(each answer validated with fhir.resources' R4B models), paging, PHI handling, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.partners.scopes import ANALYTICS
from tests.api.fhir_support import (
    FHIR_JSON,
    entries,
    fhir_get,
    fhir_url,
    issue_code,
    operation,
    parameters,
    valid,
)
from tests.builders import build_practice
from tests.support import fetch_token, make_partner

RESOURCE_TYPES = (
    "Location", "Practitioner", "PractitionerRole", "HealthcareService", "Schedule", "Slot",
    "Patient", "Appointment",
)  # fmt: skip


def week() -> tuple[str, str]:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    return start.isoformat(), (start + timedelta(days=7)).isoformat()


async def book_one(p, patient: dict | None = None) -> dict:
    start, end = week()
    found = await operation(
        p, "find", parameters(("start", "valueDateTime", start), ("end", "valueDateTime", end))
    )
    proposal = entries(found.json())[0]
    patient = patient or {
        "resourceType": "Patient",
        "name": [{"family": "Rivera", "given": ["Lucia"]}],
        "birthDate": "1984-05-06",
        "telecom": [{"system": "email", "value": "lucia@example.com"}],
    }
    booked = await operation(
        p,
        "book",
        parameters(
            (
                "appointment-reference",
                "valueReference",
                {"reference": f"Appointment/{proposal['id']}"},
            ),
            ("patient-resource", "resource", patient),
        ),
    )
    assert booked.status_code == 201, booked.text
    return entries(booked.json())[0]


async def test_metadata_is_public_and_lists_what_is_implemented(client, partner):
    response = await client.get(fhir_url(partner, "/metadata"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(FHIR_JSON)
    statement = valid(response.json())
    rest = statement["rest"][0]
    assert {r["type"] for r in rest["resource"]} == set(RESOURCE_TYPES)
    appointment = next(r for r in rest["resource"] if r["type"] == "Appointment")
    assert {o["name"] for o in appointment["operation"]} == {"find", "hold", "book"}
    assert {p["name"] for p in appointment["searchParam"]} >= {"patient", "date", "status"}
    slot = next(r for r in rest["resource"] if r["type"] == "Slot")
    assert {p["name"] for p in slot["searchParam"]} == {
        "schedule",
        "start",
        "status",
        "service-type",
    }


async def test_partner_checks_in_the_partner_order(client, pool, partner):
    practice = await build_practice(partner)
    path = fhir_url(partner, "/Location")
    # 401: no token, then a bad token
    for headers in ({}, {"Authorization": "Bearer nope"}):
        response = await client.get(path, headers=headers)
        assert response.status_code == 401
        assert issue_code(valid_response(response)) == "invalid_token"
    # 403: a client without a grant on this account
    stranger = await make_partner(client, pool)
    response = await client.get(path, headers=stranger.headers())
    assert response.status_code == 403 and issue_code(valid_response(response)) == "forbidden"
    # 403: the grant but not the scheduling scope
    token = await fetch_token(client, partner.client_id, partner.secret, scope=ANALYTICS)
    response = await client.get(path, headers=partner.headers(token))
    assert response.status_code == 403 and issue_code(valid_response(response)) == "forbidden"
    # 404: another account's record, the same as an absent one
    other = await build_practice(stranger)
    for location_id in (other.location_ids[0], 999_999_999):
        response = await client.get(
            fhir_url(partner, f"/Location/{location_id}"), headers=partner.headers()
        )
        assert response.status_code == 404 and issue_code(valid_response(response)) == "not_found"
    assert practice.location_ids[0] != other.location_ids[0]


def valid_response(response):
    assert response.headers["content-type"].startswith(FHIR_JSON), response.text
    valid(response.json())
    return response


async def test_every_resource_type_reads_and_searches_and_validates(partner, pool):
    practice = await build_practice(partner, practitioners=2)
    booked = await book_one(partner)
    patient_id = booked["participant"][0]["actor"]["reference"].split("/")[1]
    queries = {
        "Patient": f"?_id={patient_id}",
        "Slot": f"?schedule=Schedule/{practice.config_ids[0]}",
    }
    for resource_type in RESOURCE_TYPES:
        bundle = (
            await fhir_get(partner, f"/{resource_type}{queries.get(resource_type, '')}")
        ).json()
        found = entries(bundle)
        assert found, resource_type
        assert bundle["total"] >= len(found)
        first = found[0]
        read = await fhir_get(partner, f"/{resource_type}/{first['id']}")
        assert read.json() == first, resource_type
    # a role is a practitioner at a location, a schedule one scheduler config
    roles = entries((await fhir_get(partner, "/PractitionerRole")).json())
    assert {r["id"] for r in roles} == {
        f"{d}-{practice.location_ids[0]}" for d in practice.practitioner_ids
    }
    schedules = entries((await fhir_get(partner, "/Schedule")).json())
    assert sorted(int(s["id"]) for s in schedules) == sorted(practice.config_ids)
    doctor = practice.practitioner_ids[1]
    mine = entries((await fhir_get(partner, f"/Schedule?actor=Practitioner/{doctor}")).json())
    assert [s["actor"][0]["reference"] for s in mine] == [f"Practitioner/{doctor}"]
    assert entries((await fhir_get(partner, "/Schedule?active=false")).json()) == []
    assert len(entries((await fhir_get(partner, "/Schedule?active=true")).json())) == 2


async def test_patient_reads_are_audited_and_never_stored(partner, pool):
    await build_practice(partner)
    booked = await book_one(partner)
    patient_ref = booked["participant"][0]["actor"]["reference"]
    patient_id = patient_ref.split("/")[1]
    for path in (
        f"/Patient/{patient_id}",
        "/Patient?birthdate=1984-05-06",
        f"/Appointment?patient={patient_ref}",
    ):
        response = await fhir_get(
            partner, path, headers={"X-Request-Id": f"fhir-audit-{len(path)}"}
        )
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
    rows = await pool.fetch(
        "SELECT resource_type, resource_id, action, actor FROM audit_log"
        " WHERE account_id = $1 AND action = 'read' ORDER BY id",
        partner.account_id,
    )
    assert [(r["resource_type"], r["resource_id"]) for r in rows] == [
        ("patient", patient_id),
        ("patient", patient_id),
        ("appointment", booked["id"]),
    ]
    assert {r["actor"] for r in rows} == {partner.client_id}
    # the booking itself is one audit row too
    created = await pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE account_id = $1 AND action = 'create'"
        " AND resource_type = 'appointment' AND resource_id = $2",
        partner.account_id,
        booked["id"],
    )
    assert created == 1


async def test_count_paging_follows_next_links(partner, client):
    practice = await build_practice(partner)
    path = f"/Slot?schedule=Schedule/{practice.config_ids[0]}&_count=4"
    seen: list[str] = []
    bundle = (await fhir_get(partner, path)).json()
    total = bundle["total"]
    assert total > 8
    for _ in range(3):
        ids = [r["id"] for r in entries(bundle)]
        assert len(ids) == 4
        seen += ids
        next_url = next(link["url"] for link in bundle["link"] if link["relation"] == "next")
        relative = next_url.split("://", 1)[1].split("/", 1)[1]
        response = await client.get("/" + relative, headers=partner.headers())
        bundle = valid_response(response).json()
    assert len(set(seen)) == 12
    assert (await fhir_get(partner, f"{path}&_format=json")).json()["total"] == total
    # the last page has no next link
    last = (await fhir_get(partner, f"{path}&_offset={total - 2}")).json()
    assert len(entries(last)) == 2
    assert [link["relation"] for link in last["link"]] == ["self"]


async def test_busy_slots_when_asked(partner):
    practice = await build_practice(partner)
    booked = await book_one(partner)
    schedule = f"Schedule/{practice.config_ids[0]}"
    busy = entries((await fhir_get(partner, f"/Slot?schedule={schedule}&status=busy")).json())
    assert [(s["status"], s["start"]) for s in busy] == [("busy", booked["start"])]
    free = entries((await fhir_get(partner, f"/Slot?schedule={schedule}&_count=100")).json())
    assert booked["start"] not in {s["start"] for s in free}
    # the booked appointment names its slot, which now reads as busy
    slot_id = booked["slot"][0]["reference"].split("/")[1]
    assert (await fhir_get(partner, f"/Slot/{slot_id}")).json()["status"] == "busy"


async def test_bad_input_is_a_400_operation_outcome(partner, client):
    await build_practice(partner)
    bad = [
        "/Slot?start=ge2026-13-40",
        "/Slot?start=ge2026-03-09T09:00:00",  # no offset
        "/Slot?start=ge0001-01-01",
        "/Slot?start=ge2027-01-01&start=lt2027-06-01",  # more than 62 days
        "/Slot?start=ge2027-01-02&start=lt2027-01-01",
        "/Appointment?patient=Location/3",
        "/Appointment?status=maybe",
        "/Appointment?colour=blue",  # unknown parameters are refused, never ignored
        "/Location?_count=1000",
        "/Location?_format=xml",
        "/Patient",  # a patient search needs a filter
    ]
    for path in bad:
        response = await client.get(fhir_url(partner, path), headers=partner.headers())
        assert response.status_code == 400, path
        code = issue_code(valid_response(response))
        assert code in ("validation_failed", "range_too_long", "invalid_range"), path
    not_json = await client.post(
        fhir_url(partner, "/Appointment/$find"),
        content=b"{nope",
        headers=partner.headers(**{"Content-Type": FHIR_JSON}),
    )
    assert (
        not_json.status_code == 400 and issue_code(valid_response(not_json)) == "validation_failed"
    )
    start, _ = week()
    for body in (
        parameters(("start", "valueDateTime", start)),  # no end
        parameters(("start", "valueDateTime", start), ("end", "valueDateTime", start)),
        parameters(
            ("start", "valueDateTime", start),
            ("end", "valueDateTime", "2099-01-01"),
        ),
        parameters(
            ("start", "valueDateTime", start),
            ("end", "valueDateTime", start),
            ("specialty", "valueString", "x"),
        ),
        {"resourceType": "Patient"},
    ):
        response = await operation(partner, "find", body)
        assert response.status_code == 400, body
    for body in (
        parameters(
            ("appointment-reference", "valueReference", {"reference": "Appointment/proposed-1-2-3"})
        ),
        parameters(
            ("appointment-reference", "valueReference", {"reference": "Appointment/hold-9-9-9-9"})
        ),
    ):
        response = await operation(partner, "hold", body)
        assert response.status_code == 404 and issue_code(response) == "not_found"
