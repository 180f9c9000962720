"""Settings, parsed once from the environment into one immutable Struct.

Every bad value fails at start-up with a message naming the variable; production refuses the
development defaults (console/file delivery, the embedded database, a missing secret key).
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import msgspec

Environment = Literal["development", "production"]
Delivery = Literal["console", "file", "providers"]
RateLimits = Literal["auto", "on", "off"]

DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"  # noqa: S105 - refused in production
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message names the variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    env: Environment = "development"
    database_url: str | None = None
    data_dir: Path = PROJECT_ROOT / ".data"
    secret_key: str = DEV_SECRET_KEY
    public_url: str = "http://127.0.0.1:8000"
    delivery: Delivery = "console"
    outbox_dir: Path | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    sendgrid_api_key: str | None = None
    sendgrid_from_email: str | None = None
    sendgrid_webhook_public_key: str | None = None
    redis_url: str | None = None
    db_pool_min: int = 2
    db_pool_max: int = 10
    # fail fast when PostgreSQL is away (app/core/db.py): a new connection must be up within
    # the connect timeout, and a request waits at most the acquire timeout for a pooled one
    db_connect_timeout_seconds: float = 5.0
    db_acquire_timeout_seconds: float = 5.0
    # security headers and CORS (app/core/security.py): no cross-origin API access unless an
    # origin is listed (the widget frame is same-origin); HSTS is sent in production only
    cors_origins: tuple[str, ...] = ()
    hsts_max_age_seconds: int = 63_072_000
    token_rate_limit_per_minute: int = 20
    # layered rate limits (app/core/ratelimit_middleware.py): "auto" enforces every layer in
    # production and only the token endpoint's in development; "on" everywhere; "off" none
    rate_limits: RateLimits = "auto"
    rate_limit_ip_per_minute: int = 300
    # per (X-Widget-Key, client IP), every widget call; the key-wide budget covers only the
    # costly calls (starting an attempt, sending a code), far above what one IP may do
    rate_limit_widget_key_per_minute: int = 150
    rate_limit_widget_key_costly_per_minute: int = 1500
    rate_limit_partner_client_per_minute: int = 1200
    # callbacks whose provider signature verifies (Twilio, SendGrid) count per callback route
    # against this instead of their sending IP's budget: the providers post from a few shared
    # addresses, and the 08:00 end of quiet hours sends a burst of statuses and replies
    rate_limit_provider_per_minute: int = 6000
    trusted_proxies: tuple[str, ...] = ()  # IPs/CIDRs whose X-Forwarded-For is believed
    rate_limit_redis_prefix: str = "slotproof:ratelimit:"
    access_token_ttl_seconds: int = 3600
    # availability answers cached per process (app/availability/cache.py); 0 turns it off
    availability_cache_mb: int = 64
    hold_minutes: int = 10
    # holds before the attempt is verified (or on a setting without verification) are short,
    # and widget holds are capped per client address and per publishable key
    # (app/attempts/holds.py)
    unverified_hold_minutes: int = 3
    holds_per_client: int = 5
    holds_per_widget_key: int = 100
    attempt_idle_minutes: int = 30
    # SMS pumping (app/identity/sms_limits.py): verification texts per account per UTC day, and
    # per widget client address per hour
    sms_account_daily_cap: int = 1000
    sms_per_client_per_hour: int = 10
    # notification delivery (app/notifications)
    in_process_worker: bool = True
    # check partners' `x-api-key` against their client's key (Lobbie sends one on every call)
    require_api_key: bool = False
    delivery_max_attempts: int = 8
    delivery_backoff_base_seconds: float = 15.0
    delivery_backoff_cap_seconds: float = 3600.0
    delivery_lease_seconds: float = 120.0
    provider_timeout_seconds: float = 10.0
    twilio_api_url: str | None = None  # None: https://api.twilio.com (override for test doubles)
    sendgrid_api_url: str = "https://api.sendgrid.com"
    # webhooks out (app/webhooks): a delivery is retried with backoff until
    # webhook_retry_window_seconds after it was created, then FAILED
    webhook_timeout_seconds: float = 10.0
    webhook_lease_seconds: float = 60.0  # >= 3 x timeout: a live dispatcher keeps its lease
    webhook_backoff_base_seconds: float = 10.0
    webhook_backoff_cap_seconds: float = 3600.0
    webhook_retry_window_seconds: float = 86_400.0
    # retention (app/retention.py): contacts captured by attempts abandoned without a patient
    retention_abandoned_days: int = 30

    @property
    def is_production(self) -> bool:
        return self.env == "production"


# environment variable -> (field, parser)
def _int(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, got {value}")
    return value


def _choice(name: str, raw: str, allowed: tuple[str, ...]) -> str:
    value = raw.strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
    return value


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be 1/0, true/false, yes/no or on/off, got {raw!r}")


def _networks(name: str, raw: str) -> tuple[str, ...]:
    networks = []
    for part in raw.split(","):
        if not (part := part.strip()):
            continue
        try:
            networks.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ConfigError(f"{name} must list IP addresses or CIDRs, got {part!r}") from None
    return tuple(networks)


def _url(name: str, raw: str, schemes: tuple[str, ...]) -> str:
    value = raw.strip()
    if not value.startswith(tuple(f"{s}://" for s in schemes)):
        raise ConfigError(f"{name} must be a URL starting with {' or '.join(schemes)}://")
    return value.rstrip("/") if name == "SLOTPROOF_PUBLIC_URL" else value


_CORS_ORIGIN = re.compile(r"https?://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?")


def _origins(name: str, raw: str) -> tuple[str, ...]:
    """Comma- or space-separated origins (`scheme://host[:port]`, no path, no wildcard)."""
    origins = []
    for item in re.split(r"[,\s]+", raw.strip()):
        if not item:
            continue
        origin = item.rstrip("/").lower()
        if not _CORS_ORIGIN.fullmatch(origin):
            raise ConfigError(
                f"{name} must list origins like https://host[:port] (no path, no wildcard),"
                f" got {item!r}"
            )
        if origin not in origins:
            origins.append(origin)
    return tuple(origins)


def development_public_url(host: str, port: int) -> str:
    """Where `serve --host H --port P` is reached from this machine: the default public URL in
    development, so links (manage links in messages, callbacks) follow the port."""
    if host in ("", "0.0.0.0", "::"):  # noqa: S104 - every interface: links use loopback
        host = "127.0.0.1"
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ

    def get(name: str) -> str | None:
        value = env.get(name)
        return value if value not in (None, "") else None

    values: dict[str, object] = {}
    if raw := get("SLOTPROOF_ENV"):
        values["env"] = _choice("SLOTPROOF_ENV", raw, ("development", "production"))
    if raw := get("DATABASE_URL"):
        values["database_url"] = _url("DATABASE_URL", raw, ("postgres", "postgresql"))
    if raw := get("SLOTPROOF_DATA_DIR"):
        values["data_dir"] = Path(raw).resolve()
    if raw := get("SLOTPROOF_SECRET_KEY"):
        if len(raw) < 32:
            raise ConfigError("SLOTPROOF_SECRET_KEY must be at least 32 characters")
        values["secret_key"] = raw
    if raw := get("SLOTPROOF_PUBLIC_URL"):
        values["public_url"] = _url("SLOTPROOF_PUBLIC_URL", raw, ("http", "https"))
    if raw := get("SLOTPROOF_DELIVERY"):
        values["delivery"] = _choice("SLOTPROOF_DELIVERY", raw, ("console", "file", "providers"))
    if raw := get("SLOTPROOF_OUTBOX_DIR"):
        values["outbox_dir"] = Path(raw).resolve()
    if raw := get("REDIS_URL"):
        values["redis_url"] = _url("REDIS_URL", raw, ("redis", "rediss"))
    if raw := get("SLOTPROOF_RATE_LIMITS"):
        values["rate_limits"] = _choice("SLOTPROOF_RATE_LIMITS", raw, ("auto", "on", "off"))
    if raw := get("SLOTPROOF_TRUSTED_PROXIES"):
        values["trusted_proxies"] = _networks("SLOTPROOF_TRUSTED_PROXIES", raw)
    if raw := get("SLOTPROOF_RATE_LIMIT_PREFIX"):
        if len(raw) > 100 or not raw.isprintable() or " " in raw:
            raise ConfigError("SLOTPROOF_RATE_LIMIT_PREFIX must be up to 100 printable characters")
        values["rate_limit_redis_prefix"] = raw
    if raw := get("SLOTPROOF_IN_PROCESS_WORKER"):
        values["in_process_worker"] = _bool("SLOTPROOF_IN_PROCESS_WORKER", raw)
    if raw := get("SLOTPROOF_REQUIRE_API_KEY"):
        values["require_api_key"] = _bool("SLOTPROOF_REQUIRE_API_KEY", raw)
    if raw := get("SLOTPROOF_TWILIO_API_URL"):
        values["twilio_api_url"] = _url("SLOTPROOF_TWILIO_API_URL", raw, ("http", "https"))
    if raw := get("SLOTPROOF_SENDGRID_API_URL"):
        values["sendgrid_api_url"] = _url("SLOTPROOF_SENDGRID_API_URL", raw, ("http", "https"))
    if raw := get("SLOTPROOF_CORS_ORIGINS"):
        values["cors_origins"] = _origins("SLOTPROOF_CORS_ORIGINS", raw)
    for name, field, low, high in (
        ("SLOTPROOF_DB_POOL_MIN", "db_pool_min", 1, 100),
        ("SLOTPROOF_DB_POOL_MAX", "db_pool_max", 1, 500),
        ("SLOTPROOF_DB_CONNECT_TIMEOUT", "db_connect_timeout_seconds", 1, 60),
        ("SLOTPROOF_DB_ACQUIRE_TIMEOUT", "db_acquire_timeout_seconds", 1, 120),
        ("SLOTPROOF_HSTS_MAX_AGE", "hsts_max_age_seconds", 0, 63_072_000),
        ("SLOTPROOF_TOKEN_RATE_LIMIT", "token_rate_limit_per_minute", 1, 100_000),
        ("SLOTPROOF_RATE_LIMIT_IP", "rate_limit_ip_per_minute", 1, 1_000_000),
        ("SLOTPROOF_RATE_LIMIT_WIDGET_KEY", "rate_limit_widget_key_per_minute", 1, 1_000_000),
        (
            "SLOTPROOF_RATE_LIMIT_WIDGET_KEY_COSTLY",
            "rate_limit_widget_key_costly_per_minute",
            1,
            1_000_000,
        ),
        (
            "SLOTPROOF_RATE_LIMIT_PARTNER_CLIENT",
            "rate_limit_partner_client_per_minute",
            1,
            1_000_000,
        ),
        ("SLOTPROOF_RATE_LIMIT_PROVIDER", "rate_limit_provider_per_minute", 1, 1_000_000),
        ("SLOTPROOF_AVAILABILITY_CACHE_MB", "availability_cache_mb", 0, 65_536),
        ("SLOTPROOF_HOLD_MINUTES", "hold_minutes", 1, 120),
        ("SLOTPROOF_UNVERIFIED_HOLD_MINUTES", "unverified_hold_minutes", 1, 120),
        ("SLOTPROOF_HOLDS_PER_IP", "holds_per_client", 1, 10_000),
        ("SLOTPROOF_HOLDS_PER_WIDGET_KEY", "holds_per_widget_key", 1, 1_000_000),
        ("SLOTPROOF_SMS_ACCOUNT_DAILY_CAP", "sms_account_daily_cap", 0, 10_000_000),
        ("SLOTPROOF_SMS_PER_IP_PER_HOUR", "sms_per_client_per_hour", 1, 100_000),
        ("SLOTPROOF_ATTEMPT_IDLE_MINUTES", "attempt_idle_minutes", 5, 10_080),
        ("SLOTPROOF_DELIVERY_MAX_ATTEMPTS", "delivery_max_attempts", 1, 50),
        ("SLOTPROOF_DELIVERY_BACKOFF_BASE", "delivery_backoff_base_seconds", 1, 3600),
        ("SLOTPROOF_DELIVERY_BACKOFF_CAP", "delivery_backoff_cap_seconds", 1, 86_400),
        ("SLOTPROOF_DELIVERY_LEASE", "delivery_lease_seconds", 10, 3600),
        ("SLOTPROOF_PROVIDER_TIMEOUT", "provider_timeout_seconds", 1, 120),
        ("SLOTPROOF_RETENTION_ABANDONED_DAYS", "retention_abandoned_days", 1, 3650),
    ):
        if raw := get(name):
            values[field] = _int(name, raw, low, high)
    for name in (
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TWILIO_FROM_NUMBER",
        "TWILIO_MESSAGING_SERVICE_SID",
        "SENDGRID_API_KEY",
        "SENDGRID_FROM_EMAIL",
        "SENDGRID_WEBHOOK_PUBLIC_KEY",
    ):
        if raw := get(name):
            values[name.lower()] = raw.strip()

    settings = Settings(**values)  # type: ignore[arg-type]
    _check_consistency(settings)
    return settings


def _check_consistency(s: Settings) -> None:
    if s.db_pool_min > s.db_pool_max:
        raise ConfigError("SLOTPROOF_DB_POOL_MIN must not exceed SLOTPROOF_DB_POOL_MAX")
    if s.delivery_backoff_base_seconds > s.delivery_backoff_cap_seconds:
        raise ConfigError(
            "SLOTPROOF_DELIVERY_BACKOFF_BASE must not exceed SLOTPROOF_DELIVERY_BACKOFF_CAP"
        )
    if s.delivery_lease_seconds < 3 * s.provider_timeout_seconds:
        # a send still in flight when its lease runs out is sent again by another worker
        raise ConfigError(
            "SLOTPROOF_DELIVERY_LEASE must be at least 3 x SLOTPROOF_PROVIDER_TIMEOUT"
        )
    if s.unverified_hold_minutes > s.hold_minutes:
        raise ConfigError(
            "SLOTPROOF_UNVERIFIED_HOLD_MINUTES must not exceed SLOTPROOF_HOLD_MINUTES"
        )
    if s.delivery == "file" and s.outbox_dir is None:
        raise ConfigError("SLOTPROOF_OUTBOX_DIR is required when SLOTPROOF_DELIVERY=file")
    if s.delivery == "providers":
        if not s.twilio_account_sid or not s.twilio_auth_token:
            raise ConfigError("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required for providers")
        if not (s.twilio_from_number or s.twilio_messaging_service_sid):
            raise ConfigError(
                "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID is required for providers"
            )
        if not s.sendgrid_api_key or not s.sendgrid_from_email:
            raise ConfigError("SENDGRID_API_KEY and SENDGRID_FROM_EMAIL are required for providers")
    if s.is_production:
        if s.secret_key == DEV_SECRET_KEY:
            raise ConfigError("SLOTPROOF_SECRET_KEY must be set in production")
        if s.delivery != "providers":
            raise ConfigError("SLOTPROOF_DELIVERY must be 'providers' in production")
        if s.database_url is None:
            raise ConfigError("DATABASE_URL must be set in production (no embedded database)")
        if not s.public_url.startswith("https://"):
            raise ConfigError("SLOTPROOF_PUBLIC_URL must be https:// in production")
        if any(not origin.startswith("https://") for origin in s.cors_origins):
            raise ConfigError("SLOTPROOF_CORS_ORIGINS must list https:// origins in production")
        for name, url in (
            ("SLOTPROOF_TWILIO_API_URL", s.twilio_api_url),
            ("SLOTPROOF_SENDGRID_API_URL", s.sendgrid_api_url),
        ):
            if url is not None and not url.startswith("https://"):
                raise ConfigError(f"{name} must be https:// in production")
