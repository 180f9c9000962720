"""An unchanged Lobbie client: the requests of Lobbie's Partner API documentation, sent the
way Lobbie's clients send them (its token request with `scope=prod-lobbie-api/partner-api`
and an `x-api-key` header on every call, its JSON bodies, its paths), asserting the fields,
formats and status codes Lobbie documents (docs/lobbie.md).

Lobbie's documented answers are checked as subsets: our additive members (`status`, `steps`,
`createdAt`, …) are extra keys a Lobbie client ignores."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import msgspec
import pytest

from app.partners.store import new_api_key
from tests.builders import build_practice, insert_appointment
from tests.support import Partner, frozen_clock_at, last_code, make_partner

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # Monday 07:00 in New York
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
LOBBIE_HEADERS = {"x-api-key": "lobbie-partner-api-key", "Content-Type": "application/json"}


frozen_clock = frozen_clock_at(NOW)


class LobbieClient:
    """What a Lobbie integration does: a token from /oauth/token, then Bearer + x-api-key."""

    def __init__(self, http: httpx.AsyncClient, account_id: int) -> None:
        self.http, self.account_id, self.token = http, account_id, ""

    async def authenticate(self, client_id: str, secret: str) -> httpx.Response:
        response = await self.http.post(
            "/oauth/token",
            content=(
                f"grant_type=client_credentials&client_id={client_id}"
                f"&client_secret={secret}&scope=prod-lobbie-api/partner-api"
            ),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "x-api-key": LOBBIE_HEADERS["x-api-key"],
            },
        )
        self.token = response.json().get("access_token", "")
        return response

    async def call(self, method: str, path: str, **kw) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **LOBBIE_HEADERS}
        url = f"/partner/v2/account/{self.account_id}{path}"
        return await self.http.request(method, url, headers=headers, **kw)


def has(body: dict, **expected) -> bool:
    return all(body.get(k) == v for k, v in expected.items())


@pytest.fixture
async def lobbie(client, pool, partner: Partner):
    practice = await build_practice(partner, method="EMAIL_AND_SMS")
    lobbie = LobbieClient(client, partner.account_id)
    token = await lobbie.authenticate(partner.client_id, partner.secret)
    assert token.status_code == 200, token.text
    body = token.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["access_token"].count(".") == 2  # a JWT
    assert body["scope"] == "prod-lobbie-api/partner-api"  # echoed as sent
    return lobbie, practice


async def test_the_self_scheduling_flow_as_lobbie_documents_it(lobbie, pool):
    client, practice = lobbie
    account = client.account_id

    # identity proof
    r = await client.call("POST", "/identity-proof", json={"verificationMethod": "EMAIL_AND_SMS"})
    assert r.status_code == 201, r.text
    proof = r.json()
    assert isinstance(proof["id"], int) and proof["token"]
    assert has(proof, verificationMethod="EMAIL_AND_SMS", isVerified=False)
    assert sorted(proof["missingVerifications"]) == ["EMAIL", "SMS"]

    # setting
    r = await client.call("GET", f"/self-scheduling/setting/{practice.setting_id}")
    assert r.status_code == 200, r.text
    setting = r.json()
    assert has(setting, id=practice.setting_id, active=True, verificationMethod="EMAIL_AND_SMS")
    fields = ("locationIds", "appointmentTypeIds", "practitionerIds", "schedulerConfigs",
              "arePractitionersSelectable", "forwardBookingLimit", "forwardBookingLimitUnit",
              "afterwardBookingLimit")  # fmt: skip
    assert all(field in setting for field in fields), setting

    # attempt, exactly Lobbie's curl body
    r = await client.call(
        "POST",
        "/self-scheduling/attempt",
        json={"identityProofId": proof["id"], "selfSchedulingSettingId": practice.setting_id},
    )
    assert r.status_code == 201, r.text
    attempt = r.json()
    assert has(attempt, identityProofId=proof["id"], selfSchedulingSettingId=practice.setting_id,
               isVerified=False)  # fmt: skip
    assert "patientId" not in attempt and "appointmentId" not in attempt  # omitted until set

    # both codes
    for contact in ({"email": "lee@lobbie.example"}, {"phone": "2025550123"}):
        r = await client.call("POST", f"/identity-proof/{proof['id']}/send", json=contact)
        assert r.status_code == 200 and r.json() == {"sent": True}, r.text
        code = await last_code(pool, account)
        r = await client.call(
            "POST", f"/identity-proof/{proof['id']}/verify", json={"code": code, **contact}
        )
        assert r.status_code == 200 and r.json()["verified"] is True, r.text
    r = await client.call("GET", f"/identity-proof/{proof['id']}")
    assert has(r.json(), isVerified=True, missingVerifications=[], verifiedPhone="2025550123",
               verifiedEmail="lee@lobbie.example")  # fmt: skip
    r = await client.call("GET", f"/identity-proof/{proof['id']}/patient")
    assert r.status_code == 404  # nobody holds these contacts yet

    # availability
    start = datetime(2026, 3, 9, 4, 0, tzinfo=UTC)  # 9 March, 00:00 in New York
    r = await client.call(
        "GET",
        "/self-scheduling/availability",
        params={
            "selfSchedulingSettingId": practice.setting_id,
            "startUnix": int(start.timestamp() * 1000),
            "endUnix": int((start + timedelta(days=1)).timestamp() * 1000),
            "locationId": practice.location_ids[0],
            "appointmentTypeId": practice.appointment_type_id,
        },
    )
    assert r.status_code == 200, r.text
    availability = r.json()
    assert availability["timeZone"] == "America/New_York"
    (day,) = availability["slotsByDate"]
    assert day == "3/9/2026"  # M/d/yyyy in the location's zone
    slot = availability["slotsByDate"][day][0]
    assert slot["startDateTime"] == "2026-03-09T09:00:00-04:00" and ISO.match(slot["endDateTime"])
    assert slot["startUnix"] == int(
        datetime.fromisoformat(slot["startDateTime"]).timestamp() * 1000
    )

    # patient
    r = await client.call(
        "POST",
        f"/self-scheduling/attempt/{attempt['id']}/patient",
        json={"firstName": "Lee", "lastName": "Park", "dateOfBirth": "1980-02-03",
              "email": "lee@lobbie.example", "phone": "2025550123"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    patient = r.json()
    assert has(patient, firstName="Lee", lastName="Park", dateOfBirth="1980-02-03",
               email="lee@lobbie.example", mobilePhone="12025550123")  # fmt: skip

    # appointment, Lobbie's body shape
    r = await client.call(
        "POST",
        f"/self-scheduling/attempt/{attempt['id']}/appointment",
        json={
            "appointmentTypeId": practice.appointment_type_id,
            "locationId": practice.location_ids[0],
            "practitionerId": practice.practitioner_ids[0],
            "schedulerConfigId": practice.config_ids[0],
            "startDateTime": "2026-03-09T09:00:00-04:00",
        },
    )
    assert r.status_code == 201, r.text
    appointment = r.json()
    assert has(appointment, appointmentTypeId=practice.appointment_type_id,
               locationId=practice.location_ids[0], practitionerId=practice.practitioner_ids[0],
               startDateTime="2026-03-09T09:00:00-04:00", endDateTime="2026-03-09T09:30:00-04:00",
               status="SCHEDULED", telehealth=False, formCount=0)  # fmt: skip

    r = await client.call("GET", f"/self-scheduling/attempt/{attempt['id']}")
    assert r.status_code == 200
    assert has(r.json(), id=attempt["id"], isVerified=True, patientId=patient["id"],
               appointmentId=appointment["id"], identityProofId=proof["id"])  # fmt: skip
    r = await client.call("GET", f"/identity-proof/{proof['id']}/patient")
    assert r.status_code == 200 and r.json() == {"patientId": patient["id"]}


async def test_validation_failures_use_lobbies_statuses(lobbie, client):
    lobbie_client, practice = lobbie
    wrong = await lobbie_client.call("POST", "/identity-proof", json={"verificationMethod": "SMS"})
    r = await lobbie_client.call(
        "POST",
        "/self-scheduling/attempt",
        json={
            "identityProofId": wrong.json()["id"],
            "selfSchedulingSettingId": practice.setting_id,
        },
    )
    assert r.status_code == 400 and r.json()["code"] == "verification_method_mismatch"
    r = await lobbie_client.call(
        "POST", "/self-scheduling/attempt", json={"selfSchedulingSettingId": 987654321}
    )
    assert r.status_code == 404
    r = await lobbie_client.http.post(
        f"/partner/v2/account/{lobbie_client.account_id}/self-scheduling/attempt",
        json={"selfSchedulingSettingId": practice.setting_id},
    )
    assert r.status_code == 401  # no token
    stranger = LobbieClient(client, 987654321)
    stranger.token = lobbie_client.token
    r = await stranger.call("GET", "/location")
    assert r.status_code == 403  # no grant on that account


async def test_locations_appointments_patients_and_webhooks(lobbie, pool):
    client, practice = lobbie
    r = await client.call(
        "POST",
        "/location",
        json={"name": "Lobbie Uptown", "timeZone": "America/New_York", "storeId": "store-9",
              "phoneNumber": "2025550188",
              "address": {"address1": "1 Main St", "address2": "Suite 2", "city": "Washington",
                          "state": "DC", "postalCode": "20001"}},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    r = await client.call("GET", "/location", params={"name": "UPTOWN", "sortBy": "NAME",
                                                      "sortDir": "ASC"})  # fmt: skip
    assert r.status_code == 200, r.text
    (location,) = r.json()["locations"]
    assert has(location, name="Lobbie Uptown", storeId="store-9", phoneNumber="2025550188",
               active=True, timeZone="America/New_York")  # fmt: skip
    assert location["address"] == {
        "address1": "1 Main St", "address2": "Suite 2", "city": "Washington", "state": "DC",
        "postalCode": "20001",
    }  # fmt: skip

    ny = practice.location_ids[0]
    early, late = [
        await insert_appointment(
            pool, practice, practitioner_id=practice.practitioner_ids[0], location_id=ny,
            start=datetime.fromisoformat(text),
        )
        for text in ("2026-03-11T09:00:00-04:00", "2026-03-10T09:00:00-04:00")
    ]  # fmt: skip
    r = await client.call(
        "GET",
        f"/location/{ny}/appointment",
        params={"startDate": "2026-03-10", "endDate": "2026-03-12",
                "appointmentTypeId": practice.appointment_type_id,
                "sortBy": "START_TIME", "sortDir": "DESC"},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    listed = r.json()["appointments"]
    assert [a["id"] for a in listed] == [early, late]
    first = listed[0]
    assert has(first, startTime="2026-03-11T09:00:00-04:00", endTime="2026-03-11T09:30:00-04:00",
               durationMinutes=30, note=None, status="SCHEDULED", locationId=ny)  # fmt: skip
    assert ISO.match(first["startTime"]) and first["updatedAt"]
    r = await client.call("GET", f"/location/{ny}/appointment", params={"startDate": "2030-01-01"})
    assert r.json()["appointments"] == []

    r = await client.call(
        "POST",
        "/patients",
        json={"firstName": "Ada", "lastName": "Byron", "dateOfBirth": "1985-12-10",
              "email": "ada@lobbie.example", "mobilePhone": "2025550177"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert has(r.json(), firstName="Ada", mobilePhone="12025550177")
    ada = r.json()["id"]

    r = await client.call(
        "POST",
        f"/location/{ny}/appointment",
        json={"patientId": ada, "appointmentTypeId": practice.appointment_type_id,
              "practitionerId": practice.practitioner_ids[0],
              "startTime": "2026-03-09T10:00:00-04:00", "note": "first visit"},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    booked = r.json()
    assert has(booked, patientId=ada, startTime="2026-03-09T10:00:00-04:00", note="first visit",
               durationMinutes=30, status="SCHEDULED")  # fmt: skip
    r = await client.call(
        "PUT", f"/location/{ny}/appointment/{booked['id']}", json={"status": "CHECKED_IN"}
    )
    assert r.status_code == 200 and r.json()["status"] == "CHECKED_IN"

    r = await client.call(
        "POST",
        "/webhook-endpoint",
        json={"url": "http://127.0.0.1:9/lobbie", "events": ["appointment.status_changed"]},
    )
    assert r.status_code == 201, r.text
    endpoint = r.json()
    r = await client.call("GET", f"/webhook-endpoint/{endpoint['id']}")
    assert r.status_code == 200
    assert has(r.json(), id=endpoint["id"], url="http://127.0.0.1:9/lobbie",
               events=["appointment.status_changed"])  # fmt: skip
    r = await client.call("DELETE", f"/webhook-endpoint/{endpoint['id']}")
    assert r.status_code == 204
    r = await client.call("GET", f"/webhook-endpoint/{endpoint['id']}")
    assert r.status_code == 404


async def test_an_unknown_scope_is_still_refused(client, pool):
    other = await make_partner(client, pool)
    r = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": other.client_id,
              "client_secret": other.secret, "scope": "prod-lobbie-api/everything"},
    )  # fmt: skip
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"


async def test_a_required_api_key_is_checked_on_the_token_and_every_call(
    app, client, pool, settings, monkeypatch
):
    other = await make_partner(client, pool)
    async with pool.acquire() as conn:
        api_key = await new_api_key(conn, settings.secret_key, other.client_id)
    monkeypatch.setattr(
        app.state, "settings", msgspec.structs.replace(settings, require_api_key=True)
    )
    form = {"grant_type": "client_credentials", "client_id": other.client_id,
            "client_secret": other.secret, "scope": "prod-lobbie-api/partner-api"}  # fmt: skip
    for key in (None, "key_wrong"):
        headers = {"x-api-key": key} if key else {}
        r = await client.post("/oauth/token", data=form, headers=headers)
        assert r.status_code == 401 and r.json()["error"] == "invalid_client", key
        r = await other.get("/location", headers=headers)  # its token predates the setting
        assert r.status_code == 401 and r.json()["code"] == "invalid_token", key
    r = await client.post("/oauth/token", data=form, headers={"x-api-key": api_key})
    assert r.status_code == 200, r.text
    r = await other.get("/location", headers={"x-api-key": api_key})
    assert r.status_code == 200, r.text
