from datetime import UTC, datetime, timedelta

import pytest

from app.core import clock
from app.jobs import run_periodic_once
from tests.builders import build_practice, hold_first_config

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch):
    current = {"now": NOW}
    monkeypatch.setattr(clock, "now", lambda: current["now"])
    return current


async def test_idle_attempts_are_abandoned_and_their_holds_swept(
    partner, pool, settings, frozen_clock
):
    practice = await build_practice(partner, method=None)
    idle = await hold_first_config(practice, "2026-03-09T09:00:00-04:00")
    frozen_clock["now"] = NOW + timedelta(minutes=20)
    fresh = await partner.create(
        "/self-scheduling/attempt", {"selfSchedulingSettingId": practice.setting_id}
    )

    # 20 minutes later the hold (10 min) expired but the attempt is not idle long enough
    first = await run_periodic_once(pool, settings, now=NOW + timedelta(minutes=20))
    assert first["holdsSwept"] >= 1
    assert await pool.fetchval("SELECT count(*) FROM holds WHERE attempt_id = $1", idle["id"]) == 0
    assert (await partner.get(f"/self-scheduling/attempt/{idle['id']}")).json()[
        "status"
    ] == "STARTED"

    await run_periodic_once(pool, settings, now=NOW + timedelta(minutes=31))
    gone = (await partner.get(f"/self-scheduling/attempt/{idle['id']}")).json()
    assert gone["status"] == "ABANDONED"
    assert [s["step"] for s in gone["steps"]] == ["STARTED", "SLOT_SELECTED", "ABANDONED"]
    assert (await partner.get(f"/self-scheduling/attempt/{fresh['id']}")).json()[
        "status"
    ] == "STARTED"
    events = await pool.fetch(
        "SELECT data FROM events WHERE account_id = $1 AND type = 'attempt.abandoned'",
        partner.account_id,
    )
    assert [e["data"]["attemptId"] for e in events] == [idle["id"]]

    await run_periodic_once(pool, settings, now=NOW + timedelta(minutes=32))
    abandoned = await pool.fetchval(
        "SELECT count(*) FROM events WHERE account_id = $1 AND type = 'attempt.abandoned'",
        partner.account_id,
    )
    assert abandoned == 1  # abandoned once only
    later = await partner.post(
        f"/self-scheduling/attempt/{idle['id']}/patient",
        json={
            "firstName": "A",
            "lastName": "B",
            "dateOfBirth": "1990-01-01",
            "email": "a@example.com",
        },
    )
    assert later.status_code == 409 and later.json()["code"] == "attempt_abandoned"
