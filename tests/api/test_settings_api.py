"""Self-scheduling settings and scheduler configs over HTTP (contract: "Self-scheduling
settings and availability"; validation rules in app/selfscheduling/validation.py)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from app.selfscheduling.store import configs_for_setting
from tests.support import Partner, fetch_token, make_partner, problem_code

SETTING = "/self-scheduling/setting"


def configs_path(setting_id: int) -> str:
    return f"{SETTING}/{setting_id}/scheduler-config"


def fields(response) -> list[str]:
    return [e["field"] for e in response.json()["errors"]]


async def practice(p: Partner) -> dict[str, Any]:
    """Two locations, two practitioners and two appointment types in the partner's account."""
    locs = [
        await p.create("/location", {"name": "Main", "timeZone": "America/New_York"}),
        await p.create("/location", {"name": "West", "timeZone": "America/Los_Angeles"}),
    ]
    pracs = [
        await p.create("/practitioner", {"firstName": "Ana", "lastName": "Ruiz"}),
        await p.create("/practitioner", {"firstName": "Ben", "lastName": "Cho"}),
    ]
    types = [
        await p.create("/appointment-type", {"name": "New patient", "durationMinutes": 30}),
        await p.create("/appointment-type", {"name": "Follow-up", "durationMinutes": 15}),
    ]
    return {
        "loc": [x["id"] for x in locs],
        "prac": [x["id"] for x in pracs],
        "type": [x["id"] for x in types],
    }


async def make_setting(p: Partner, ids: dict[str, Any], **extra: Any) -> dict[str, Any]:
    body = {
        "name": "Online booking",
        "locationIds": ids["loc"],
        "appointmentTypeIds": ids["type"],
        "practitionerIds": ids["prac"],
        **extra,
    }
    return await p.create(SETTING, body)


def config_body(ids: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "practitionerId": ids["prac"][0],
        "locationId": ids["loc"][0],
        "appointmentTypeIds": [ids["type"][0]],
        "slotIntervalMinutes": 15,
        "rules": [{"weekday": 0, "start": "09:00", "end": "12:00"}],
        **extra,
    }


# ------------------------------------------------------------------ settings


async def test_setting_full_crud(partner):
    ids = await practice(partner)
    body = {
        "name": "Online booking",
        "active": True,
        "verificationMethod": "email_and_sms",
        "locationIds": ids["loc"],
        "locationSelectable": True,
        "locationVisible": True,
        "appointmentTypeIds": ids["type"],
        "appointmentTypeSelectable": False,
        "appointmentTypeVisible": False,
        "fixedAppointmentTypeId": ids["type"][1],
        "practitionerIds": ids["prac"],
        "arePractitionersSelectable": False,
        "forwardBookingLimit": 8,
        "forwardBookingLimitActive": True,
        "forwardBookingLimitUnit": "weeks",
        "afterwardBookingLimit": 2,
        "afterwardBookingLimitActive": True,
        "afterwardBookingLimitUnit": "Hours",
        "allowedPhoneCountries": ["us", "MX", "US"],
        "smsBudgetPerDay": 50,
        "widget": {
            "allowedOrigins": ["HTTPS://Clinic.Example.com:443/", "http://localhost:5173"],
            "theme": {"primaryColor": "#0A7CFF", "cornerRadius": 8, "fontFamily": "Inter"},
        },
    }
    created = await partner.create(SETTING, body)
    key = created["widget"]["publishableKey"]
    assert re.fullmatch(r"pk_[A-Za-z0-9_-]{20,}", key)
    assert created == {
        "id": created["id"],
        "name": "Online booking",
        "active": True,
        "verificationMethod": "EMAIL_AND_SMS",
        "locationIds": ids["loc"],
        "locationSelectable": True,
        "locationVisible": True,
        "appointmentTypeIds": ids["type"],
        "appointmentTypeSelectable": False,
        "appointmentTypeVisible": False,
        "fixedAppointmentTypeId": ids["type"][1],
        "practitionerIds": ids["prac"],
        "arePractitionersSelectable": False,
        "forwardBookingLimit": 8,
        "forwardBookingLimitActive": True,
        "forwardBookingLimitUnit": "WEEKS",
        "afterwardBookingLimit": 2,
        "afterwardBookingLimitActive": True,
        "afterwardBookingLimitUnit": "HOURS",
        "allowedPhoneCountries": ["US", "MX"],
        "smsBudgetPerDay": 50,
        "reminders": [
            {"offsetMinutes": 1440, "channel": "SMS"},
            {"offsetMinutes": 4320, "channel": "EMAIL"},
        ],
        "schedulerConfigs": [],
        "widget": {
            "publishableKey": key,
            "allowedOrigins": ["https://clinic.example.com", "http://localhost:5173"],
            "theme": {"primaryColor": "#0A7CFF", "fontFamily": "Inter", "cornerRadius": 8},
        },
        "waitlist": {"enabled": False, "offerMinutes": 30, "offersPerSlot": 3},
    }
    assert "fixedLocationId" not in created

    got = await partner.get(f"{SETTING}/{created['id']}")
    assert got.status_code == 200
    assert got.json() == created

    # Partial update: only what is sent changes; the key stays.
    r = await partner.put(
        f"{SETTING}/{created['id']}",
        json={"name": "Renamed", "verificationMethod": None, "widget": {"theme": None}},
    )
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["name"] == "Renamed"
    assert updated["verificationMethod"] is None
    assert updated["widget"] == {
        "publishableKey": key,
        "allowedOrigins": ["https://clinic.example.com", "http://localhost:5173"],
        "theme": {},
    }
    assert {
        k: v for k, v in updated.items() if k not in ("name", "verificationMethod", "widget")
    } == {k: v for k, v in created.items() if k not in ("name", "verificationMethod", "widget")}

    r = await partner.delete(f"{SETTING}/{created['id']}")
    assert r.status_code == 204 and r.content == b""
    r = await partner.get(f"{SETTING}/{created['id']}")
    assert r.status_code == 404 and problem_code(r) == "not_found"
    r = await partner.delete(f"{SETTING}/{created['id']}")
    assert r.status_code == 404


