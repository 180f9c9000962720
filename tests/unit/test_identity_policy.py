"""Identity-proof rules (app.identity.policy): pure functions, time injected as `now`."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.identity import policy
from app.identity.policy import Channel, Method

KEY = "unit-test-key-0123456789abcdef0123456789"
T0 = datetime(2026, 3, 9, 13, 0, tzinfo=UTC)
seconds = timedelta(seconds=1)


# --- codes and tokens ------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=200))
def test_codes_are_always_six_digits(_):
    code = policy.generate_code()
    assert len(code) == 6 and code.isdigit() and code.isascii()


def test_codes_use_the_whole_range_including_leading_zeros(monkeypatch):
    monkeypatch.setattr(policy.secrets, "randbelow", lambda n: 42)
    assert policy.generate_code() == "000042"
    monkeypatch.setattr(policy.secrets, "randbelow", lambda n: n - 1)
    assert policy.generate_code() == "999999"


def test_codes_come_from_the_csprng_and_vary():
    assert len({policy.generate_code() for _ in range(200)}) > 150


def test_tokens_are_long_random_and_distinct():
    tokens = {policy.generate_token() for _ in range(50)}
    assert len(tokens) == 50
    assert all(t.startswith("idp_") and len(t) >= 40 for t in tokens)


@given(code=st.from_regex(r"\A[0-9]{6}\Z"), other=st.from_regex(r"\A[0-9]{6}\Z"))
def test_code_digest_matches_only_the_same_code(code, other):
    stored = policy.code_digest(KEY, 7, "c" * 64, code)
    assert policy.digests_equal(policy.code_digest(KEY, 7, "c" * 64, code), stored)
    assert policy.digests_equal(policy.code_digest(KEY, 7, "c" * 64, other), stored) == (
        code == other
    )


def test_code_digest_is_keyed_and_bound_to_proof_and_contact():
    base = policy.code_digest(KEY, 7, "a" * 64, "123456")
    assert "123456" not in base and len(base) == 64
    assert policy.code_digest("another-key-0123456789abcdef012345", 7, "a" * 64, "123456") != base
    assert policy.code_digest(KEY, 8, "a" * 64, "123456") != base
    assert policy.code_digest(KEY, 7, "b" * 64, "123456") != base


def test_digests_are_compared_in_constant_time(monkeypatch):
    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(
        policy.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b)
    )
    assert policy.digests_equal("ab" * 32, "ab" * 32)
    assert not policy.digests_equal("ab" * 32, "cd" * 32)
    assert len(calls) == 2


def test_contact_and_token_digests_differ_by_purpose_and_channel():
    assert policy.contact_digest(KEY, Channel.EMAIL, "x") != policy.contact_digest(
        KEY, Channel.SMS, "x"
    )
    assert policy.token_digest(KEY, "x") != policy.contact_digest(KEY, Channel.EMAIL, "x")
    assert policy.token_digest(KEY, "tok") == policy.token_digest(KEY, "tok")


# --- methods and missing verifications ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("EMAIL", Method.EMAIL),
        ("sms", Method.SMS),
        ("Email_And_Sms", Method.EMAIL_AND_SMS),
        (" email ", Method.EMAIL),
        ("EMAIL_OR_SMS", None),
        ("", None),
    ],
)
def test_method_is_case_insensitive(raw, expected):
    assert policy.parse_method(raw) is expected


@pytest.mark.parametrize(
    ("method", "email", "phone", "missing"),
    [
        (Method.EMAIL, False, False, ["EMAIL"]),
        (Method.EMAIL, True, False, []),
        (Method.SMS, False, False, ["SMS"]),
        (Method.SMS, False, True, []),
        (Method.EMAIL_AND_SMS, False, False, ["EMAIL", "SMS"]),
        (Method.EMAIL_AND_SMS, True, False, ["SMS"]),
        (Method.EMAIL_AND_SMS, False, True, ["EMAIL"]),
        (Method.EMAIL_AND_SMS, True, True, []),
    ],
)
def test_missing_verifications(method, email, phone, missing):
    assert (
        policy.missing_verifications(method, email_verified=email, phone_verified=phone) == missing
    )


def test_channel_required():
    assert policy.channel_required(Method.EMAIL, Channel.EMAIL)
    assert not policy.channel_required(Method.EMAIL, Channel.SMS)
    assert not policy.channel_required(Method.SMS, Channel.EMAIL)
    assert policy.channel_required("EMAIL_AND_SMS", "SMS")


# --- expiry -------------------------------------------------------------------------------------


def test_proof_lives_60_minutes_and_codes_10_capped_by_the_proof():
    expires = policy.proof_expiry(T0)
    assert expires == T0 + timedelta(minutes=60)
    assert policy.code_expiry(T0, expires) == T0 + timedelta(minutes=10)
    late = expires - timedelta(minutes=3)
    assert policy.code_expiry(late, expires) == expires


def test_expiry_boundary_is_exclusive():
    assert not policy.is_expired(T0, T0 - seconds)
    assert policy.is_expired(T0, T0)


# --- send limits --------------------------------------------------------------------------------


def test_first_send_is_free():
    assert policy.send_retry_after(T0, []) is None


@pytest.mark.parametrize(("elapsed", "wait"), [(0, 60), (1, 59), (59, 1), (59.5, 1)])
def test_cooldown_between_sends(elapsed, wait):
    now = T0 + timedelta(seconds=elapsed)
    assert policy.send_retry_after(now, [T0]) == wait


def test_cooldown_ends_at_60_seconds():
    assert policy.send_retry_after(T0 + 60 * seconds, [T0]) is None


def test_at_most_five_sends_in_ten_minutes():
    sends = [T0 + timedelta(minutes=2 * i) for i in range(5)]  # 0, 2, 4, 6, 8 min
    now = T0 + timedelta(minutes=9)
    # the oldest (T0) leaves the window at T0 + 10 min
    assert policy.send_retry_after(now, sends) == 60
    assert policy.send_retry_after(T0 + timedelta(minutes=10), sends) is None
    assert policy.send_retry_after(now, sends[1:]) is None


def test_sends_outside_the_window_do_not_count():
    old = [T0 - timedelta(minutes=10) - seconds * i for i in range(20)]
    assert policy.send_retry_after(T0, old) is None


@given(
    offsets=st.lists(st.integers(min_value=0, max_value=1800), max_size=12),
    now_offset=st.integers(min_value=0, max_value=1800),
)
def test_send_limits_agree_with_a_brute_force_check(offsets, now_offset):
    now = T0 + timedelta(seconds=now_offset)
    sends = [T0 + timedelta(seconds=o) for o in offsets if o <= now_offset]
    wait = policy.send_retry_after(now, sends)

    def allowed(at: datetime) -> bool:
        recent = [t for t in sends if t > at - policy.SEND_WINDOW]
        cooled = all(at - t >= policy.SEND_COOLDOWN for t in recent)
        return cooled and len(recent) < policy.SEND_MAX_PER_WINDOW

    if wait is None:
        assert allowed(now)
    else:
        assert not allowed(now)
        assert 1 <= wait <= 600
        assert allowed(now + timedelta(seconds=wait))
        assert wait == 1 or not allowed(now + timedelta(seconds=wait - 1))


# --- lockouts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("failures", "locked"), [(0, False), (4, False), (5, True), (9, True)])
def test_proof_lockout_after_five_failures(failures, locked):
    assert policy.proof_locked(failures) is locked


def test_locked_proof_waits_until_it_expires():
    assert policy.proof_retry_after(T0, T0 + timedelta(minutes=30)) == 1800
    assert policy.proof_retry_after(T0, T0) == 1


def test_contact_lockout_at_twenty_failures_in_24_hours():
    failures = [T0 + timedelta(minutes=i) for i in range(20)]
    now = T0 + timedelta(hours=1)
    assert policy.contact_retry_after(now, failures[:19]) is None
    wait = policy.contact_retry_after(now, failures)
    assert wait == 23 * 3600  # until the first failure is 24 h old
    assert policy.contact_retry_after(T0 + timedelta(hours=24), failures) is None


def test_contact_failures_older_than_24_hours_do_not_count():
    old = [T0 - timedelta(hours=24) - seconds * i for i in range(30)]
    assert policy.contact_retry_after(T0, old) is None


def test_a_verification_clears_the_failures_before_it():
    failures = [T0 + timedelta(minutes=i) for i in range(20)]
    now = T0 + timedelta(hours=1)
    assert policy.contact_retry_after(now, failures, cleared_at=T0 - timedelta(minutes=1))
    assert policy.contact_retry_after(now, failures, cleared_at=T0 + timedelta(minutes=30)) is None


def test_a_locked_contact_gets_one_try_per_sent_code():
    assert policy.may_try_while_locked(T0, failed_since_sent=False)
    assert not policy.may_try_while_locked(T0, failed_since_sent=True)
    assert not policy.may_try_while_locked(None, failed_since_sent=False)  # no live code


@given(
    offsets=st.lists(st.integers(min_value=0, max_value=3 * 86400), max_size=40),
    now_offset=st.integers(min_value=0, max_value=3 * 86400),
)
def test_contact_lockout_agrees_with_a_brute_force_check(offsets, now_offset):
    now = T0 + timedelta(seconds=now_offset)
    failures = [T0 + timedelta(seconds=o) for o in offsets if o <= now_offset]

    def locked(at: datetime) -> bool:
        recent = [t for t in failures if t > at - policy.CONTACT_FAILURE_WINDOW]
        return len(recent) >= policy.CONTACT_MAX_FAILURES

    wait = policy.contact_retry_after(now, failures)
    assert (wait is not None) == locked(now)
    if wait is not None:
        assert not locked(now + timedelta(seconds=wait))
        assert wait == 1 or locked(now + timedelta(seconds=wait - 1))
