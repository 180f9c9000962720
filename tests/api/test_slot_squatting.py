"""Anonymous slot squatting (issue 12): a hold needs a sent code, lasts 3 minutes until the
attempt is verified, and widget holds are capped per client address and per publishable key."""

from datetime import UTC, datetime, timedelta

import httpx
import msgspec
import pytest

from app.core import clock
from tests.builders import build_practice
from tests.support import last_code, problem_code

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
MONDAY = datetime(2026, 3, 9, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    current = {"now": NOW}
    monkeypatch.setattr(clock, "now", lambda: current["now"])
    return current


def slot(practice, n):
    """The n-th half-hour slot of the week of 9 March (09:00-12:00 New York, Mon-Fri)."""
    day, index = divmod(n, 6)
    start = MONDAY + timedelta(days=day, hours=13, minutes=30 * index)  # 09:00 EDT = 13:00 UTC
    return {
        "appointmentTypeId": practice.appointment_type_id,
        "locationId": practice.location_ids[0],
        "practitionerId": practice.practitioner_ids[0],
        "schedulerConfigId": practice.config_ids[0],
        "startDateTime": start.isoformat(),
    }


async def test_a_partner_hold_needs_a_sent_code_and_is_short_until_verified(partner, pool):
    practice = await build_practice(partner)  # EMAIL
    bare = await partner.create(
        "/self-scheduling/attempt", {"selfSchedulingSettingId": practice.setting_id}
    )
    refused = await partner.post(
        f"/self-scheduling/attempt/{bare['id']}/hold", json=slot(practice, 0)
    )
    assert refused.status_code == 409 and problem_code(refused) == "code_not_sent"

    proof = await partner.create("/identity-proof", {"verificationMethod": "EMAIL"})
    attempt = await partner.create(
        "/self-scheduling/attempt",
        {"selfSchedulingSettingId": practice.setting_id, "identityProofId": proof["id"]},
    )
    base = f"/self-scheduling/attempt/{attempt['id']}"
    refused = await partner.post(f"{base}/hold", json=slot(practice, 0))
    assert refused.status_code == 409 and problem_code(refused) == "code_not_sent"
    assert (
        await pool.fetchval("SELECT count(*) FROM holds WHERE attempt_id = $1", attempt["id"]) == 0
    )

    email = "squat.partner@example.com"
    await partner.post(f"/identity-proof/{proof['id']}/send", json={"email": email})
    held = await partner.post(f"{base}/hold", json=slot(practice, 0))
    assert held.status_code == 201, held.text
    assert held.json()["expiresAt"].startswith("2026-03-02T12:03:00")

    code = await last_code(pool, partner.account_id)
    await partner.post(f"/identity-proof/{proof['id']}/verify", json={"code": code, "email": email})
    held = await partner.post(f"{base}/hold", json=slot(practice, 1))
    assert held.status_code == 201, held.text
    assert held.json()["expiresAt"].startswith("2026-03-02T12:10:00")


class Visitor:
    """One widget visitor from one client address."""

    def __init__(self, app, ip, key):
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        self.http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        self.key = key

    async def start_and_send(self, email):
        headers = {"X-Widget-Key": self.key}
        started = await self.http.post("/widget/v1/attempt", headers=headers)
        assert started.status_code == 201, started.text
        headers["Authorization"] = f"Bearer {started.json()['attemptToken']}"
        sent = await self.http.post(
            "/widget/v1/attempt/send-code", headers=headers, json={"email": email}
        )
        assert sent.status_code == 200, sent.text
        return headers

    async def hold(self, headers, body):
        return await self.http.post("/widget/v1/attempt/hold", headers=headers, json=body)


async def test_live_widget_holds_are_capped_per_client_address(
    partner, app, settings, frozen_clock
):
    practice = await build_practice(partner)
    squatter = Visitor(app, "203.0.113.7", practice.publishable_key)
    cap = settings.holds_per_client
    sessions = []
    for n in range(cap):
        headers = await squatter.start_and_send(f"squat{n}@example.com")
        held = await squatter.hold(headers, slot(practice, n))
        assert held.status_code == 201, held.text
        sessions.append(headers)
    # re-holding with an attempt that already holds replaces its hold: not one more
    assert (await squatter.hold(sessions[0], slot(practice, 20))).status_code == 201

    extra = await squatter.start_and_send("squat-extra@example.com")
    refused = await squatter.hold(extra, slot(practice, cap))
    assert refused.status_code == 429 and problem_code(refused) == "rate_limited"
    assert refused.headers["Retry-After"] == "180"  # the oldest live hold expires in 3 minutes
    assert refused.json()["retryAfterSeconds"] == 180

    neighbour = Visitor(app, "198.51.100.9", practice.publishable_key)
    mine = await neighbour.start_and_send("neighbour@example.com")
    assert (await neighbour.hold(mine, slot(practice, cap))).status_code == 201

    frozen_clock["now"] = NOW + timedelta(minutes=3)  # the squatter's first holds expired
    assert (await squatter.hold(extra, slot(practice, cap + 1))).status_code == 201


async def test_live_widget_holds_are_capped_per_publishable_key(
    partner, app, settings, monkeypatch
):
    monkeypatch.setattr(
        app.state, "settings", msgspec.structs.replace(settings, holds_per_widget_key=3)
    )
    practice = await build_practice(partner)
    other_practice = await build_practice(partner)
    for n in range(3):
        visitor = Visitor(app, f"192.0.2.{n + 1}", practice.publishable_key)
        headers = await visitor.start_and_send(f"key{n}@example.com")
        assert (await visitor.hold(headers, slot(practice, n))).status_code == 201
    late = Visitor(app, "192.0.2.50", practice.publishable_key)
    headers = await late.start_and_send("key-late@example.com")
    refused = await late.hold(headers, slot(practice, 3))
    assert refused.status_code == 429 and problem_code(refused) == "rate_limited"
    # another practice's key has its own cap
    elsewhere = Visitor(app, "192.0.2.50", other_practice.publishable_key)
    headers = await elsewhere.start_and_send("key-elsewhere@example.com")
    assert (await elsewhere.hold(headers, slot(other_practice, 3))).status_code == 201
