"""Locations, practitioners and appointment types (contract: Self-scheduling settings ...)."""

from __future__ import annotations

import secrets
from datetime import datetime

import pytest

from tests.support import Partner, problem_code

ADDRESS = {
    "address1": "1 Main St",
    "address2": "Suite 200",
    "city": "Springfield",
    "state": "IL",
    "postalCode": "62701",
    "country": "US",
}


def _validation(r, field: str | None = None) -> list[dict]:
    assert r.status_code == 400, r.text
    assert problem_code(r) == "validation_failed"
    errors = r.json()["errors"]
    assert errors and all(set(e) == {"field", "message"} for e in errors)
    if field is not None:
        assert errors[0]["field"] == field, errors
    return errors


async def _setting(pool, account_id: int, **arrays: list[int]) -> int:
    return await pool.fetchval(
        "INSERT INTO self_scheduling_settings (account_id, name, publishable_key, "
        "appointment_type_ids, location_ids, practitioner_ids) "
        "VALUES ($1, 'Web', $2, $3::bigint[], $4::bigint[], $5::bigint[]) RETURNING id",
        account_id,
        "pk_" + secrets.token_hex(8),
        arrays.get("appointment_type_ids", []),
        arrays.get("location_ids", []),
        arrays.get("practitioner_ids", []),
    )


# --- locations ------------------------------------------------------------------------------


async def test_location_crud(partner: Partner):
    body = {
        "name": "Downtown",
        "timeZone": "America/Chicago",
        "storeId": "store-7",
        "address": ADDRESS,
        "phone": "+1 217 555 0100",
    }
    created = await partner.create("/location", body)
    assert set(created) == {
        "id",
        "name",
        "storeId",
        "active",
        "timeZone",
        "address",
        "phoneNumber",
        "phone",
        "createdAt",
        "updatedAt",
    }
    assert isinstance(created["id"], int)
    assert created["name"] == "Downtown"
    assert created["timeZone"] == "America/Chicago"
    assert created["storeId"] == "store-7"
    assert created["active"] is True
    assert created["address"] == ADDRESS
    assert created["phone"] == "+1 217 555 0100"
    assert created["phoneNumber"] == "2175550100"  # Lobbie's digits
    assert datetime.fromisoformat(created["createdAt"]).tzinfo is not None

    r = await partner.get(f"/location/{created['id']}")
    assert r.status_code == 200
    assert r.json() == created

    # partial update: only the sent fields change
    r = await partner.put(f"/location/{created['id']}", json={"name": "Uptown", "active": False})
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["name"] == "Uptown"
    assert updated["active"] is False
    for field in ("timeZone", "storeId", "address", "phone", "createdAt", "id"):
        assert updated[field] == created[field], field
    assert updated["updatedAt"] >= created["updatedAt"]

    # explicit null clears a nullable field; a new address replaces the old one
    r = await partner.put(
        f"/location/{created['id']}",
        json={"storeId": None, "address": {"city": "Chicago"}, "timeZone": "America/New_York"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["storeId"] is None
    assert r.json()["address"] == {"city": "Chicago"}
    assert r.json()["timeZone"] == "America/New_York"
    assert r.json()["name"] == "Uptown"

    r = await partner.put(f"/location/{created['id']}", json={"address": None})
    assert r.json()["address"] is None

    # an empty body changes nothing
    r = await partner.put(f"/location/{created['id']}", json={})
    assert r.status_code == 200
    assert r.json()["name"] == "Uptown"

    r = await partner.delete(f"/location/{created['id']}")
    assert r.status_code == 204
    assert r.content == b""
    r = await partner.get(f"/location/{created['id']}")
    assert r.status_code == 404
    assert problem_code(r) == "not_found"
    r = await partner.delete(f"/location/{created['id']}")
    assert r.status_code == 404


async def test_location_defaults(partner: Partner):
    loc = await partner.create("/location", {"name": "Bare", "timeZone": "UTC"})
    assert loc["active"] is True
    assert loc["storeId"] is None
    assert loc["address"] is None
    assert loc["phone"] is None and loc["phoneNumber"] is None


@pytest.mark.parametrize("zone", ["Mars/Olympus", "", "posix/America/New_York", "EST5EDT "])
async def test_location_invalid_time_zone(partner: Partner, zone: str):
    r = await partner.post("/location", json={"name": "X", "timeZone": zone})
    _validation(r, "timeZone")


async def test_location_update_invalid_time_zone(partner: Partner):
    loc = await partner.create("/location", {"name": "X", "timeZone": "UTC"})
    r = await partner.put(f"/location/{loc['id']}", json={"timeZone": "Mars/Olympus"})
    _validation(r, "timeZone")
    assert (await partner.get(f"/location/{loc['id']}")).json()["timeZone"] == "UTC"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": 123, "timeZone": "UTC"}, "name"),
        ({"name": "", "timeZone": "UTC"}, "name"),
        ({"name": "x" * 201, "timeZone": "UTC"}, "name"),
        ({"timeZone": "UTC"}, "name"),
        ({"name": "X"}, "timeZone"),
        ({"name": "X", "timeZone": "UTC", "active": "yes"}, "active"),
        ({"name": "X", "timeZone": "UTC", "address": "1 Main St"}, "address"),
        ({"name": "X", "timeZone": "UTC", "address": {"city": 5}}, "address.city"),
        ({"name": "X", "timeZone": "UTC", "phone": "1"}, "phone"),
        ({"name": "a\u0000b", "timeZone": "UTC"}, "name"),
        ([{"name": "X", "timeZone": "UTC"}], "body"),
        ("Downtown", "body"),
        (None, "body"),
    ],
)
async def test_location_wrong_types_are_400(partner: Partner, body, field):
    r = await partner.post("/location", json=body)
    _validation(r, field)