async def test_setting_defaults(partner):
    created = await partner.create(SETTING, {"name": "Bare"})
    assert created == {
        "id": created["id"],
        "name": "Bare",
        "active": True,
        "verificationMethod": None,
        "locationIds": [],
        "locationSelectable": True,
        "locationVisible": True,
        "appointmentTypeIds": [],
        "appointmentTypeSelectable": True,
        "appointmentTypeVisible": True,
        "practitionerIds": [],
        "arePractitionersSelectable": True,
        "forwardBookingLimit": 60,
        "forwardBookingLimitActive": True,
        "forwardBookingLimitUnit": "DAYS",
        "afterwardBookingLimit": 0,
        "afterwardBookingLimitActive": False,
        "afterwardBookingLimitUnit": "HOURS",
        "allowedPhoneCountries": ["US", "CA"],
        "smsBudgetPerDay": 200,
        "reminders": [
            {"offsetMinutes": 1440, "channel": "SMS"},
            {"offsetMinutes": 4320, "channel": "EMAIL"},
        ],
        "schedulerConfigs": [],
        "widget": {
            "publishableKey": created["widget"]["publishableKey"],
            "allowedOrigins": [],
            "theme": {},
        },
        "waitlist": {"enabled": False, "offerMinutes": 30, "offersPerSlot": 3},
    }
    other = await partner.create(SETTING, {"name": "Second"})
    assert other["widget"]["publishableKey"] != created["widget"]["publishableKey"]


async def test_setting_list_paginates(partner):
    made = [await partner.create(SETTING, {"name": f"S{i}"}) for i in range(3)]
    r = await partner.get(SETTING, params={"limit": 1})
    assert r.status_code == 200
    page1 = r.json()
    assert [s["id"] for s in page1["settings"]] == [made[0]["id"]]
    assert page1["settings"][0]["name"] == "S0"
    assert page1["nextCursor"]
    r = await partner.get(SETTING, params={"limit": 2, "cursor": page1["nextCursor"]})
    page2 = r.json()
    assert [s["id"] for s in page2["settings"]] == [made[1]["id"], made[2]["id"]]
    assert page2["nextCursor"] is None
    r = await partner.get(SETTING, params={"limit": 0})
    assert r.status_code == 400 and problem_code(r) == "validation_failed"
    r = await partner.get(SETTING, params={"cursor": "garbage!"})
    assert r.status_code == 400 and fields(r) == ["cursor"]

    await partner.put(f"{SETTING}/{made[1]['id']}", json={"active": False})
    r = await partner.get(SETTING, params={"active": "false"})
    assert [s["id"] for s in r.json()["settings"]] == [made[1]["id"]]


async def test_setting_list_embeds_configs(partner):
    ids = await practice(partner)
    setting = await make_setting(partner, ids)
    config = await partner.create(configs_path(setting["id"]), config_body(ids))
    r = await partner.get(SETTING)
    [listed] = r.json()["settings"]
    assert listed["schedulerConfigs"] == [config]


async def test_bad_verification_method_and_units(partner):
    r = await partner.post(SETTING, json={"name": "X", "verificationMethod": "FAX"})
    assert r.status_code == 400 and problem_code(r) == "validation_failed"
    assert r.json()["errors"] == [
        {"field": "verificationMethod", "message": "must be EMAIL, SMS, EMAIL_AND_SMS or null"}
    ]
    r = await partner.post(
        SETTING,
        json={"name": "X", "forwardBookingLimitUnit": "YEARS", "afterwardBookingLimitUnit": "s"},
    )
    assert r.status_code == 400
    assert fields(r) == ["forwardBookingLimitUnit", "afterwardBookingLimitUnit"]
    r = await partner.post(SETTING, json={"name": "X", "verificationMethod": 3})
    assert r.status_code == 400 and fields(r) == ["verificationMethod"]
    r = await partner.post(SETTING, json={"name": "X", "forwardBookingLimit": -1})
    assert r.status_code == 400 and fields(r) == ["forwardBookingLimit"]

    created = await partner.create(SETTING, {"name": "X", "verificationMethod": "sms"})
    assert created["verificationMethod"] == "SMS"
    r = await partner.put(f"{SETTING}/{created['id']}", json={"verificationMethod": "Email"})
    assert r.status_code == 200 and r.json()["verificationMethod"] == "EMAIL"
    r = await partner.put(f"{SETTING}/{created['id']}", json={"verificationMethod": "voice"})
    assert r.status_code == 400 and fields(r) == ["verificationMethod"]


