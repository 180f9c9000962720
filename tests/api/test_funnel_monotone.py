"""The funnel is monotone by construction: whatever steps attempts record, in whatever order,
every `reached` is at most the one before it, every conversion at most 1 and every `dropOff`
at least 0 (contract: Self-scheduling attempt, Funnel)."""

import itertools
import secrets
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.attempts.machine import Step

DAY = datetime(2026, 3, 4, 15, 0, tzinfo=UTC)
RECORDED = [s.value for s in Step]  # the seven funnel steps and ABANDONED
attempt_events = st.lists(st.sampled_from(RECORDED), max_size=12)


async def _history(pool, account_id: int, attempts: list[list[str]]) -> int:
    """A setting of its own with one attempt per list, each recording those steps in order."""
    setting = await pool.fetchval(
        "INSERT INTO self_scheduling_settings (account_id, name, publishable_key)"
        " VALUES ($1, 'Property', $2) RETURNING id",
        account_id,
        "pk_" + secrets.token_hex(8),
    )
    for events in attempts:
        attempt = await pool.fetchval(
            "INSERT INTO self_scheduling_attempts (account_id, setting_id, status, created_at)"
            " VALUES ($1, $2, 'STARTED', $3) RETURNING id",
            account_id,
            setting,
            DAY,
        )
        for i, step in enumerate(["STARTED", *events]):
            await pool.execute(
                "INSERT INTO attempt_steps (attempt_id, account_id, step, at)"
                " VALUES ($1, $2, $3, $4)",
                attempt,
                account_id,
                step,
                DAY + timedelta(seconds=i),
            )
    return setting


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(attempt_events, min_size=1, max_size=6))
async def test_every_reached_is_at_most_the_one_before(partner, pool, attempts):
    setting = await _history(pool, partner.account_id, attempts)
    r = await partner.get(
        "/self-scheduling/funnel",
        params={"from": "2026-03-04", "to": "2026-03-04", "selfSchedulingSettingId": setting},
    )
    assert r.status_code == 200, r.text
    (group,) = r.json()["groups"]
    steps = group["steps"]
    assert steps[0]["reached"] == group["attempts"] == len(attempts)
    for before, step in itertools.pairwise(steps):
        assert step["reached"] <= before["reached"], steps
        assert step["dropOff"] >= 0
        assert step["conversionFromPrevious"] is None or step["conversionFromPrevious"] <= 1
    # an attempt that recorded a step counts for it and for every earlier one
    order = [s["step"] for s in steps]
    for i, name in enumerate(order):
        expected = sum(any(e in order[i:] for e in ["STARTED", *events]) for events in attempts)
        assert steps[i]["reached"] == expected, (name, steps)