@pytest.mark.parametrize("content", [b"{not json", b"", b"name=X", b'{"name": "X",'])
async def test_location_body_not_json_is_400(partner: Partner, content: bytes):
    r = await partner.post(
        "/location", content=content, headers={"Content-Type": "application/json"}
    )
    _validation(r, "body")


async def test_location_put_wrong_types_are_400(partner: Partner):
    loc = await partner.create("/location", {"name": "X", "timeZone": "UTC"})
    _validation(await partner.put(f"/location/{loc['id']}", json={"name": None}), "name")
    _validation(await partner.put(f"/location/{loc['id']}", json={"name": 5}), "name")
    _validation(await partner.put(f"/location/{loc['id']}", json=[1]), "body")
    _validation(await partner.put(f"/location/{loc['id']}", json={"active": None}), "active")


async def test_location_unknown_id_is_404(partner: Partner):
    for method in ("GET", "PUT", "DELETE"):
        kw = {"json": {"name": "X"}} if method == "PUT" else {}
        r = await partner.request(method, "/location/987654321", **kw)
        assert r.status_code == 404, (method, r.text)
        assert problem_code(r) == "not_found"
        assert r.json()["detail"] == "The location does not exist."


async def test_location_id_beyond_bigint_is_not_a_500(partner: Partner):
    r = await partner.get(f"/location/{2**64}")
    assert r.status_code == 400, r.text
    assert problem_code(r) == "validation_failed"


