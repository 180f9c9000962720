"""load_settings(): defaults, every bad value names its variable, production refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import (
    DEV_SECRET_KEY,
    PROJECT_ROOT,
    ConfigError,
    Settings,
    development_public_url,
    load_settings,
)

SECRET = "s" * 40
PROVIDERS = {
    "SLOTPROOF_DELIVERY": "providers",
    "TWILIO_ACCOUNT_SID": "AC123",
    "TWILIO_AUTH_TOKEN": "twilio-token",
    "TWILIO_FROM_NUMBER": "+15550100",
    "SENDGRID_API_KEY": "SG.key",
    "SENDGRID_FROM_EMAIL": "noreply@example.com",
}
PRODUCTION = {
    "SLOTPROOF_ENV": "production",
    "DATABASE_URL": "postgresql://app:pw@db.internal:5432/slotproof",
    "SLOTPROOF_SECRET_KEY": SECRET,
    "SLOTPROOF_PUBLIC_URL": "https://book.example.com/",
    **PROVIDERS,
}


def test_defaults():
    s = load_settings({})
    assert s == Settings()
    assert s.env == "development"
    assert s.is_production is False
    assert s.database_url is None
    assert s.data_dir == PROJECT_ROOT / ".data"
    assert s.secret_key == DEV_SECRET_KEY
    assert s.public_url == "http://127.0.0.1:8000"
    assert s.delivery == "console"
    assert s.outbox_dir is None
    assert s.redis_url is None
    assert s.db_pool_min == 2
    assert s.db_pool_max == 10
    assert s.token_rate_limit_per_minute == 20
    assert s.access_token_ttl_seconds == 3600


def test_empty_values_count_as_unset():
    assert load_settings({"DATABASE_URL": "", "SLOTPROOF_ENV": ""}) == Settings()


def test_values_are_parsed(tmp_path: Path):
    s = load_settings(
        {
            "SLOTPROOF_ENV": " Development ",
            "DATABASE_URL": "postgres://u@h/db",
            "SLOTPROOF_DATA_DIR": str(tmp_path / "data"),
            "SLOTPROOF_SECRET_KEY": SECRET,
            "SLOTPROOF_PUBLIC_URL": "https://example.com/",
            "SLOTPROOF_DELIVERY": "FILE",
            "SLOTPROOF_OUTBOX_DIR": str(tmp_path / "outbox"),
            "REDIS_URL": "redis://localhost:6379/0",
            "SLOTPROOF_DB_POOL_MIN": "3",
            "SLOTPROOF_DB_POOL_MAX": "30",
            "SLOTPROOF_TOKEN_RATE_LIMIT": "7",
            "SENDGRID_FROM_EMAIL": "  a@example.com ",
        }
    )
    assert s.env == "development"
    assert s.database_url == "postgres://u@h/db"
    assert s.data_dir == (tmp_path / "data").resolve()
    assert s.secret_key == SECRET
    assert s.public_url == "https://example.com"
    assert s.delivery == "file"
    assert s.outbox_dir == (tmp_path / "outbox").resolve()
    assert s.redis_url == "redis://localhost:6379/0"
    assert (s.db_pool_min, s.db_pool_max) == (3, 30)
    assert s.token_rate_limit_per_minute == 7
    assert s.sendgrid_from_email == "a@example.com"


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({"SLOTPROOF_ENV": "staging"}, "SLOTPROOF_ENV"),
        ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL"),
        ({"DATABASE_URL": "localhost:5432"}, "DATABASE_URL"),
        ({"SLOTPROOF_DB_POOL_MAX": "abc"}, "SLOTPROOF_DB_POOL_MAX"),
        ({"SLOTPROOF_DB_POOL_MAX": "0"}, "SLOTPROOF_DB_POOL_MAX"),
        ({"SLOTPROOF_DB_POOL_MIN": "1.5"}, "SLOTPROOF_DB_POOL_MIN"),
        ({"SLOTPROOF_DB_POOL_MIN": "5", "SLOTPROOF_DB_POOL_MAX": "4"}, "SLOTPROOF_DB_POOL_MIN"),
        ({"SLOTPROOF_TOKEN_RATE_LIMIT": "-1"}, "SLOTPROOF_TOKEN_RATE_LIMIT"),
        ({"SLOTPROOF_SECRET_KEY": "too-short"}, "SLOTPROOF_SECRET_KEY"),
        ({"SLOTPROOF_PUBLIC_URL": "example.com"}, "SLOTPROOF_PUBLIC_URL"),
        ({"SLOTPROOF_DELIVERY": "pigeon"}, "SLOTPROOF_DELIVERY"),
        ({"SLOTPROOF_DELIVERY": "file"}, "SLOTPROOF_OUTBOX_DIR"),
        ({"REDIS_URL": "http://cache"}, "REDIS_URL"),
        ({"SLOTPROOF_DELIVERY": "providers"}, "TWILIO_ACCOUNT_SID"),
        (
            {**PROVIDERS, "TWILIO_AUTH_TOKEN": ""},
            "TWILIO_AUTH_TOKEN",
        ),
        (
            {**PROVIDERS, "TWILIO_FROM_NUMBER": ""},
            "TWILIO_FROM_NUMBER",
        ),
        ({**PROVIDERS, "SENDGRID_API_KEY": ""}, "SENDGRID_API_KEY"),
        ({**PROVIDERS, "SENDGRID_FROM_EMAIL": ""}, "SENDGRID_FROM_EMAIL"),
    ],
)
def test_bad_value_names_its_variable(environ: dict[str, str], variable: str):
    with pytest.raises(ConfigError) as info:
        load_settings(environ)
    assert variable in str(info.value)


def test_bad_value_is_quoted_but_secret_is_not(tmp_path: Path):
    with pytest.raises(ConfigError) as info:
        load_settings({"SLOTPROOF_DB_POOL_MAX": "abc"})
    assert "'abc'" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_settings({"SLOTPROOF_SECRET_KEY": "hunter2-short"})
    assert "hunter2" not in str(info.value)


def test_providers_with_messaging_service_instead_of_from_number():
    environ = {**PROVIDERS, "TWILIO_FROM_NUMBER": "", "TWILIO_MESSAGING_SERVICE_SID": "MG1"}
    s = load_settings(environ)
    assert s.delivery == "providers"
    assert s.twilio_from_number is None
    assert s.twilio_messaging_service_sid == "MG1"


def test_valid_production_config_loads():
    s = load_settings(PRODUCTION)
    assert s.is_production is True
    assert s.env == "production"
    assert s.delivery == "providers"
    assert s.database_url == PRODUCTION["DATABASE_URL"]
    assert s.public_url == "https://book.example.com"
    assert s.secret_key == SECRET
    assert s.twilio_account_sid == "AC123"


@pytest.mark.parametrize(
    ("override", "variable"),
    [
        ({"SLOTPROOF_DELIVERY": "console"}, "SLOTPROOF_DELIVERY"),
        ({"SLOTPROOF_DELIVERY": "file", "SLOTPROOF_OUTBOX_DIR": "/tmp/outbox"}, "DELIVERY"),
        ({"DATABASE_URL": ""}, "DATABASE_URL"),
        ({"SLOTPROOF_SECRET_KEY": ""}, "SLOTPROOF_SECRET_KEY"),
        ({"SLOTPROOF_SECRET_KEY": DEV_SECRET_KEY}, "SLOTPROOF_SECRET_KEY"),
        ({"SLOTPROOF_PUBLIC_URL": "http://book.example.com"}, "SLOTPROOF_PUBLIC_URL"),
        ({"SLOTPROOF_PUBLIC_URL": ""}, "SLOTPROOF_PUBLIC_URL"),
    ],
)
def test_production_refuses_development_defaults(override: dict[str, str], variable: str):
    with pytest.raises(ConfigError) as info:
        load_settings({**PRODUCTION, **override})
    assert variable in str(info.value)


def test_production_without_delivery_setting_refuses_console_default():
    environ = {k: v for k, v in PRODUCTION.items() if k != "SLOTPROOF_DELIVERY"}
    with pytest.raises(ConfigError) as info:
        load_settings(environ)
    assert "SLOTPROOF_DELIVERY" in str(info.value)


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch):
    for name in ("SLOTPROOF_ENV", "DATABASE_URL", "SLOTPROOF_DELIVERY", "SLOTPROOF_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLOTPROOF_TOKEN_RATE_LIMIT", "11")
    assert load_settings().token_rate_limit_per_minute == 11


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 8100, "http://127.0.0.1:8100"),
        ("0.0.0.0", 9000, "http://127.0.0.1:9000"),  # noqa: S104
        ("localhost", 8000, "http://localhost:8000"),
        ("::1", 8001, "http://[::1]:8001"),
    ],
)
def test_development_public_url_follows_host_and_port(host, port, url):
    assert development_public_url(host, port) == url
