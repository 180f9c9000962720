from datetime import UTC, datetime, timedelta

import pytest

from app.availability.limits import add_limit, earliest_start, latest_start

NOW = datetime(2026, 1, 31, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("amount", "unit", "expected"),
    [
        (2, "HOURS", NOW + timedelta(hours=2)),
        (3, "DAYS", NOW + timedelta(days=3)),
        (2, "WEEKS", NOW + timedelta(days=14)),
        (1, "MONTHS", datetime(2026, 2, 28, 15, 30, tzinfo=UTC)),
        (13, "MONTHS", datetime(2027, 2, 28, 15, 30, tzinfo=UTC)),
        (11, "MONTHS", datetime(2026, 12, 31, 15, 30, tzinfo=UTC)),
        (0, "DAYS", NOW),
    ],
)
def test_add_limit(amount, unit, expected):
    assert add_limit(NOW, amount, unit) == expected


def test_leap_february():
    assert add_limit(datetime(2028, 1, 31, tzinfo=UTC), 1, "MONTHS") == datetime(
        2028, 2, 29, tzinfo=UTC
    )


def test_inactive_limits_impose_nothing():
    assert earliest_start(NOW, 2, "HOURS", active=False) == NOW
    assert latest_start(NOW, 60, "DAYS", active=False) is None
    assert earliest_start(NOW, 2, "HOURS", active=True) == NOW + timedelta(hours=2)
    assert latest_start(NOW, 60, "DAYS", active=True) == NOW + timedelta(days=60)