async def test_location_filters(partner: Partner):
    a = await partner.create("/location", {"name": "North", "timeZone": "UTC", "storeId": "s1"})
    b = await partner.create("/location", {"name": "South", "timeZone": "UTC", "storeId": "s2"})
    c = await partner.create(
        "/location", {"name": "North", "timeZone": "UTC", "storeId": "s3", "active": False}
    )

    async def ids(**params) -> list[int]:
        r = await partner.get("/location", params=params)
        assert r.status_code == 200, r.text
        assert r.json()["nextCursor"] is None
        return [x["id"] for x in r.json()["locations"]]

    assert await ids() == [a["id"], b["id"], c["id"]]
    assert await ids(name="North") == [a["id"], c["id"]]
    assert await ids(name="north") == [a["id"], c["id"]]  # Lobbie: case-insensitive contains
    assert await ids(name="OUT") == [b["id"]]
    assert await ids(name="%") == [] and await ids(name="_orth") == []  # no wildcards
    assert await ids(storeId="s2") == [b["id"]]
    assert await ids(active="true") == [a["id"], b["id"]]
    assert await ids(active="false") == [c["id"]]
    assert await ids(name="North", active="true") == [a["id"]]
    assert await ids(name="Nowhere") == []
    _validation(await partner.get("/location", params={"active": "maybe"}), "active")
    _validation(await partner.get("/location", params={"name": "a\x00b"}), "name")
    assert await ids(sortBy="NAME") == [a["id"], c["id"], b["id"]]
    assert await ids(sortBy="NAME", sortDir="DESC") == [b["id"], c["id"], a["id"]]
    assert await ids(sortBy="CREATED_DATE", sortDir="DESC") == [c["id"], b["id"], a["id"]]
    _validation(await partner.get("/location", params={"sortBy": "SIZE"}), "sortBy")
    _validation(await partner.get("/location", params={"sortDir": "up"}), "sortDir")