async def test_phone_countries(partner):
    r = await partner.post(SETTING, json={"name": "X", "allowedPhoneCountries": ["US", "XX"]})
    assert r.status_code == 400 and fields(r) == ["allowedPhoneCountries[1]"]
    r = await partner.post(SETTING, json={"name": "X", "allowedPhoneCountries": ["USA"]})
    assert r.status_code == 400 and fields(r) == ["allowedPhoneCountries[0]"]
    r = await partner.post(
        SETTING, json={"name": "X", "verificationMethod": "SMS", "allowedPhoneCountries": []}
    )
    assert r.status_code == 400 and fields(r) == ["allowedPhoneCountries"]
    created = await partner.create(
        SETTING, {"name": "X", "verificationMethod": "EMAIL", "allowedPhoneCountries": []}
    )
    assert created["allowedPhoneCountries"] == []
    r = await partner.put(f"{SETTING}/{created['id']}", json={"verificationMethod": "sms"})
    assert r.status_code == 400 and fields(r) == ["allowedPhoneCountries"]


async def test_widget_origins_and_theme(partner):
    bad_origins = [
        "https://clinic.example.com/book",
        "clinic.example.com",
        "ftp://clinic.example.com",
        "https://*.example.com",
        "https://user@clinic.example.com",
        "https://clinic.example.com?x=1",
        "https://clinic.example.com:99999",
        "https://",
        "null",
    ]
    r = await partner.post(
        SETTING,
        json={"name": "X", "widget": {"allowedOrigins": ["https://ok.example", *bad_origins]}},
    )
    assert r.status_code == 400 and problem_code(r) == "validation_failed"
    assert fields(r) == [f"widget.allowedOrigins[{i}]" for i in range(1, len(bad_origins) + 1)]

    created = await partner.create(
        SETTING,
        {
            "name": "X",
            "widget": {
                "allowedOrigins": [
                    "https://a.example.com",
                    "https://A.example.com/",
                    "http://127.0.0.1:8080",
                    "https://[::1]:8443",
                ],
                "theme": {"logoUrl": "https://cdn.example.com/logo.png"},
            },
        },
    )
    assert created["widget"]["allowedOrigins"] == [
        "https://a.example.com",
        "http://127.0.0.1:8080",
        "https://[::1]:8443",
    ]
    assert created["widget"]["theme"] == {"logoUrl": "https://cdn.example.com/logo.png"}

    url = f"{SETTING}/{created['id']}"
    for theme, field in [
        ({"logoUrl": "http://cdn.example.com/logo.png"}, "widget.theme.logoUrl"),
        ({"logoUrl": "javascript:alert(1)"}, "widget.theme.logoUrl"),
        ({"primaryColor": "red"}, "widget.theme.primaryColor"),
        ({"cornerRadius": 33}, "widget.theme.cornerRadius"),
        ({"fontFamily": "x;}body{display:none"}, "widget.theme.fontFamily"),
    ]:
        r = await partner.put(url, json={"widget": {"theme": theme}})
        assert r.status_code == 400, theme
        assert fields(r) == [field], theme
    # Only the origins change when only they are sent.
    r = await partner.put(url, json={"widget": {"allowedOrigins": []}})
    assert r.json()["widget"]["allowedOrigins"] == []
    assert r.json()["widget"]["theme"] == {"logoUrl": "https://cdn.example.com/logo.png"}
    assert r.json()["widget"]["publishableKey"] == created["widget"]["publishableKey"]


async def test_fixed_implies_not_selectable(partner):
    ids = await practice(partner)
    loc_a, loc_b = ids["loc"]

    # A fixed id without locationSelectable turns selection off.
    s = await make_setting(partner, ids, fixedLocationId=loc_b)
    assert (s["fixedLocationId"], s["locationSelectable"], s["locationVisible"]) == (
        loc_b,
        False,
        True,
    )
    assert s["appointmentTypeSelectable"] is True and "fixedAppointmentTypeId" not in s

    # Saying both is a contradiction.
    r = await partner.post(
        SETTING,
        json={
            "name": "X",
            "locationIds": ids["loc"],
            "fixedLocationId": loc_a,
            "locationSelectable": True,
        },
    )
    assert r.status_code == 400 and fields(r) == ["locationSelectable"]

    # The fixed id must be one of the list.
    r = await partner.post(
        SETTING, json={"name": "X", "locationIds": [loc_a], "fixedLocationId": loc_b}
    )
    assert r.status_code == 400 and fields(r) == ["fixedLocationId"]

    # Not selectable with several locations and nothing fixed: which one?
    r = await partner.post(
        SETTING, json={"name": "X", "locationIds": ids["loc"], "locationSelectable": False}
    )
    assert r.status_code == 400 and fields(r) == ["fixedLocationId"]
    one = await partner.create(
        SETTING, {"name": "X", "locationIds": [loc_a], "locationSelectable": False}
    )
    assert one["locationSelectable"] is False and "fixedLocationId" not in one

    # Selectable but invisible is refused.
    r = await partner.post(SETTING, json={"name": "X", "appointmentTypeVisible": False})
    assert r.status_code == 400 and fields(r) == ["appointmentTypeVisible"]

    url = f"{SETTING}/{s['id']}"
    # Turning selection back on clears the fixed id.
    r = await partner.put(url, json={"locationSelectable": True})
    assert r.status_code == 200
    assert r.json()["locationSelectable"] is True and "fixedLocationId" not in r.json()
    # Dropping the fixed location from the list is refused.
    r = await partner.put(url, json={"fixedLocationId": loc_a})
    assert r.status_code == 200 and r.json()["locationSelectable"] is False
    r = await partner.put(url, json={"locationIds": [loc_b]})
    assert r.status_code == 400 and fields(r) == ["fixedLocationId"]
    r = await partner.put(url, json={"locationIds": [loc_a], "locationVisible": False})
    assert r.status_code == 200
    assert (r.json()["locationIds"], r.json()["locationVisible"]) == ([loc_a], False)


