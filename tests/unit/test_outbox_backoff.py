"""The generic outbox pieces: the retry schedule and the claim statement's guards."""

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.outbox import _claim_sql, next_delay


class _Top(random.Random):
    """Always draws the top of the range, to see the ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_ceiling_doubles_from_base_until_the_cap():
    ceilings = [next_delay(n, 15, 3600, _Top()) for n in range(1, 12)]
    assert ceilings[:9] == [15, 30, 60, 120, 240, 480, 960, 1920, 3600]
    assert ceilings[9:] == [3600, 3600]


@given(
    attempt=st.integers(1, 10_000),
    base=st.floats(0.001, 3600),
    cap=st.floats(0.001, 86_400),
    seed=st.integers(0, 2**32),
)
def test_full_jitter_stays_between_zero_and_the_capped_ceiling(attempt, base, cap, seed):
    delay = next_delay(attempt, base, cap, random.Random(seed))
    assert 0 <= delay <= min(cap, base * 2.0 ** min(attempt - 1, 62))


def test_jitter_spreads_retries():
    rng = random.Random(7)
    delays = {round(next_delay(5, 15, 3600, rng), 3) for _ in range(50)}
    assert len(delays) > 40
    assert max(delays) <= 240


@pytest.mark.parametrize(("attempt", "base", "cap"), [(0, 1, 1), (1, 0, 1), (1, 1, -1)])
def test_nonsense_is_refused(attempt, base, cap):
    with pytest.raises(ValueError):
        next_delay(attempt, base, cap, random.Random())


def test_claim_sql_skips_locked_rows_and_checks_what_it_inlines():
    sql = _claim_sql("notifications", ("QUEUED",), "SENDING")
    assert "FOR UPDATE SKIP LOCKED" in sql
    assert "status IN ('QUEUED', 'SENDING')" in sql
    with pytest.raises(ValueError):
        _claim_sql("notifications; DROP TABLE accounts", ("QUEUED",), "SENDING")
    with pytest.raises(ValueError):
        _claim_sql("notifications", ("QUEUED') OR ('1'='1",), "SENDING")