async def test_location_pages_by_name(partner: Partner):
    names = ["delta", "Alpha", "charlie", "Bravo", "alpha"]
    made = {
        n: (await partner.create("/location", {"name": n, "timeZone": "UTC"}))["id"] for n in names
    }
    seen, cursor = [], None
    while True:
        params = {"sortBy": "NAME", "limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await partner.get("/location", params=params)).json()
        seen += [x["id"] for x in body["locations"]]
        if not (cursor := body["nextCursor"]):
            break
    assert seen == [made["Alpha"], made["alpha"], made["Bravo"], made["charlie"], made["delta"]]


async def test_location_lobbie_fields_on_write(partner: Partner):
    body = {
        "name": "Lobbie clinic",
        "timeZone": "America/New_York",
        "phoneNumber": "2025550123",
        "address": {"address1": "1 Main", "address2": "Fl 2", "city": "DC", "state": "DC",
                    "postalCode": "20001"},
    }  # fmt: skip
    loc = await partner.create("/location", body)
    assert loc["phoneNumber"] == "2025550123" and loc["address"] == body["address"]
    legacy = await partner.create(
        "/location", {"name": "Old", "timeZone": "UTC", "address": {"line1": "2 Side"}}
    )
    assert legacy["address"] == {"address1": "2 Side"}
    r = await partner.put(f"/location/{loc['id']}", json={"phoneNumber": "+1 (202) 555-0199"})
    assert r.json()["phoneNumber"] == "2025550199"


async def test_location_pagination_walks_every_page(partner: Partner):
    created = [
        (await partner.create("/location", {"name": f"L{i}", "timeZone": "UTC"}))["id"]
        for i in range(4)
    ]
    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        r = await partner.get("/location", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["locations"]) == 1
        seen += [x["id"] for x in body["locations"]]
        pages += 1
        cursor = body["nextCursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str) and cursor
    assert seen == created
    assert pages == 4

    r = await partner.get("/location", params={"limit": 3})
    assert [x["id"] for x in r.json()["locations"]] == created[:3]
    r = await partner.get("/location", params={"limit": 3, "cursor": r.json()["nextCursor"]})
    assert [x["id"] for x in r.json()["locations"]] == created[3:]
    assert r.json()["nextCursor"] is None

    r = await partner.get("/location", params={"limit": 100})
    assert r.status_code == 200
    assert len(r.json()["locations"]) == 4


@pytest.mark.parametrize("limit", ["0", "101", "-1", "abc", "1.5"])
async def test_bad_limit_is_400(partner: Partner, limit: str):
    for path in ("/location", "/practitioner", "/appointment-type"):
        _validation(await partner.get(path, params={"limit": limit}), "limit")


@pytest.mark.parametrize(
    "cursor", ["garbage!!", "aWQ6LTE", "eHg6NQ", "aWQ6YWJj", "aWQ6OTk5OTk5OTk5OTk5OTk5OTk5OTk5"]
)
async def test_garbage_cursor_is_400(partner: Partner, cursor: str):
    # garbage, "id:-1", "xx:5", "id:abc", an id beyond bigint
    for path in ("/location", "/practitioner", "/appointment-type"):
        _validation(await partner.get(path, params={"cursor": cursor}), "cursor")


# --- practitioners --------------------------------------------------------------------------


async def test_practitioner_crud(partner: Partner):
    created = await partner.create(
        "/practitioner",
        {"firstName": "Ana", "lastName": "Ruiz", "credentials": "MD", "npi": "1234567893"},
    )
    assert set(created) == {
        "id",
        "firstName",
        "lastName",
        "displayName",
        "credentials",
        "npi",
        "active",
        "createdAt",
        "updatedAt",
    }
    assert created["firstName"] == "Ana"
    assert created["lastName"] == "Ruiz"
    assert created["displayName"] == "Ana Ruiz"
    assert created["credentials"] == "MD"
    assert created["npi"] == "1234567893"
    assert created["active"] is True

    r = await partner.get(f"/practitioner/{created['id']}")
    assert r.status_code == 200
    assert r.json() == created

    r = await partner.put(f"/practitioner/{created['id']}", json={"displayName": "Dr. Ana Ruiz"})
    assert r.status_code == 200, r.text
    assert r.json()["displayName"] == "Dr. Ana Ruiz"
    for field in ("firstName", "lastName", "credentials", "npi", "active"):
        assert r.json()[field] == created[field]

    r = await partner.put(f"/practitioner/{created['id']}", json={"npi": None, "active": False})
    assert r.json()["npi"] is None
    assert r.json()["active"] is False
    assert r.json()["displayName"] == "Dr. Ana Ruiz"

    listed = await partner.get("/practitioner")
    assert [p["id"] for p in listed.json()["practitioners"]] == [created["id"]]
    assert listed.json()["nextCursor"] is None
    assert (await partner.get("/practitioner", params={"active": "true"})).json()[
        "practitioners"
    ] == []

    assert (await partner.delete(f"/practitioner/{created['id']}")).status_code == 204
    r = await partner.get(f"/practitioner/{created['id']}")
    assert r.status_code == 404
    assert problem_code(r) == "not_found"


async def test_practitioner_explicit_display_name(partner: Partner):
    p = await partner.create(
        "/practitioner", {"firstName": "Bo", "lastName": "Li", "displayName": "Dr Li"}
    )
    assert p["displayName"] == "Dr Li"
    assert p["npi"] is None
    assert p["credentials"] is None


@pytest.mark.parametrize("npi", ["123456789", "12345678901", "12345abcde", "", 1234567890])
async def test_practitioner_npi_must_be_10_digits(partner: Partner, npi):
    r = await partner.post("/practitioner", json={"firstName": "A", "lastName": "B", "npi": npi})
    _validation(r, "npi")


async def test_practitioner_too_long_default_display_name_is_400(partner: Partner):
    r = await partner.post("/practitioner", json={"firstName": "a" * 150, "lastName": "b" * 150})
    _validation(r, "displayName")
    p = await partner.create(
        "/practitioner", {"firstName": "a" * 150, "lastName": "b" * 150, "displayName": "AB"}
    )
    assert p["displayName"] == "AB"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lastName": "B"}, "firstName"),
        ({"firstName": 1, "lastName": "B"}, "firstName"),
        ({"firstName": "A", "lastName": ""}, "lastName"),
        ({"firstName": "A", "lastName": "B", "active": "maybe"}, "active"),
        ({"firstName": "A", "lastName": "B", "address": {}, "npi": None, "active": None}, "active"),
    ],
)
async def test_practitioner_wrong_types_are_400(partner: Partner, body, field):
    _validation(await partner.post("/practitioner", json=body), field)