async def test_setting_unknown_and_foreign_ids(partner, client, pool):
    ids = await practice(partner)
    other = await make_partner(client, pool)
    foreign = await practice(other)

    r = await partner.post(
        SETTING,
        json={
            "name": "X",
            "locationIds": [ids["loc"][0], foreign["loc"][0]],
            "appointmentTypeIds": [999_999_999],
            "practitionerIds": [foreign["prac"][1], ids["prac"][0]],
        },
    )
    assert r.status_code == 400 and problem_code(r) == "validation_failed"
    assert r.json()["errors"] == [
        {"field": "locationIds[1]", "message": "no location with this id in the account"},
        {
            "field": "appointmentTypeIds[0]",
            "message": "no appointment type with this id in the account",
        },
        {"field": "practitionerIds[0]", "message": "no practitioner with this id in the account"},
    ]
    r = await partner.post(
        SETTING,
        json={"name": "X", "locationIds": ids["loc"], "fixedLocationId": foreign["loc"][0]},
    )
    assert r.status_code == 400 and "fixedLocationId" in fields(r)

    setting = await make_setting(partner, ids)
    r = await partner.put(
        f"{SETTING}/{setting['id']}", json={"practitionerIds": [foreign["prac"][0]]}
    )
    assert r.status_code == 400 and fields(r) == ["practitionerIds[0]"]
    # Duplicates collapse, first occurrence wins.
    r = await partner.put(
        f"{SETTING}/{setting['id']}",
        json={"practitionerIds": [ids["prac"][1], ids["prac"][0], ids["prac"][1]]},
    )
    assert r.status_code == 200 and r.json()["practitionerIds"] == [ids["prac"][1], ids["prac"][0]]

    # The other account's path ids are absent.
    other_setting = await make_setting(other, foreign)
    for method in ("get", "put", "delete"):
        kw = {"json": {"name": "Mine now"}} if method == "put" else {}
        r = await getattr(partner, method)(f"{SETTING}/{other_setting['id']}", **kw)
        assert r.status_code == 404, method
        assert problem_code(r) == "not_found"
    r = await other.get(f"{SETTING}/{other_setting['id']}")
    assert r.json()["name"] == "Online booking"


