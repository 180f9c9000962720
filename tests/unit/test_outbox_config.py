"""The delivery settings: parsing and consistency."""

import pytest

from app.config import ConfigError, load_settings


def test_defaults():
    s = load_settings({})
    assert s.in_process_worker is True
    assert s.delivery_max_attempts == 8
    assert s.delivery_backoff_cap_seconds == 3600
    assert s.delivery_lease_seconds >= 3 * s.provider_timeout_seconds
    assert s.twilio_api_url is None
    assert s.sendgrid_api_url == "https://api.sendgrid.com"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("0", False), ("false", False), ("1", True), ("YES", True), ("off", False)],
)
def test_in_process_worker_switch(raw, expected):
    assert load_settings({"SLOTPROOF_IN_PROCESS_WORKER": raw}).in_process_worker is expected


def test_numbers_and_urls_are_parsed():
    s = load_settings(
        {
            "SLOTPROOF_DELIVERY_MAX_ATTEMPTS": "3",
            "SLOTPROOF_DELIVERY_BACKOFF_BASE": "2",
            "SLOTPROOF_DELIVERY_BACKOFF_CAP": "60",
            "SLOTPROOF_DELIVERY_LEASE": "90",
            "SLOTPROOF_PROVIDER_TIMEOUT": "5",
            "SLOTPROOF_TWILIO_API_URL": "http://127.0.0.1:9999",
            "SLOTPROOF_SENDGRID_API_URL": "http://127.0.0.1:9998",
        }
    )
    assert (s.delivery_max_attempts, s.delivery_backoff_base_seconds) == (3, 2)
    assert (s.delivery_backoff_cap_seconds, s.delivery_lease_seconds) == (60, 90)
    assert s.provider_timeout_seconds == 5
    assert s.twilio_api_url == "http://127.0.0.1:9999"
    assert s.sendgrid_api_url == "http://127.0.0.1:9998"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"SLOTPROOF_IN_PROCESS_WORKER": "maybe"}, "SLOTPROOF_IN_PROCESS_WORKER"),
        ({"SLOTPROOF_DELIVERY_MAX_ATTEMPTS": "0"}, "SLOTPROOF_DELIVERY_MAX_ATTEMPTS"),
        (
            {"SLOTPROOF_DELIVERY_BACKOFF_BASE": "100", "SLOTPROOF_DELIVERY_BACKOFF_CAP": "10"},
            "SLOTPROOF_DELIVERY_BACKOFF_BASE",
        ),
        (
            {"SLOTPROOF_DELIVERY_LEASE": "20", "SLOTPROOF_PROVIDER_TIMEOUT": "10"},
            "SLOTPROOF_DELIVERY_LEASE",
        ),
        ({"SLOTPROOF_TWILIO_API_URL": "ftp://x"}, "SLOTPROOF_TWILIO_API_URL"),
    ],
)
def test_bad_values_name_their_variable(env, names):
    with pytest.raises(ConfigError, match=names):
        load_settings(env)


def test_production_needs_https_provider_urls():
    env = {
        "SLOTPROOF_ENV": "production",
        "SLOTPROOF_SECRET_KEY": "s" * 40,
        "DATABASE_URL": "postgresql://db/slotproof",
        "SLOTPROOF_PUBLIC_URL": "https://slotproof.example",
        "SLOTPROOF_DELIVERY": "providers",
        "TWILIO_ACCOUNT_SID": "AC1",
        "TWILIO_AUTH_TOKEN": "t",
        "TWILIO_FROM_NUMBER": "+15550000000",
        "SENDGRID_API_KEY": "SG.x",
        "SENDGRID_FROM_EMAIL": "no-reply@slotproof.example",
    }
    assert load_settings(env).is_production
    with pytest.raises(ConfigError, match="SLOTPROOF_TWILIO_API_URL"):
        load_settings({**env, "SLOTPROOF_TWILIO_API_URL": "http://127.0.0.1:1"})
