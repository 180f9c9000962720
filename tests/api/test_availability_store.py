"""app/availability/store.py against real rows: busy times come back in epoch seconds exactly
as the engine's own `Busy.span()` rounds datetimes, so the engine sees the same either way."""

from datetime import UTC, datetime, timedelta

import msgspec

from app.availability import engine as e
from app.availability import store
from tests.builders import build_practice, hold_first_config, insert_appointment
from tests.support import frozen_clock_at

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


frozen_clock = frozen_clock_at(NOW)


async def test_busy_spans_match_busy_span_of_the_rows_datetimes(partner, pool):
    practice = await build_practice(partner, max_per_day=4)
    doctor, config = practice.practitioner_ids[0], practice.config_ids[0]
    # fractions of a second on both edges: the start floors, the buffered end ceils
    start = datetime(2026, 3, 9, 15, 0, 0, 250_000, tzinfo=UTC)
    await insert_appointment(
        pool, practice, practitioner_id=doctor, location_id=practice.location_ids[0],
        start=start, minutes=30, before=5, after=10, config_id=config,
    )  # fmt: skip
    await hold_first_config(practice, "2026-03-09T09:00:00-04:00")
    rows = await pool.fetch(
        "SELECT blocked_from, blocked_until, start_at, NULL::timestamptz AS expires_at"
        " FROM appointments WHERE practitioner_id = $1"
        " UNION ALL SELECT blocked_from, blocked_until, start_at, expires_at"
        " FROM holds WHERE practitioner_id = $1",
        doctor,
    )
    expected = sorted(
        (
            msgspec.structs.replace(
                e.Busy(doctor, r["blocked_from"], r["blocked_until"], config, r["start_at"]).span(),
                expires_at=r["expires_at"],
            )
            for r in rows
        ),
        key=lambda b: b.start,
    )
    got = await store.busy(
        pool, partner.account_id, [doctor], NOW, NOW + timedelta(days=14), now=NOW
    )
    assert sorted(got, key=lambda b: b.start) == expected
    appointment = next(b for b in got if b.expires_at is None)
    assert appointment.start == int((start - timedelta(minutes=5)).timestamp())  # floored
    assert appointment.end == int((start + timedelta(minutes=40)).timestamp()) + 1  # ceiled
    hold = next(b for b in got if b.expires_at is not None)
    assert hold.expires_at == NOW + timedelta(minutes=3)  # a code was sent, nothing verified
