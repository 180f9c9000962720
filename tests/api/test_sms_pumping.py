"""SMS pumping (issue 12): only mobile numbers of the setting's countries get texts, one client
address cannot fan texts out to many numbers, numbers sharing a prefix are rate-limited, and
each setting and account has a daily SMS budget with one `budget.exhausted` event a day."""

from datetime import UTC, datetime, timedelta

import httpx
import msgspec
import phonenumbers
import pytest
from phonenumbers import PhoneNumberType as Type

from app.core import clock
from app.identity import store
from tests.builders import build_practice
from tests.support import problem_code

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    current = {"now": NOW}
    monkeypatch.setattr(clock, "now", lambda: current["now"])
    monkeypatch.setattr(store, "clock", lambda: current["now"])
    return current


def example(region, kind):
    number = phonenumbers.example_number_for_type(region, kind)
    assert number is not None, (region, kind)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def us_numbers(count, exchange_from=200):
    """Valid US numbers, each in its own exchange (its own destination prefix)."""
    found, exchange = [], exchange_from
    while len(found) < count:
        number = f"+1202{exchange:03d}0147"
        if phonenumbers.is_valid_number(phonenumbers.parse(number)):
            found.append(number)
        exchange += 1
    return found


async def sms_count(pool, account_id):
    return await pool.fetchval(
        "SELECT count(*) FROM notifications WHERE account_id = $1 AND channel = 'SMS'", account_id
    )


class Visitor:
    def __init__(self, app, ip, key):
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        self.http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        self.key = {"X-Widget-Key": key}

    async def send(self, phone):
        started = (await self.http.post("/widget/v1/attempt", headers=self.key)).json()
        headers = {**self.key, "Authorization": f"Bearer {started['attemptToken']}"}
        return await self.http.post(
            "/widget/v1/attempt/send-code", headers=headers, json={"phone": phone}
        )


async def test_only_mobile_numbers_of_allowed_countries_get_a_text(partner, app, pool):
    practice = await build_practice(partner, method="SMS")
    allowed = await partner.put(
        f"/self-scheduling/setting/{practice.setting_id}",
        json={"allowedPhoneCountries": ["US", "CA", "GB", "FR"]},
    )
    assert allowed.status_code == 200, allowed.text
    visitor = Visitor(app, "198.51.100.20", practice.publishable_key)
    refused = [
        "+19005550123",  # US premium rate
        "+18005550123",  # US toll free
        example("GB", Type.PREMIUM_RATE),
        example("GB", Type.PERSONAL_NUMBER),
        example("GB", Type.FIXED_LINE),
        example("GB", Type.VOIP),
        example("FR", Type.PREMIUM_RATE),
        example("FR", Type.SHARED_COST),
        example("FR", Type.VOIP),
        example("DE", Type.MOBILE),  # a country the setting does not allow
    ]
    for number in refused:
        answer = await visitor.send(number)
        assert answer.status_code == 400, (number, answer.text)
        assert problem_code(answer) == "phone_not_allowed"
        assert answer.json()["errors"][0]["field"] == "phone"
        assert number not in answer.text
    assert await sms_count(pool, partner.account_id) == 0

    for number in ("+12025550123", example("GB", Type.MOBILE), example("FR", Type.MOBILE)):
        answer = await visitor.send(number)
        assert answer.status_code == 200, (number, answer.text)
    assert await sms_count(pool, partner.account_id) == 3

    # the partner API refuses them too
    proof = await partner.create("/identity-proof", {"verificationMethod": "SMS"})
    premium = await partner.post(
        f"/identity-proof/{proof['id']}/send", json={"phone": "9005550123"}
    )
    assert premium.status_code == 400 and problem_code(premium) == "phone_not_allowed"


