"""Patient names refuse characters that disguise them on a screen or in a record (bidi
overrides, zero-width and control characters), on the partner API and the widget alike; the
zero-width (non-)joiner some scripts need between letters is kept."""

from datetime import UTC, datetime

from tests.builders import build_practice
from tests.support import frozen_clock_at, problem_code

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
DISGUISED = [
    ("firstName", "Ana\u202egnuoY"),  # right-to-left override: shows as "AnaYoung"
    ("firstName", "Ana\u2067x\u2069"),  # right-to-left isolate
    ("lastName", "Lee\u200b"),  # zero-width space
    ("lastName", "L\ufeffee"),  # zero-width no-break space
    ("firstName", "An\u0007a"),  # bell, a control character
    ("lastName", "Lee\u001b[31m"),  # an escape sequence
    ("firstName", "\u200dAna"),  # a joiner with nothing to join
]


frozen_clock = frozen_clock_at(NOW)


async def test_disguised_names_are_refused_and_real_ones_kept(partner, client, pool):
    practice = await build_practice(partner, method=None)
    key = {"X-Widget-Key": practice.publishable_key}

    async def partner_step(body):
        attempt = await partner.create(
            "/self-scheduling/attempt", {"selfSchedulingSettingId": practice.setting_id}
        )
        return await partner.post(f"/self-scheduling/attempt/{attempt['id']}/patient", json=body)

    async def widget_step(body):
        started = (await client.post("/widget/v1/attempt", headers=key)).json()
        headers = {**key, "Authorization": f"Bearer {started['attemptToken']}"}
        return await client.post("/widget/v1/attempt/patient", headers=headers, json=body)

    base = {"firstName": "Ana", "lastName": "Lee", "dateOfBirth": "1990-01-01", "email": "a@x.org"}
    before = await pool.fetchval(
        "SELECT count(*) FROM patients WHERE account_id = $1", partner.account_id
    )
    for field, value in DISGUISED:
        for step in (partner_step, widget_step):
            refused = await step({**base, field: value})
            assert refused.status_code == 400, (field, value, refused.text)
            assert problem_code(refused) == "validation_failed"
            assert refused.json()["errors"][0]["field"] == field
            assert value not in refused.text
    after = await pool.fetchval(
        "SELECT count(*) FROM patients WHERE account_id = $1", partner.account_id
    )
    assert after == before

    persian = "\u0646\u06cc\u06a9\u200c\u0646\u0627\u0645"  # a name written with a ZWNJ
    for step in (partner_step, widget_step):
        kept = await step({**base, "lastName": persian, "firstName": "  José   María "})
        assert kept.status_code == 201, kept.text
        assert (kept.json()["firstName"], kept.json()["lastName"]) == ("José María", persian)
