"""The partner patient API: create (Lobbie `createPatient`), get, exact search, update;
duplicates, phones as digits, audit rows and no-store."""

import asyncio

from tests.support import make_partner, problem_code

BODY = {
    "firstName": "Maya",
    "lastName": "Ortiz",
    "dateOfBirth": "1990-04-05",
    "email": "Maya@Example.org",
    "mobilePhone": "(202) 555-0123",
    "gender": "FEMALE",
    "externalId": "emr-42",
}


async def audit_rows(pool, account_id):
    rows = await pool.fetch(
        "SELECT action, resource_type, resource_id, outcome FROM audit_log"
        " WHERE account_id = $1 ORDER BY id",
        account_id,
    )
    return [tuple(r) for r in rows]


async def test_create_get_search_update(partner, pool):
    r = await partner.post("/patients", json=BODY)
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    patient = r.json()
    assert patient["mobilePhone"] == "12025550123"  # digits with the country code, as Lobbie
    assert patient["email"] == "Maya@example.org"  # domain normalised, local part as typed
    assert {k: patient[k] for k in ("firstName", "lastName", "dateOfBirth", "gender")} == {
        "firstName": "Maya", "lastName": "Ortiz", "dateOfBirth": "1990-04-05", "gender": "FEMALE",
    }  # fmt: skip
    assert patient["externalId"] == "emr-42" and patient["createdAt"]
    pid = patient["id"]

    r = await partner.get(f"/patients/{pid}")
    assert r.status_code == 200 and r.json() == patient
    for params in (
        {"externalId": "emr-42"},
        {"email": "maya@example.org"},
        {"mobilePhone": "12025550123"},
        {"mobilePhone": "+12025550123"},
        {"dateOfBirth": "1990-04-05", "email": "MAYA@example.org"},
    ):
        r = await partner.get("/patients", params=params)
        assert r.status_code == 200, (params, r.text)
        assert [p["id"] for p in r.json()["patients"]] == [pid], params
    r = await partner.get("/patients", params={"dateOfBirth": "1990-04-05", "externalId": "x"})
    assert r.json() == {"patients": [], "nextCursor": None}
    r = await partner.get("/patients")
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "externalId"

    r = await partner.put(f"/patients/{pid}", json={"lastName": "Ortiz Vega", "gender": None})
    assert r.status_code == 200, r.text
    assert (r.json()["lastName"], r.json()["gender"], r.json()["email"]) == (
        "Ortiz Vega", None, "Maya@example.org",
    )  # fmt: skip
    assert await audit_rows(pool, partner.account_id) == [
        ("create", "patient", str(pid), "success"),
        ("read", "patient", str(pid), "success"),
        *[("read", "patient", str(pid), "success")] * 5,
        ("read", "patient", None, "success"),
        ("read", "patient", None, "error"),
        ("update", "patient", str(pid), "success"),
    ]


async def test_duplicates_are_refused_with_the_existing_id(partner):
    first = (await partner.post("/patients", json=BODY)).json()
    for change in ({"mobilePhone": None}, {"email": None, "firstName": "Someone"}):
        r = await partner.post("/patients", json={**BODY, "externalId": None, **change})
        assert r.status_code == 409 and problem_code(r) == "duplicate_patient", r.text
        assert r.json()["patientId"] == first["id"]
    # another birth date is another person
    r = await partner.post("/patients", json={**BODY, "dateOfBirth": "1991-04-05"})
    assert r.status_code == 201
    other = r.json()
    r = await partner.put(f"/patients/{other['id']}", json={"dateOfBirth": "1990-04-05"})
    assert r.status_code == 409 and r.json()["patientId"] == first["id"]
    # concurrent creations of one person: exactly one wins
    twin = {**BODY, "dateOfBirth": "1985-01-01", "email": "twin@example.org", "mobilePhone": None}
    answers = await asyncio.gather(*(partner.post("/patients", json=twin) for _ in range(4)))
    assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]


async def test_refusals_and_isolation(partner, client, pool):
    created = (await partner.post("/patients", json=BODY)).json()
    other = await make_partner(client, pool)
    assert (await other.get(f"/patients/{created['id']}")).status_code == 404
    assert (
        await other.put(f"/patients/{created['id']}", json={"gender": "MALE"})
    ).status_code == 404
    r = await other.get("/patients", params={"externalId": "emr-42"})
    assert r.json()["patients"] == []
    for body, field in [
        ({**BODY, "dateOfBirth": "2999-01-01"}, "dateOfBirth"),
        ({**BODY, "mobilePhone": "555"}, "mobilePhone"),
        ({**BODY, "email": "not-an-email"}, "email"),
        ({**BODY, "gender": "F"}, "gender"),
        ({k: v for k, v in BODY.items() if k != "lastName"}, "lastName"),
    ]:
        r = await partner.post("/patients", json=body)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == field, (body, r.text)
    assert (await partner.get("/patients/987654321")).status_code == 404


async def test_get_webhook_endpoint(partner, client, pool):
    created = await partner.create(
        "/webhook-endpoint", {"url": "http://127.0.0.1:9/hook", "events": ["appointment.created"]}
    )
    r = await partner.get(f"/webhook-endpoint/{created['id']}")
    assert r.status_code == 200, r.text
    assert r.json() == {k: created[k] for k in ("id", "url", "events", "createdAt")}
    assert "secret" not in r.json()
    other = await make_partner(client, pool)
    assert (await other.get(f"/webhook-endpoint/{created['id']}")).status_code == 404