async def test_one_client_address_cannot_text_149_numbers(partner, app, pool, settings):
    practice = await build_practice(partner, method="SMS")
    pumper = Visitor(app, "203.0.113.99", practice.publishable_key)
    answers = [await pumper.send(number) for number in us_numbers(149)]
    statuses = [a.status_code for a in answers]
    cap = settings.sms_per_client_per_hour
    assert statuses[:cap] == [200] * cap
    assert set(statuses[cap:]) == {429}
    assert {problem_code(a) for a in answers[cap:]} == {"send_rate_limited"}
    assert int(answers[-1].headers["Retry-After"]) <= 3600
    assert await sms_count(pool, partner.account_id) == cap

    # another visitor of the same practice still gets a text
    patient = Visitor(app, "198.51.100.77", practice.publishable_key)
    assert (await patient.send(us_numbers(1, exchange_from=600)[0])).status_code == 200


async def test_numbers_sharing_a_prefix_are_rate_limited(partner, pool):
    practice = await build_practice(partner, method="SMS")

    async def partner_send(number):
        proof = await partner.create("/identity-proof", {"verificationMethod": "SMS"})
        await partner.create(
            "/self-scheduling/attempt",
            {"selfSchedulingSettingId": practice.setting_id, "identityProofId": proof["id"]},
        )
        return await partner.post(f"/identity-proof/{proof['id']}/send", json={"phone": number})

    run = [f"+1202559{n:04d}" for n in range(100, 115)]  # one exchange: +1 202 559
    statuses = [(await partner_send(number)).status_code for number in run]
    assert statuses == [200] * 10 + [429] * 5
    assert (await partner_send("+12025580100")).status_code == 200  # another exchange


async def test_daily_sms_budgets_refuse_sends_with_one_event_a_day(
    partner, app, pool, settings, monkeypatch, frozen_clock
):
    practice = await build_practice(partner, method="SMS")
    other = await build_practice(partner, method="SMS")
    path = f"/self-scheduling/setting/{practice.setting_id}"
    assert (await partner.get(path)).json()["smsBudgetPerDay"] == 200
    changed = await partner.put(path, json={"smsBudgetPerDay": 3})
    assert changed.status_code == 200 and changed.json()["smsBudgetPerDay"] == 3
    assert (await partner.put(path, json={"smsBudgetPerDay": -1})).status_code == 400

    numbers = iter(us_numbers(40, exchange_from=700))  # numbers no other test texts

    async def send(setting_id):
        proof = await partner.create("/identity-proof", {"verificationMethod": "SMS"})
        await partner.create(
            "/self-scheduling/attempt",
            {"selfSchedulingSettingId": setting_id, "identityProofId": proof["id"]},
        )
        return await partner.post(
            f"/identity-proof/{proof['id']}/send", json={"phone": next(numbers)}
        )

    statuses = [(await send(practice.setting_id)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    for _ in range(3):
        refused = await send(practice.setting_id)
        assert refused.status_code == 429 and problem_code(refused) == "budget_exhausted"
        assert refused.headers["Retry-After"] == str(12 * 3600)  # until midnight UTC
    assert (await send(other.setting_id)).status_code == 200  # another setting's budget
    assert await sms_count(pool, partner.account_id) == 4

    async def exhausted_events():
        return await pool.fetch(
            "SELECT data FROM events WHERE account_id = $1 AND type = 'budget.exhausted'",
            partner.account_id,
        )

    events = await exhausted_events()
    assert [e["data"] for e in events] == [
        {"budget": "setting", "limit": 3, "day": "2026-03-02",
         "selfSchedulingSettingId": practice.setting_id},
    ]  # fmt: skip

    frozen_clock["now"] = NOW + timedelta(days=1)  # a new UTC day, a new budget
    assert (await send(practice.setting_id)).status_code == 200

    # the account's daily cap spans its settings
    monkeypatch.setattr(
        app.state, "settings", msgspec.structs.replace(settings, sms_account_daily_cap=3)
    )
    assert (await send(other.setting_id)).status_code == 200  # 2 of 3 today
    assert (await send(other.setting_id)).status_code == 200  # 3 of 3
    for _ in range(2):
        refused = await send(other.setting_id)
        assert refused.status_code == 429 and problem_code(refused) == "budget_exhausted"
    events = await exhausted_events()
    assert [e["data"]["budget"] for e in events] == ["setting", "account"]