async def test_setting_wrong_json_types(partner):
    url = SETTING
    cases = [
        ({"name": 5}, "name"),
        ({"name": "X", "active": "maybe"}, "active"),
        ({"name": "X", "locationIds": "1,2"}, "locationIds"),
        ({"name": "X", "locationIds": [0]}, "locationIds[0]"),
        ({"name": "X", "locationIds": [2**64]}, "locationIds[0]"),
        ({"name": "X", "widget": []}, "widget"),
        ({"name": "X", "widget": {"allowedOrigins": "https://a.example"}}, "widget.allowedOrigins"),
        ({"name": ""}, "name"),
    ]
    for body, field in cases:
        r = await partner.post(url, json=body)
        assert r.status_code == 400, (body, r.text)
        assert problem_code(r) == "validation_failed"
        assert field in fields(r), (body, fields(r))
    r = await partner.post(url, json={})
    assert r.status_code == 400
    [error] = r.json()["errors"]
    assert error["field"] in ("name", "body")  # core names the missing field (in progress)
    assert error["message"] == "Object missing required field `name`"
    for raw in (b"[1, 2]", b"null", b"{not json", b'"name"'):
        r = await partner.post(url, content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (raw, r.text)
        assert problem_code(r) in ("validation_failed", "bad_request")
    setting = await partner.create(SETTING, {"name": "X"})
    r = await partner.put(f"{SETTING}/{setting['id']}", json={"fixedLocationId": "one"})
    assert r.status_code == 400 and fields(r) == ["fixedLocationId"]
    r = await partner.get(f"{SETTING}/{2**70}")
    assert r.status_code == 404 and problem_code(r) == "not_found"
    r = await partner.get(f"{SETTING}/0")
    assert r.status_code == 404


async def test_scheduling_scope_reads_but_cannot_write(partner, client):
    ids = await practice(partner)
    setting = await make_setting(partner, ids)
    config = await partner.create(configs_path(setting["id"]), config_body(ids))
    token = await fetch_token(client, partner.client_id, partner.secret, scope="scheduling")

    r = await partner.get(SETTING, token=token)
    assert r.status_code == 200 and [s["id"] for s in r.json()["settings"]] == [setting["id"]]
    r = await partner.get(f"{SETTING}/{setting['id']}", token=token)
    assert r.status_code == 200 and r.json()["schedulerConfigs"] == [config]
    r = await partner.get(configs_path(setting["id"]), token=token)
    assert r.status_code == 200 and r.json() == {"schedulerConfigs": [config]}
    r = await partner.get(f"{configs_path(setting['id'])}/{config['id']}", token=token)
    assert r.status_code == 200 and r.json() == config

    writes = [
        ("post", SETTING, {"name": "X"}),
        ("put", f"{SETTING}/{setting['id']}", {"name": "X"}),
        ("delete", f"{SETTING}/{setting['id']}", None),
        ("post", configs_path(setting["id"]), config_body(ids)),
        ("put", f"{configs_path(setting['id'])}/{config['id']}", {"maxPerDay": 3}),
        ("delete", f"{configs_path(setting['id'])}/{config['id']}", None),
    ]
    for method, path, body in writes:
        kw = {"json": body} if body is not None else {}
        r = await getattr(partner, method)(path, token=token, **kw)
        assert r.status_code == 403, (method, path)
        assert problem_code(r) == "forbidden"
    r = await partner.get(f"{SETTING}/{setting['id']}")
    assert r.json()["name"] == "Online booking" and r.json()["schedulerConfigs"] == [config]

    config_token = await fetch_token(client, partner.client_id, partner.secret, scope="config")
    r = await partner.get(SETTING, token=config_token)
    assert r.status_code == 403 and problem_code(r) == "forbidden"


# ------------------------------------------------------------------ scheduler configs


async def test_config_full_crud(partner):
    ids = await practice(partner)
    setting = await make_setting(partner, ids)
    base = configs_path(setting["id"])
    body = {
        "practitionerId": ids["prac"][0],
        "locationId": ids["loc"][0],
        "appointmentTypeIds": ids["type"],
        "slotIntervalMinutes": 30,
        "bufferBeforeMinutes": 5,
        "bufferAfterMinutes": 10,
        "maxPerDay": 8,
        "rules": [
            {"weekday": 2, "start": "13:00", "end": "17:00"},
            {"weekday": 0, "start": "12:00", "end": "17:00"},
            {"weekday": 0, "start": "09:00", "end": "12:00"},
        ],
        "overrides": [
            {
                "date": "2026-12-24",
                "windows": [{"start": "14:00", "end": "15:00"}, {"start": "09:00", "end": "12:00"}],
            },
            {"date": "2026-12-25", "unavailable": True},
        ],
        "blocks": [
            {
                "start": "2026-03-09T09:00:00-04:00",
                "end": "2026-03-09T10:30:00-04:00",
                "reason": "Staff meeting",
            },
            {"start": "2026-03-02T12:00:00Z", "end": "2026-03-02T13:00:00Z"},
        ],
    }
    created = await partner.create(base, body)
    assert created == {
        "id": created["id"],
        "practitionerId": ids["prac"][0],
        "locationId": ids["loc"][0],
        "appointmentTypeIds": ids["type"],
        "slotIntervalMinutes": 30,
        "bufferBeforeMinutes": 5,
        "bufferAfterMinutes": 10,
        "maxPerDay": 8,
        "rules": [
            {"weekday": 0, "start": "09:00", "end": "12:00"},
            {"weekday": 0, "start": "12:00", "end": "17:00"},
            {"weekday": 2, "start": "13:00", "end": "17:00"},
        ],
        "overrides": [
            {
                "date": "2026-12-24",
                "unavailable": False,
                "windows": [
                    {"start": "09:00", "end": "12:00"},
                    {"start": "14:00", "end": "15:00"},
                ],
            },
            {"date": "2026-12-25", "unavailable": True, "windows": []},
        ],
        "blocks": [
            {"start": "2026-03-02T12:00:00Z", "end": "2026-03-02T13:00:00Z", "reason": None},
            {
                "start": "2026-03-09T09:00:00-04:00",
                "end": "2026-03-09T10:30:00-04:00",
                "reason": "Staff meeting",
            },
        ],
    }
    one = f"{base}/{created['id']}"
    r = await partner.get(one)
    assert r.status_code == 200 and r.json() == created
    r = await partner.get(base)
    assert r.status_code == 200 and r.json() == {"schedulerConfigs": [created]}
    r = await partner.get(f"{SETTING}/{setting['id']}")
    assert r.json()["schedulerConfigs"] == [created]

    # Partial update: lists are replaced whole, the rest stays; maxPerDay null = no cap.
    r = await partner.put(
        one,
        json={
            "maxPerDay": None,
            "locationId": ids["loc"][1],
            "rules": [{"weekday": 6, "start": "10:00", "end": "11:00"}],
        },
    )
    assert r.status_code == 200, r.text
    updated = r.json()
    assert "maxPerDay" not in updated
    assert updated["locationId"] == ids["loc"][1]
    assert updated["rules"] == [{"weekday": 6, "start": "10:00", "end": "11:00"}]
    assert updated["overrides"] == created["overrides"]
    assert updated["blocks"] == created["blocks"]
    assert updated["slotIntervalMinutes"] == 30 and updated["bufferAfterMinutes"] == 10

    second = await partner.create(base, config_body(ids, practitionerId=ids["prac"][1]))
    r = await partner.get(base)
    assert [c["id"] for c in r.json()["schedulerConfigs"]] == [created["id"], second["id"]]

    r = await partner.delete(one)
    assert r.status_code == 204
    r = await partner.get(one)
    assert r.status_code == 404 and problem_code(r) == "not_found"
    r = await partner.get(base)
    assert r.json() == {"schedulerConfigs": [second]}

    # Deleting the setting takes its configs with it.
    r = await partner.delete(f"{SETTING}/{setting['id']}")
    assert r.status_code == 204
    r = await partner.get(f"{base}/{second['id']}")
    assert r.status_code == 404
    r = await partner.get(base)
    assert r.status_code == 404


async def test_config_minimal_defaults(partner):
    ids = await practice(partner)
    setting = await make_setting(partner, ids)
    created = await partner.create(
        configs_path(setting["id"]),
        {
            "practitionerId": ids["prac"][1],
            "locationId": ids["loc"][1],
            "appointmentTypeIds": [ids["type"][1], ids["type"][1]],
            "slotIntervalMinutes": 5,
        },
    )
    assert created == {
        "id": created["id"],
        "practitionerId": ids["prac"][1],
        "locationId": ids["loc"][1],
        "appointmentTypeIds": [ids["type"][1]],
        "slotIntervalMinutes": 5,
        "bufferBeforeMinutes": 0,
        "bufferAfterMinutes": 0,
        "rules": [],
        "overrides": [],
        "blocks": [],
    }


@pytest.mark.parametrize(
    ("rule", "bad"),
    [
        ({"weekday": 0, "start": "24:00", "end": "25:00"}, ["rules[0].start", "rules[0].end"]),
        ({"weekday": 0, "start": "9:00", "end": "12:00"}, ["rules[0].start"]),
        ({"weekday": 0, "start": "09:00", "end": "12:60"}, ["rules[0].end"]),
        ({"weekday": 0, "start": "09:00:00", "end": "12:00"}, ["rules[0].start"]),
        ({"weekday": 0, "start": "noon", "end": "12:00"}, ["rules[0].start"]),
        ({"weekday": 0, "start": "12:00", "end": "09:00"}, ["rules[0].end"]),
        ({"weekday": 0, "start": "12:00", "end": "12:00"}, ["rules[0].end"]),
        ({"weekday": 7, "start": "09:00", "end": "12:00"}, ["rules[0].weekday"]),
        ({"weekday": -1, "start": "09:00", "end": "12:00"}, ["rules[0].weekday"]),
        ({"weekday": 0, "start": 900, "end": "12:00"}, ["rules[0].start"]),
        ({"weekday": 0, "start": "09:00"}, ["rules[0]"]),
    ],
)
async def test_config_bad_times(partner, rule, bad):
    ids = await practice(partner)
    setting = await make_setting(partner, ids)
    r = await partner.post(configs_path(setting["id"]), json=config_body(ids, rules=[rule]))
    assert r.status_code == 400, r.text
    assert problem_code(r) == "validation_failed"
    got = fields(r)
    assert all(any(g.startswith(b) for g in got) for b in bad), got
    r = await partner.get(configs_path(setting["id"]))
    assert r.json() == {"schedulerConfigs": []}


async def test_config_window_ending_before_start_message(partner):
    ids = await practice(partner)
    setting = await make_setting(partner, ids)
    r = await partner.post(
        configs_path(setting["id"]),
        json=config_body(ids, rules=[{"weekday": 3, "start": "17:00", "end": "08:00"}]),
    )
    assert r.status_code == 400
    assert r.json()["errors"] == [
        {
            "field": "rules[0].end",
            "message": "must be later than start (a window cannot end before it starts)",
        }
    ]


async def test_config_overlapping_rules(partner):
    ids = await practice(partner)
    setting = await make_setting(partner, ids)
    base = configs_path(setting["id"])
    rules = [
        {"weekday": 1, "start": "09:00", "end": "17:00"},
        {"weekday": 2, "start": "10:00", "end": "11:00"},
        {"weekday": 1, "start": "10:00", "end": "11:00"},
        {"weekday": 1, "start": "12:00", "end": "13:00"},
    ]
    r = await partner.post(base, json=config_body(ids, rules=rules))
    assert r.status_code == 400
    assert r.json()["errors"] == [
        {"field": "rules[2]", "message": "overlaps rules[0] on the same weekday"},
        {"field": "rules[3]", "message": "overlaps rules[0] on the same weekday"},
    ]
    # Touching windows and the same hours on different days are fine.
    ok = [
        {"weekday": 1, "start": "09:00", "end": "12:00"},
        {"weekday": 1, "start": "12:00", "end": "17:00"},
        {"weekday": 2, "start": "09:00", "end": "12:00"},
    ]
    created = await partner.create(base, config_body(ids, rules=ok))
    assert created["rules"] == ok
    r = await partner.put(
        f"{base}/{created['id']}",
        json={
            "overrides": [
                {
                    "date": "2026-05-01",
                    "windows": [
                        {"start": "09:00", "end": "11:00"},
                        {"start": "10:30", "end": "12:00"},
                    ],
                }
            ]
        },
    )
    assert r.status_code == 400
    assert fields(r) == ["overrides[0].windows[1]"]
    r = await partner.get(f"{base}/{created['id']}")
    assert r.json()["overrides"] == []


async def test_config_overrides(partner):
    ids = await practice(partner)
    setting = await make_setting(partner, ids)
    base = configs_path(setting["id"])
    cases = [
        (
            [
                {"date": "2026-05-01", "unavailable": True},
                {"date": "2026-05-01", "unavailable": True},
            ],
            ["overrides[1].date"],
        ),
        (
            [
                {
                    "date": "2026-05-01",
                    "unavailable": True,
                    "windows": [{"start": "09:00", "end": "10:00"}],
                }
            ],
            ["overrides[0].windows"],
        ),
        ([{"date": "2026-05-01"}], ["overrides[0]"]),
        ([{"date": "2026-02-30", "unavailable": True}], ["overrides[0].date"]),
        ([{"date": "05/01/2026", "unavailable": True}], ["overrides[0].date"]),
        (
            [{"date": "2026-05-01", "windows": [{"start": "10:00", "end": "09:00"}]}],
            ["overrides[0].windows[0].end"],
        ),
        ([{"date": "2026-05-01", "unavailable": "yes please"}], ["overrides[0].unavailable"]),
    ]
    for overrides, bad in cases:
        r = await partner.post(base, json=config_body(ids, overrides=overrides))
        assert r.status_code == 400, (overrides, r.text)
        assert fields(r) == bad, overrides


async def test_config_blocks(partner):
    ids = await practice(partner)
    setting = await make_setting(partner, ids)
    base = configs_path(setting["id"])
    cases = [
        ([{"start": "2026-03-09T09:00:00", "end": "2026-03-09T10:00:00-04:00"}], "blocks[0].start"),
        (
            [{"start": "2026-03-09T09:00:00-04:00", "end": "2026-03-09T08:00:00-04:00"}],
            "blocks[0].end",
        ),
        (
            [{"start": "2026-03-09T09:00:00-04:00", "end": "2026-03-09T09:00:00-04:00"}],
            "blocks[0].end",
        ),
        ([{"start": "2026-03-09", "end": "2026-03-10"}], "blocks[0].start"),
        ([{"start": "tomorrow", "end": "2026-03-10T00:00:00Z"}], "blocks[0].start"),
    ]
    for blocks, field in cases:
        r = await partner.post(base, json=config_body(ids, blocks=blocks))
        assert r.status_code == 400, (blocks, r.text)
        assert fields(r) == [field], blocks


async def test_config_numeric_ranges(partner):
    ids = await practice(partner)
    setting = await make_setting(partner, ids)
    base = configs_path(setting["id"])
    cases = [
        ({"slotIntervalMinutes": 4}, "slotIntervalMinutes"),
        ({"slotIntervalMinutes": 241}, "slotIntervalMinutes"),
        ({"bufferBeforeMinutes": -1}, "bufferBeforeMinutes"),
        ({"bufferAfterMinutes": 241}, "bufferAfterMinutes"),
        ({"maxPerDay": 0}, "maxPerDay"),
        ({"appointmentTypeIds": []}, "appointmentTypeIds"),
        ({"slotIntervalMinutes": "fifteen"}, "slotIntervalMinutes"),
        ({"slotIntervalMinutes": 15.5}, "slotIntervalMinutes"),
        ({"rules": {"weekday": 0}}, "rules"),
        ({"practitionerId": None}, "practitionerId"),
    ]
    for extra, field in cases:
        r = await partner.post(base, json=config_body(ids, **extra))
        assert r.status_code == 400, (extra, r.text)
        assert fields(r) == [field], extra
    created = await partner.create(
        base, config_body(ids, slotIntervalMinutes=240, bufferBeforeMinutes=240, maxPerDay=1)
    )
    assert (
        created["slotIntervalMinutes"],
        created["bufferBeforeMinutes"],
        created["maxPerDay"],
    ) == (
        240,
        240,
        1,
    )
    for raw in (b"[]", b"null", b"{"):
        r = await partner.post(base, content=raw, headers={"Content-Type": "application/json"})
        assert r.status_code == 400, raw
    r = await partner.put(f"{base}/{created['id']}", json={"bufferAfterMinutes": "lots"})
    assert r.status_code == 400 and fields(r) == ["bufferAfterMinutes"]


async def test_config_references(partner, client, pool):
    ids = await practice(partner)
    extra_prac = await partner.create("/practitioner", {"firstName": "Cy", "lastName": "Dee"})
    setting = await make_setting(
        partner,
        ids,
        practitionerIds=[ids["prac"][0]],
        locationIds=[ids["loc"][0]],
        appointmentTypeIds=[ids["type"][0]],
    )
    other = await make_partner(client, pool)
    foreign = await practice(other)
    base = configs_path(setting["id"])

    # Exists in the account but is not part of the setting.
    r = await partner.post(
        base,
        json=config_body(
            ids,
            practitionerId=extra_prac["id"],
            locationId=ids["loc"][1],
            appointmentTypeIds=[ids["type"][0], ids["type"][1]],
        ),
    )
    assert r.status_code == 400
    assert r.json()["errors"] == [
        {"field": "practitionerId", "message": "is not one of the setting's practitionerIds"},
        {"field": "locationId", "message": "is not one of the setting's locationIds"},
        {
            "field": "appointmentTypeIds[1]",
            "message": "is not one of the setting's appointmentTypeIds",
        },
    ]
    # Unknown, or another account's: 400 naming the field (body values, not path ids).
    r = await partner.post(
        base,
        json=config_body(
            ids,
            practitionerId=foreign["prac"][0],
            locationId=999_999_999,
            appointmentTypeIds=[foreign["type"][0]],
        ),
    )
    assert r.status_code == 400
    assert r.json()["errors"] == [
        {"field": "practitionerId", "message": "no practitioner with this id in the account"},
        {"field": "locationId", "message": "no location with this id in the account"},
        {
            "field": "appointmentTypeIds[0]",
            "message": "no appointment type with this id in the account",
        },
    ]
    created = await partner.create(base, config_body(ids))
    r = await partner.put(f"{base}/{created['id']}", json={"practitionerId": ids["prac"][1]})
    assert r.status_code == 400 and fields(r) == ["practitionerId"]


async def test_config_path_ids_of_others_are_404(partner, client, pool):
    ids = await practice(partner)
    setting_a = await make_setting(partner, ids)
    setting_b = await make_setting(partner, ids, name="Second")
    config_a = await partner.create(configs_path(setting_a["id"]), config_body(ids))

    # A config seen through another setting of the same account.
    wrong = f"{configs_path(setting_b['id'])}/{config_a['id']}"
    r = await partner.get(wrong)
    assert r.status_code == 404 and problem_code(r) == "not_found"
    r = await partner.put(wrong, json={"maxPerDay": 2})
    assert r.status_code == 404
    r = await partner.delete(wrong)
    assert r.status_code == 404
    r = await partner.get(f"{configs_path(setting_a['id'])}/{config_a['id']}")
    assert r.status_code == 200 and "maxPerDay" not in r.json()

    # Another account's setting and config.
    other = await make_partner(client, pool)
    foreign = await practice(other)
    other_setting = await make_setting(other, foreign)
    other_config = await other.create(configs_path(other_setting["id"]), config_body(foreign))
    theirs = configs_path(other_setting["id"])
    for method, path, body in [
        ("get", theirs, None),
        ("post", theirs, config_body(ids)),
        ("get", f"{theirs}/{other_config['id']}", None),
        ("put", f"{theirs}/{other_config['id']}", {"maxPerDay": 1}),
        ("delete", f"{theirs}/{other_config['id']}", None),
        ("get", f"{configs_path(setting_a['id'])}/{other_config['id']}", None),
        ("get", f"{configs_path(setting_a['id'])}/{2**70}", None),
    ]:
        kw = {"json": body} if body is not None else {}
        r = await getattr(partner, method)(path, **kw)
        assert r.status_code == 404, (method, path, r.text)
        assert problem_code(r) == "not_found"
    r = await other.get(f"{theirs}/{other_config['id']}")
    assert r.status_code == 200 and r.json() == other_config


async def test_setting_cannot_drop_ids_its_configs_use(partner):
    ids = await practice(partner)
    setting = await make_setting(partner, ids)
    await partner.create(configs_path(setting["id"]), config_body(ids))
    url = f"{SETTING}/{setting['id']}"
    r = await partner.put(url, json={"practitionerIds": [ids["prac"][1]]})
    assert r.status_code == 409 and problem_code(r) == "in_use"
    assert r.json()["fields"] == ["practitionerIds"]
    r = await partner.put(
        url, json={"appointmentTypeIds": [ids["type"][1]], "locationIds": [ids["loc"][1]]}
    )
    assert r.status_code == 409 and r.json()["fields"] == ["locationIds", "appointmentTypeIds"]
    # Ids no config uses can go.
    r = await partner.put(url, json={"practitionerIds": [ids["prac"][0]]})
    assert r.status_code == 200 and r.json()["practitionerIds"] == [ids["prac"][0]]
    # And a location still in a setting cannot be deleted under it.
    r = await partner.delete(f"/location/{ids['loc'][0]}")
    assert r.status_code == 409 and problem_code(r) == "in_use"


async def test_configs_for_setting_joins_time_zone(partner, pool):
    ids = await practice(partner)
    setting = await make_setting(partner, ids)
    a = await partner.create(configs_path(setting["id"]), config_body(ids))
    b = await partner.create(
        configs_path(setting["id"]),
        config_body(
            ids,
            locationId=ids["loc"][1],
            practitionerId=ids["prac"][1],
            blocks=[
                {
                    "start": "2026-03-09T09:00:00-04:00",
                    "end": "2026-03-09T10:00:00-04:00",
                    "reason": None,
                }
            ],
        ),
    )
    async with pool.acquire() as conn:
        rows = await configs_for_setting(conn, partner.account_id, setting["id"])
        none = await configs_for_setting(conn, partner.account_id + 10_000, setting["id"])
    assert none == []
    assert [r["id"] for r in rows] == [a["id"], b["id"]]
    assert [r["time_zone"] for r in rows] == ["America/New_York", "America/Los_Angeles"]
    assert rows[0]["rules"] == [{"weekday": 0, "start": "09:00", "end": "12:00"}]
    assert rows[1]["blocks"] == [
        {"start": "2026-03-09T09:00:00-04:00", "end": "2026-03-09T10:00:00-04:00", "reason": None}
    ]
    assert rows[0]["location_active"] is True and rows[0]["practitioner_active"] is True
    assert rows[1]["slot_interval_minutes"] == 15


async def test_openapi_documents_the_bodies(client):
    r = await client.get("/schema/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    base = "/partner/v2/account/{account_id}/self-scheduling/setting"
    assert set(doc["paths"][base]) == {"get", "post"}
    assert set(doc["paths"][base + "/{setting_id}"]) == {"get", "put", "delete"}
    assert set(doc["paths"][base + "/{setting_id}/scheduler-config"]) == {"get", "post"}
    schemas = doc["components"]["schemas"]
    setting = next(v for k, v in schemas.items() if k.endswith("Setting"))
    assert "arePractitionersSelectable" in setting["properties"]
    assert "schedulerConfigs" in setting["properties"]
    config_in = next(v for k, v in schemas.items() if k.endswith("SchedulerConfigIn"))
    assert set(config_in["required"]) == {
        "practitionerId",
        "locationId",
        "appointmentTypeIds",
        "slotIntervalMinutes",
    }
