"""Unit tests of the per-process answer cache (app/availability/cache.py) and of
`before_limit` (app/availability/limits.py), which bounds how long an answer stays right.

Pure: no database, no I/O. `time.monotonic` is replaced by a controllable clock so the real-age
rule can be tested exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.availability import cache as cache_module
from app.availability.cache import MAX_AGE_SECONDS, NEVER, Answer, AnswerCache
from app.availability.limits import add_limit, before_limit
from app.availability.store import Probe

T0 = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
BORN = 1_000.0  # monotonic seconds at which the test answers were computed
NOW_OK = T0 + timedelta(minutes=5)  # within every default answer's validity


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(BORN + 1.0)
    monkeypatch.setattr(cache_module.time, "monotonic", fake)
    return fake


def answer(
    body: bytes = b"{}",
    *,
    computed_at: datetime = T0,
    stable_until: datetime = T0 + timedelta(hours=1),
    born: float = BORN,
) -> Answer:
    return Answer(
        body=body,
        probes=[Probe(1, "100:105:", (7, 8), (T0, T0 + timedelta(days=30)))],
        computed_at=computed_at,
        stable_until=stable_until,
        born=born,
    )


# --- AnswerCache: storage and size accounting -------------------------------------------------


def test_round_trip_returns_the_same_answer(clock):
    cache = AnswerCache(max_bytes=1_000)
    stored = answer(b'{"slots": []}')
    cache.put(("acct", 1), stored)
    assert cache.get(("acct", 1), NOW_OK) is stored
    assert len(cache) == 1
    assert cache.size == len(b'{"slots": []}')


def test_missing_key_is_a_miss(clock):
    cache = AnswerCache(max_bytes=1_000)
    cache.put("a", answer())
    assert cache.get("b", NOW_OK) is None
    assert len(cache) == 1


def test_size_is_the_sum_of_body_lengths(clock):
    cache = AnswerCache(max_bytes=1_000)
    cache.put("a", answer(b"x" * 10))
    cache.put("b", answer(b"y" * 25))
    cache.put("c", answer(b""))
    assert len(cache) == 3
    assert cache.size == 35


def test_putting_a_key_again_replaces_it(clock):
    cache = AnswerCache(max_bytes=1_000)
    cache.put("a", answer(b"x" * 10))
    cache.put("b", answer(b"y" * 5))
    newer = answer(b"z" * 40)
    cache.put("a", newer)
    assert len(cache) == 2
    assert cache.size == 45
    assert cache.get("a", NOW_OK) is newer

    smaller = answer(b"w" * 3)
    cache.put("a", smaller)
    assert cache.size == 8
    assert cache.get("a", NOW_OK) is smaller


def test_drop_removes_and_missing_drop_is_harmless(clock):
    cache = AnswerCache(max_bytes=1_000)
    cache.put("a", answer(b"x" * 10))
    cache.put("b", answer(b"y" * 7))

    cache.drop("missing")
    assert len(cache) == 2
    assert cache.size == 17

    cache.drop("a")
    assert len(cache) == 1
    assert cache.size == 7
    assert cache.get("a", NOW_OK) is None

    cache.drop("a")  # twice: still harmless, size not decremented again
    assert len(cache) == 1
    assert cache.size == 7


# --- AnswerCache: LRU eviction by bytes -------------------------------------------------------


def test_third_put_evicts_the_least_recently_put(clock):
    cache = AnswerCache(max_bytes=10)
    cache.put("a", answer(b"a" * 5))
    cache.put("b", answer(b"b" * 5))
    cache.put("c", answer(b"c" * 5))
    assert len(cache) == 2
    assert cache.size == 10
    assert cache.get("a", NOW_OK) is None
    assert cache.get("b", NOW_OK) is not None
    assert cache.get("c", NOW_OK) is not None


def test_get_refreshes_recency(clock):
    cache = AnswerCache(max_bytes=10)
    cache.put("a", answer(b"a" * 5))
    cache.put("b", answer(b"b" * 5))
    assert cache.get("a", NOW_OK) is not None  # "a" is now the most recently used
    cache.put("c", answer(b"c" * 5))
    assert len(cache) == 2
    assert cache.size == 10
    assert cache.get("b", NOW_OK) is None
    assert cache.get("a", NOW_OK) is not None
    assert cache.get("c", NOW_OK) is not None


def test_put_again_refreshes_recency(clock):
    cache = AnswerCache(max_bytes=10)
    cache.put("a", answer(b"a" * 5))
    cache.put("b", answer(b"b" * 5))
    cache.put("a", answer(b"A" * 5))
    cache.put("c", answer(b"c" * 5))
    assert cache.get("b", NOW_OK) is None
    assert cache.get("a", NOW_OK).body == b"A" * 5
    assert cache.get("c", NOW_OK) is not None


def test_eviction_frees_as_many_old_answers_as_needed(clock):
    cache = AnswerCache(max_bytes=10)
    cache.put("a", answer(b"a" * 3))
    cache.put("b", answer(b"b" * 3))
    cache.put("c", answer(b"c" * 3))
    cache.put("d", answer(b"d" * 8))  # 17 bytes: "a" and "b" must go, "c" too (11 > 10)
    assert len(cache) == 1
    assert cache.size == 8
    assert cache.get("d", NOW_OK) is not None
    for key in ("a", "b", "c"):
        assert cache.get(key, NOW_OK) is None


def test_answer_of_exactly_max_bytes_is_stored_alone(clock):
    cache = AnswerCache(max_bytes=10)
    cache.put("a", answer(b"a" * 4))
    cache.put("b", answer(b"b" * 10))
    assert len(cache) == 1
    assert cache.size == 10
    assert cache.get("b", NOW_OK) is not None
    assert cache.get("a", NOW_OK) is None


def test_answer_bigger_than_max_bytes_is_not_stored_and_evicts_nothing(clock):
    cache = AnswerCache(max_bytes=10)
    cache.put("a", answer(b"a" * 5))
    cache.put("b", answer(b"b" * 5))
    cache.put("big", answer(b"x" * 11))
    assert cache.get("big", NOW_OK) is None
    assert len(cache) == 2
    assert cache.size == 10
    assert cache.get("a", NOW_OK) is not None
    assert cache.get("b", NOW_OK) is not None


def test_oversized_replacement_does_not_leave_the_stale_answer(clock):
    cache = AnswerCache(max_bytes=10)
    cache.put("a", answer(b"a" * 5))
    cache.put("a", answer(b"x" * 11))
    assert cache.get("a", NOW_OK) is None
    assert len(cache) == 0
    assert cache.size == 0


# --- AnswerCache: time and age ----------------------------------------------------------------


def assert_dropped(cache: AnswerCache, key: str) -> None:
    assert len(cache) == 0
    assert cache.size == 0
    assert cache.get(key, NOW_OK) is None  # gone, not just hidden


@pytest.mark.parametrize(
    "now",
    [
        T0,  # computed_at <= now: the instant it was computed
        T0 + timedelta(minutes=30),
        T0 + timedelta(hours=1) - timedelta(microseconds=1),  # last instant before stable_until
    ],
)
def test_get_serves_within_the_stable_window(clock, now):
    cache = AnswerCache(max_bytes=1_000)
    stored = answer(b"body")
    cache.put("a", stored)
    assert cache.get("a", now) is stored
    assert len(cache) == 1
    assert cache.size == 4


@pytest.mark.parametrize(
    "now",
    [
        T0 + timedelta(hours=1),  # now == stable_until: time may have changed the answer
        T0 + timedelta(hours=1, microseconds=1),
        T0 + timedelta(days=3),
    ],
)
def test_get_drops_once_stable_until_is_reached(clock, now):
    cache = AnswerCache(max_bytes=1_000)
    cache.put("a", answer(b"body"))
    assert cache.get("a", now) is None
    assert_dropped(cache, "a")


@pytest.mark.parametrize(
    "now",
    [T0 - timedelta(microseconds=1), T0 - timedelta(minutes=10)],
)
def test_get_drops_when_the_clock_went_back(clock, now):
    cache = AnswerCache(max_bytes=1_000)
    cache.put("a", answer(b"body"))
    assert cache.get("a", now) is None
    assert_dropped(cache, "a")


def test_get_serves_a_young_answer(clock):
    cache = AnswerCache(max_bytes=1_000)
    stored = answer(b"body", born=BORN)
    cache.put("a", stored)
    clock.now = BORN + MAX_AGE_SECONDS - 0.001
    assert cache.get("a", NOW_OK) is stored
    assert len(cache) == 1


@pytest.mark.parametrize("age", [MAX_AGE_SECONDS + 0.001, MAX_AGE_SECONDS * 10])
def test_get_drops_an_answer_older_than_max_age(clock, age):
    cache = AnswerCache(max_bytes=1_000)
    cache.put("a", answer(b"body", born=BORN))
    clock.now = BORN + age
    assert cache.get("a", NOW_OK) is None
    assert len(cache) == 0
    assert cache.size == 0
    clock.now = BORN + 1.0  # even if the clock seemed young again, the answer is gone
    assert cache.get("a", NOW_OK) is None


def test_expiry_drops_only_that_answer(clock):
    cache = AnswerCache(max_bytes=1_000)
    cache.put("short", answer(b"s" * 3, stable_until=T0 + timedelta(minutes=1)))
    cache.put("long", answer(b"l" * 6, stable_until=T0 + timedelta(hours=2)))
    later = T0 + timedelta(minutes=2)
    assert cache.get("short", later) is None
    assert len(cache) == 1
    assert cache.size == 6
    assert cache.get("long", later) is not None


# --- NEVER: answers time cannot change ------------------------------------------------------


def test_never_is_later_than_any_request_time():
    assert NEVER.utcoffset() == timedelta(0)
    assert datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC) < NEVER


def test_an_answer_stable_forever_is_still_bounded_by_max_age(clock):
    cache = AnswerCache(max_bytes=1_000)
    stored = answer(b"body", stable_until=NEVER)
    cache.put("a", stored)
    far = datetime(9000, 1, 1, tzinfo=UTC)
    assert cache.get("a", far) is stored
    clock.now = BORN + MAX_AGE_SECONDS + 0.001
    assert cache.get("a", far) is None
    assert len(cache) == 0


# --- before_limit -----------------------------------------------------------------------------

AT = datetime(2026, 3, 31, 9, 15, tzinfo=UTC)
NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize("unit", ["HOURS", "DAYS", "WEEKS", "MONTHS"])
def test_inactive_limit_returns_at_unchanged(unit):
    assert before_limit(AT, 5, unit, False) == AT


def test_inactive_limit_keeps_the_instant_of_a_zoned_at():
    at = datetime(2026, 3, 8, 12, 0, tzinfo=NY)
    bound = before_limit(at, 5, "DAYS", False)
    assert bound == at
    assert bound.utcoffset() == timedelta(0)


@pytest.mark.parametrize(("amount", "unit"), [(24, "HOURS"), (1, "DAYS"), (1, "WEEKS")])
def test_fixed_units_count_elapsed_time_across_dst(amount, unit):
    # New York springs forward on 2026-03-08: noon EDT is 16:00 UTC, and 24 elapsed hours
    # earlier is 11:00 EST of the day before (wall-clock arithmetic would say 12:00 EST)
    at = datetime(2026, 3, 8, 12, 0, tzinfo=NY)
    bound = before_limit(at, amount, unit, True)
    assert bound == datetime(2026, 3, 8, 16, 0, tzinfo=UTC) - _FIXED_LENGTHS[unit] * amount
    assert add_limit(bound, amount, unit) == at
    if unit != "WEEKS":
        assert bound == datetime(2026, 3, 7, 11, 0, tzinfo=NY)


@pytest.mark.parametrize(
    ("amount", "unit", "expected"),
    [
        (2, "HOURS", AT - timedelta(hours=2)),
        (3, "DAYS", AT - timedelta(days=3)),
        (2, "WEEKS", AT - timedelta(days=14)),
        (0, "DAYS", AT),
    ],
)
def test_fixed_units_are_exact(amount, unit, expected):
    bound = before_limit(AT, amount, unit, True)
    assert bound == expected
    assert add_limit(bound, amount, unit) == AT
    # any earlier `now` is strictly before `at`; `bound` itself is the exact boundary
    assert add_limit(bound - timedelta(microseconds=1), amount, unit) < AT


def test_months_bound_is_conservative():
    bound = before_limit(AT, 1, "MONTHS", True)
    assert bound == datetime(2026, 2, 28, 9, 15, tzinfo=UTC)  # 31 days before March 31
    # the bound is safe ...
    assert add_limit(bound - timedelta(microseconds=1), 1, "MONTHS") < AT
    # ... but earlier than the truth: later `now`s still reach only before `at`
    assert add_limit(bound, 1, "MONTHS") == datetime(2026, 3, 28, 9, 15, tzinfo=UTC)
    late = datetime(2026, 2, 28, 23, 59, 59, tzinfo=UTC)
    assert late > bound
    assert add_limit(late, 1, "MONTHS") < AT


def test_months_bound_counts_31_days_per_month():
    assert before_limit(AT, 12, "MONTHS", True) == AT - timedelta(days=31 * 12)
    assert before_limit(AT, 0, "MONTHS", True) == AT


_FIXED_LENGTHS = {
    "HOURS": timedelta(hours=1),
    "DAYS": timedelta(days=1),
    "WEEKS": timedelta(weeks=1),
}

PROPERTY_SETTINGS = settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
UNITS = st.sampled_from(["HOURS", "DAYS", "WEEKS", "MONTHS"])
AT_INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2100, 12, 31, 23, 59, 59),
    timezones=st.just(UTC),
)
# how far `now` lies before the bound: often the smallest step, sometimes far
EARLIER_BY = st.one_of(
    st.just(timedelta(microseconds=1)),
    st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=2)),
    st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=400)),
)


@PROPERTY_SETTINGS
@given(at=AT_INSTANTS, amount=st.integers(0, 36), unit=UNITS, earlier_by=EARLIER_BY)
def test_before_limit_is_never_later_than_the_truth(at, amount, unit, earlier_by):
    bound = before_limit(at, amount, unit, True)
    assert bound <= at
    now = bound - earlier_by
    assert now < bound
    assert add_limit(now, amount, unit) < at


@PROPERTY_SETTINGS
@given(at=AT_INSTANTS, amount=st.integers(0, 36), unit=st.sampled_from(["HOURS", "DAYS", "WEEKS"]))
def test_before_limit_is_exact_for_fixed_units(at, amount, unit):
    assert add_limit(before_limit(at, amount, unit, True), amount, unit) == at


@PROPERTY_SETTINGS
@given(
    at=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2100, 12, 31, 23, 59, 59),
        timezones=st.sampled_from([NY, BERLIN]),
        allow_imaginary=False,
    ),
    amount=st.integers(0, 36),
    unit=UNITS,
)
def test_before_limit_of_a_zoned_at_is_safe_and_exact_in_elapsed_time(at, amount, unit):
    # compare with the instant in UTC: `==` across zones is always False for a time in a fold
    at_utc = at.astimezone(UTC)
    bound = before_limit(at, amount, unit, True)
    assert bound.utcoffset() == timedelta(0)
    if unit == "MONTHS":
        assert add_limit(bound - timedelta(microseconds=1), amount, unit) < at_utc
    else:
        assert add_limit(bound, amount, unit) == at_utc
        assert at_utc - bound == _FIXED_LENGTHS[unit] * amount