async def test_practitioner_put_null_display_name_is_400(partner: Partner):
    p = await partner.create("/practitioner", {"firstName": "A", "lastName": "B"})
    _validation(await partner.put(f"/practitioner/{p['id']}", json={"displayName": None}))
    assert (await partner.get(f"/practitioner/{p['id']}")).json()["displayName"] == "A B"


async def test_practitioner_unknown_id_is_404(partner: Partner):
    assert (await partner.get("/practitioner/987654321")).status_code == 404
    r = await partner.put("/practitioner/987654321", json={"firstName": "X"})
    assert r.status_code == 404
    assert problem_code(r) == "not_found"
    assert (await partner.delete("/practitioner/987654321")).status_code == 404


# --- appointment types ----------------------------------------------------------------------


async def test_appointment_type_crud(partner: Partner):
    created = await partner.create(
        "/appointment-type",
        {
            "name": "New patient",
            "durationMinutes": 45,
            "telehealth": True,
            "description": "First visit",
            "formCount": 2,
            "color": "#336699",
        },
    )
    assert set(created) == {
        "id",
        "name",
        "durationMinutes",
        "telehealth",
        "description",
        "formCount",
        "color",
        "active",
        "createdAt",
        "updatedAt",
    }
    assert created["name"] == "New patient"
    assert created["durationMinutes"] == 45
    assert created["telehealth"] is True
    assert created["description"] == "First visit"
    assert created["formCount"] == 2
    assert created["color"] == "#336699"
    assert created["active"] is True

    r = await partner.get(f"/appointment-type/{created['id']}")
    assert r.json() == created

    r = await partner.put(f"/appointment-type/{created['id']}", json={"durationMinutes": 30})
    assert r.status_code == 200, r.text
    assert r.json()["durationMinutes"] == 30
    for field in ("name", "telehealth", "description", "formCount", "color", "active"):
        assert r.json()[field] == created[field]

    r = await partner.put(
        f"/appointment-type/{created['id']}", json={"description": None, "active": False}
    )
    assert r.json()["description"] is None
    assert r.json()["active"] is False
    assert r.json()["durationMinutes"] == 30

    listed = await partner.get("/appointment-type")
    assert [t["id"] for t in listed.json()["appointmentTypes"]] == [created["id"]]
    assert listed.json()["nextCursor"] is None

    assert (await partner.delete(f"/appointment-type/{created['id']}")).status_code == 204
    r = await partner.get(f"/appointment-type/{created['id']}")
    assert r.status_code == 404
    assert problem_code(r) == "not_found"


async def test_appointment_type_defaults(partner: Partner):
    t = await partner.create("/appointment-type", {"name": "Check", "durationMinutes": 15})
    assert t["telehealth"] is False
    assert t["formCount"] == 0
    assert t["description"] is None
    assert t["color"] is None
    assert t["active"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "X", "durationMinutes": "abc"}, "durationMinutes"),
        ({"name": "X", "durationMinutes": 4}, "durationMinutes"),
        ({"name": "X", "durationMinutes": 721}, "durationMinutes"),
        ({"name": "X", "durationMinutes": 30.5}, "durationMinutes"),
        ({"name": "X", "durationMinutes": 2**70}, "durationMinutes"),
        ({"name": "X"}, "durationMinutes"),
        ({"name": 123, "durationMinutes": 30}, "name"),
        ({"name": "X", "durationMinutes": 30, "formCount": -1}, "formCount"),
        ({"name": "X", "durationMinutes": 30, "telehealth": "no"}, "telehealth"),
        ({"name": "X", "durationMinutes": 30, "description": "d" * 5001}, "description"),
    ],
)
async def test_appointment_type_wrong_types_are_400(partner: Partner, body, field):
    _validation(await partner.post("/appointment-type", json=body), field)


async def test_appointment_type_put_wrong_types_are_400(partner: Partner):
    t = await partner.create("/appointment-type", {"name": "X", "durationMinutes": 30})
    r = await partner.put(f"/appointment-type/{t['id']}", json={"durationMinutes": "abc"})
    _validation(r, "durationMinutes")
    assert (await partner.get(f"/appointment-type/{t['id']}")).json()["durationMinutes"] == 30


async def test_appointment_type_unknown_id_is_404(partner: Partner):
    assert (await partner.get("/appointment-type/987654321")).status_code == 404
    r = await partner.put("/appointment-type/987654321", json={"name": "X"})
    assert r.status_code == 404
    assert problem_code(r) == "not_found"
    assert (await partner.delete("/appointment-type/987654321")).status_code == 404


# --- delete while referenced ----------------------------------------------------------------


async def test_delete_appointment_type_used_by_a_setting_is_409(partner: Partner, pool):
    t = await partner.create("/appointment-type", {"name": "X", "durationMinutes": 30})
    await _setting(pool, partner.account_id, appointment_type_ids=[t["id"]])
    r = await partner.delete(f"/appointment-type/{t['id']}")
    assert r.status_code == 409
    assert problem_code(r) == "in_use"
    assert (await partner.get(f"/appointment-type/{t['id']}")).status_code == 200
    # deactivating is the way out
    r = await partner.put(f"/appointment-type/{t['id']}", json={"active": False})
    assert r.status_code == 200
    assert r.json()["active"] is False


async def test_delete_location_and_practitioner_used_by_a_setting_is_409(partner: Partner, pool):
    loc = await partner.create("/location", {"name": "X", "timeZone": "UTC"})
    prac = await partner.create("/practitioner", {"firstName": "A", "lastName": "B"})
    await _setting(
        pool, partner.account_id, location_ids=[loc["id"]], practitioner_ids=[prac["id"]]
    )
    r = await partner.delete(f"/location/{loc['id']}")
    assert r.status_code == 409
    assert problem_code(r) == "in_use"
    r = await partner.delete(f"/practitioner/{prac['id']}")
    assert r.status_code == 409
    assert problem_code(r) == "in_use"
    assert (await partner.get(f"/location/{loc['id']}")).status_code == 200
    assert (await partner.get(f"/practitioner/{prac['id']}")).status_code == 200


async def test_delete_location_referenced_by_foreign_key_is_409(partner: Partner, pool):
    loc = await partner.create("/location", {"name": "X", "timeZone": "UTC"})
    await pool.execute(
        "INSERT INTO self_scheduling_settings (account_id, name, publishable_key, "
        "fixed_location_id) VALUES ($1, 'Fixed', $2, $3)",
        partner.account_id,
        "pk_" + secrets.token_hex(8),
        loc["id"],
    )
    r = await partner.delete(f"/location/{loc['id']}")
    assert r.status_code == 409
    assert problem_code(r) == "in_use"
    assert (await partner.get(f"/location/{loc['id']}")).status_code == 200


async def test_another_accounts_setting_does_not_block_delete(partner: Partner, pool):
    t = await partner.create("/appointment-type", {"name": "X", "durationMinutes": 30})
    other_account = await pool.fetchval("INSERT INTO accounts (name) VALUES ('Other') RETURNING id")
    await _setting(pool, other_account, appointment_type_ids=[t["id"]])
    assert (await partner.delete(f"/appointment-type/{t['id']}")).status_code == 204


async def test_lists_are_account_scoped(partner: Partner, client, pool):
    from tests.support import make_partner

    other = await make_partner(client, pool)
    await other.create("/practitioner", {"firstName": "O", "lastName": "P"})
    await other.create("/appointment-type", {"name": "O", "durationMinutes": 30})
    mine = await partner.create("/practitioner", {"firstName": "M", "lastName": "N"})
    r = await partner.get("/practitioner")
    assert [p["id"] for p in r.json()["practitioners"]] == [mine["id"]]
    assert (await partner.get("/appointment-type")).json()["appointmentTypes"] == []
