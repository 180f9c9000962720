"""Rate-limit window math (injected clock), the client address behind proxies, which buckets a
request counts against, the settings, and failing open when Redis is away."""

from __future__ import annotations

import ipaddress
import logging

import pytest

from app.config import ConfigError, Settings, load_settings
from app.core.principal import (
    CallbackRoute,
    Credential,
    PartnerClient,
    Principal,
    ProviderCallback,
    client_address,
    parse_ip,
)
from app.core.ratelimit import Decision, MemoryBackend, RedisBackend, Rule, Usage
from app.core.ratelimit_middleware import RateLimits, build_rate_limits

SECRET = "unit-secret-key-0123456789abcdef0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- window math -----------------------------------------------------------------------------


def test_fixed_window_counts_refuses_and_resets():
    clock = Clock()
    backend = MemoryBackend(clock)
    rule = Rule("ip:a", 2, 60)
    first = backend.check([rule])
    assert first.allowed and first.usages[0].count == 1
    assert first.usages[0].remaining == 1 and first.usages[0].reset == pytest.approx(60)
    clock.now += 10
    second = backend.check([rule])
    assert second.allowed and second.usages[0].remaining == 0
    assert second.usages[0].reset == pytest.approx(50)
    clock.now += 5
    refused = backend.check([rule])
    assert not refused.allowed
    assert refused.usages[0].reset == pytest.approx(45)  # window began at 1000, now 1015
    assert refused.retry_after == 45
    clock.now += 44.5
    assert backend.check([rule]).retry_after == 1  # 0.5 s rounds up to 1
    clock.now += 0.5  # 60 s after the first hit: a new window
    again = backend.check([rule])
    assert again.allowed and again.usages[0].count == 1
    assert again.usages[0].reset == pytest.approx(60)


def test_refused_hits_neither_count_nor_extend_the_window():
    clock = Clock()
    backend = MemoryBackend(clock)
    rule = Rule("k", 1, 10)
    assert backend.check([rule]).allowed
    for _ in range(5):
        clock.now += 1
        assert not backend.check([rule]).allowed
    clock.now += 5  # 10 s after the first hit
    assert backend.check([rule]).allowed


def test_a_refused_request_costs_no_other_layer_anything():
    clock = Clock()
    backend = MemoryBackend(clock)
    ip, widget = Rule("ip:1", 1, 60), Rule("widget:k", 5, 60)
    assert backend.check([ip, widget]).allowed
    for _ in range(3):
        refused = backend.check([ip, widget])
        assert not refused.allowed
        assert [u.count for u in refused.usages] == [1, 1]
    # another IP with the same widget key finds the key's budget untouched by the refusals
    other = backend.check([Rule("ip:2", 1, 60), widget])
    assert other.allowed and other.usages[1].count == 2


def test_keys_are_independent():
    backend = MemoryBackend(Clock())
    assert backend.check([Rule("a", 1, 60)]).allowed
    assert not backend.check([Rule("a", 1, 60)]).allowed
    assert backend.check([Rule("b", 1, 60)]).allowed


def test_tightest_and_retry_after():
    short, long_ = Rule("a", 10, 60), Rule("b", 3, 60)
    allowed = Decision(True, (Usage(short, 2, 30.0), Usage(long_, 2, 50.0)))
    assert allowed.tightest().rule is long_  # 1 left beats 8 left
    tie = Decision(True, (Usage(Rule("a", 5, 60), 4, 10.0), Usage(Rule("b", 3, 60), 2, 40.0)))
    assert tie.tightest().reset == 40.0  # equally tight: the longer wait
    refused = Decision(False, (Usage(short, 10, 12.2), Usage(long_, 3, 40.1), Usage(short, 1, 59)))
    assert refused.tightest().rule is long_
    assert refused.retry_after == 41  # until every exhausted bucket has reset


def test_memory_stays_bounded():
    clock = Clock()
    backend = MemoryBackend(clock, max_keys=100)
    for i in range(1000):
        backend.check([Rule(f"k{i}", 5, 60)])
        assert len(backend) <= 100
    clock.now += 61
    for i in range(50):  # expired windows are dropped as new ones open
        backend.check([Rule(f"new{i}", 5, 60)])
    assert len(backend) <= 100
    assert all(key.startswith("new") for key in backend._windows)


def test_expired_windows_go_as_new_ones_open():
    clock = Clock()
    backend = MemoryBackend(clock)
    for i in range(10):
        backend.check([Rule(f"old{i}", 5, 60)])
    clock.now += 60
    for i in range(5):
        backend.check([Rule(f"new{i}", 5, 60)])
    assert len(backend) == 5


# --- the client's address --------------------------------------------------------------------

PROXIES = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "2001:db8:ffff::/48"))


def test_forwarded_for_is_ignored_without_trusted_proxies():
    assert client_address("203.0.113.9", ["198.51.100.1"], ()) == "203.0.113.9"


def test_forwarded_for_is_ignored_when_the_peer_is_not_trusted():
    assert client_address("203.0.113.9", ["198.51.100.1"], PROXIES) == "203.0.113.9"


def test_right_most_untrusted_address_behind_trusted_proxies():
    # the client spoofed the first entry; our two proxies appended the rest
    chain = ["6.6.6.6, 198.51.100.7", "10.0.0.5"]
    assert client_address("10.1.1.1", chain, PROXIES) == "198.51.100.7"
    assert client_address("10.1.1.1", ["198.51.100.7"], PROXIES) == "198.51.100.7"


def test_forwarded_for_edge_cases():
    assert client_address("10.1.1.1", [], PROXIES) == "10.1.1.1"  # no header: the proxy
    assert client_address("10.1.1.1", ["10.0.0.9, 10.0.0.8"], PROXIES) == "10.0.0.9"
    assert client_address("10.1.1.1", ["bogus, 10.0.0.8"], PROXIES) == "10.0.0.8"
    assert client_address("10.1.1.1", ["198.51.100.7, junk"], PROXIES) == "10.1.1.1"
    assert client_address("10.1.1.1", ["198.51.100.7:4711"], PROXIES) == "198.51.100.7"
    assert client_address(None, [], PROXIES) == "unknown"
    assert client_address("testclient", [], PROXIES) == "testclient"


def test_ipv6_clients_are_grouped_by_64_and_mapped_ipv4_unwrapped():
    a = client_address("2001:db8:1:2::1", [], ())
    b = client_address("2001:db8:1:2:ffff::9", [], ())
    assert a == b == "2001:db8:1:2::/64"
    assert client_address("2001:db8:1:3::1", [], ()) != a
    assert client_address("::ffff:192.0.2.1", [], ()) == "192.0.2.1"
    assert client_address("2001:db8:ffff::1", ["[2001:db8:9::1]:443"], PROXIES) == (
        "2001:db8:9::/64"
    )
    assert parse_ip("[::1]:80") == ipaddress.ip_address("::1")
    assert parse_ip("not an ip") is None


# --- which buckets apply ---------------------------------------------------------------------


def _settings(**kw) -> Settings:
    return Settings(secret_key=SECRET, **{"rate_limits": "on", **kw})


IP = "203.0.113.9"
ANON = Principal(ip=IP)


def _widget(key: str, ip: str = IP) -> Principal:
    return Principal(ip=ip, widget_key=key)


def _partner(client_id: str) -> Principal:
    client = PartnerClient(client_id, True, frozenset({"scheduling"}), frozenset({1}))
    return Principal(ip=IP, bearer=Credential.VALID, partner=client)


def _layers(
    limits: RateLimits, path: str, principal: Principal = ANON, method: str = "GET"
) -> list[str]:
    return [rule.key.split(":")[0] for rule in limits.rules(method, path, principal)]


def test_layers_per_path():
    limits = RateLimits(_settings(), backend=MemoryBackend())
    assert _layers(limits, "/healthz") == []
    assert _layers(limits, "/readyz") == []
    assert _layers(limits, "/oauth2/token") == ["ip", "token"]
    assert _layers(limits, "/widget/v1/config", _widget("pk_abc")) == ["ip", "widget"]
    assert _layers(limits, "/widget/v1/attempt", _widget("pk_abc"), "POST") == [
        "ip",
        "widget",
        "widget-costly",
    ]
    assert _layers(limits, "/widget/v1/attempt", _widget("pk_abc")) == ["ip", "widget"]  # GET
    assert _layers(limits, "/widget/v1/attempt/hold", _widget("pk_abc"), "POST") == [
        "ip",
        "widget",
    ]
    assert _layers(limits, "/widget/v1/config") == ["ip"]
    assert _layers(limits, "/partner/v2/account/1/location", _partner("cli_one")) == [
        "ip",
        "partner",
    ]
    invalid = Principal(ip=IP, bearer=Credential.INVALID)
    assert _layers(limits, "/partner/v2/account/1/location", invalid) == ["ip"]
    assert _layers(limits, "/schema/openapi.json", _partner("cli_one")) == ["ip"]


def _callback(provider: str, path: str) -> Principal:
    route = CallbackRoute(provider, path)
    return Principal(ip=IP, callback=ProviderCallback(route, b"", {}))


def test_a_verified_provider_callback_counts_against_its_routes_budget_not_its_ip():
    limits = RateLimits(_settings(rate_limit_provider_per_minute=77), backend=MemoryBackend())
    status = limits.rules("POST", "/callbacks/twilio/status", _callback("twilio", "/s"))
    assert [(r.key.split(":")[0], r.limit) for r in status] == [("provider", 77)]
    inbound = limits.rules("POST", "/callbacks/twilio/inbound", _callback("twilio", "/i"))
    events = limits.rules("POST", "/callbacks/sendgrid/events", _callback("sendgrid", "/s"))
    assert len({status[0].key, inbound[0].key, events[0].key}) == 3  # a budget per route
    again = limits.rules("POST", "/callbacks/twilio/status", _callback("twilio", "/s"))
    assert again[0].key == status[0].key  # over every address
    # unverified: the IP's, like any request
    assert _layers(limits, "/callbacks/twilio/status", method="POST") == ["ip"]
    # development's `auto` counts callbacks nowhere, as every other layer but the token's
    dev = RateLimits(Settings(secret_key=SECRET), backend=MemoryBackend())
    assert _layers(dev, "/callbacks/twilio/status", _callback("twilio", "/s"), "POST") == []


def test_bucket_keys_carry_no_address_or_credential():
    limits = RateLimits(_settings(), backend=MemoryBackend())
    rules = limits.rules("GET", "/widget/v1/config", _widget("pk_secretish"))
    for rule in rules:
        assert IP not in rule.key and "pk_secretish" not in rule.key
    again = limits.rules("GET", "/widget/v1/config", _widget("pk_secretish"))
    assert [r.key for r in rules] == [r.key for r in again]  # stable, so counts add up
    other_ip = limits.rules("GET", "/widget/v1/x", _widget("pk_secretish", ip="unknown"))
    assert other_ip[0].key != rules[0].key and other_ip[1].key != rules[1].key  # per (key, IP)
    costly = limits.rules("POST", "/widget/v1/attempt", _widget("pk_secretish"))
    elsewhere = limits.rules("POST", "/widget/v1/attempt", _widget("pk_secretish", ip="unknown"))
    assert costly[2].key == elsewhere[2].key  # the key-wide budget of the costly calls


def test_limits_come_from_settings():
    limits = RateLimits(
        _settings(
            rate_limit_ip_per_minute=7,
            rate_limit_widget_key_per_minute=8,
            rate_limit_widget_key_costly_per_minute=11,
            rate_limit_partner_client_per_minute=9,
            token_rate_limit_per_minute=3,
        ),
        backend=MemoryBackend(),
    )
    rules = limits.rules("POST", "/oauth2/token", ANON)
    assert [(r.limit, r.window) for r in rules] == [(7, 60), (3, 60)]
    rules = limits.rules("GET", "/widget/v1/a", _widget("pk_1"))
    assert [r.limit for r in rules] == [7, 8]
    rules = limits.rules("POST", "/widget/v1/attempt/send-code", _widget("pk_1"))
    assert [r.limit for r in rules] == [7, 8, 11]


def test_auto_enforces_every_layer_in_production_only_the_token_limit_in_development():
    dev = RateLimits(Settings(secret_key=SECRET), backend=MemoryBackend())
    assert _layers(dev, "/widget/v1/config", _widget("pk_abc")) == []
    assert _layers(dev, "/oauth2/token") == ["token"]
    prod = RateLimits(Settings(secret_key=SECRET, env="production"), backend=MemoryBackend())
    assert _layers(prod, "/widget/v1/config", _widget("pk_abc")) == ["ip", "widget"]
    assert build_rate_limits(Settings(rate_limits="off")) is None


def test_redis_url_selects_the_shared_backend():
    limits = build_rate_limits(_settings(redis_url="redis://127.0.0.1:1/0"))
    assert limits is not None and isinstance(limits.backend, RedisBackend)
    assert isinstance(build_rate_limits(_settings()).backend, MemoryBackend)


# --- settings --------------------------------------------------------------------------------


def test_settings_defaults():
    s = load_settings({})
    assert s.rate_limits == "auto"
    assert (
        s.rate_limit_ip_per_minute,
        s.rate_limit_widget_key_per_minute,
        s.rate_limit_partner_client_per_minute,
    ) == (300, 150, 1200)
    assert s.rate_limit_widget_key_costly_per_minute == 1500
    assert s.rate_limit_provider_per_minute == 6000
    assert s.trusted_proxies == ()
    assert s.rate_limit_redis_prefix == "slotproof:ratelimit:"


def test_settings_are_parsed():
    s = load_settings(
        {
            "SLOTPROOF_RATE_LIMITS": " ON ",
            "SLOTPROOF_RATE_LIMIT_IP": "10",
            "SLOTPROOF_RATE_LIMIT_WIDGET_KEY": "20",
            "SLOTPROOF_RATE_LIMIT_WIDGET_KEY_COSTLY": "40",
            "SLOTPROOF_RATE_LIMIT_PARTNER_CLIENT": "30",
            "SLOTPROOF_RATE_LIMIT_PROVIDER": "50",
            "SLOTPROOF_TRUSTED_PROXIES": "10.0.0.1, 172.16.0.0/12,,2001:db8::/32, 192.168.1.7/24",
            "SLOTPROOF_RATE_LIMIT_PREFIX": "app1:rl:",
        }
    )
    assert s.rate_limits == "on"
    assert (
        s.rate_limit_ip_per_minute,
        s.rate_limit_widget_key_per_minute,
        s.rate_limit_partner_client_per_minute,
    ) == (10, 20, 30)
    assert s.rate_limit_widget_key_costly_per_minute == 40
    assert s.rate_limit_provider_per_minute == 50
    assert s.trusted_proxies == ("10.0.0.1/32", "172.16.0.0/12", "2001:db8::/32", "192.168.1.0/24")
    assert s.rate_limit_redis_prefix == "app1:rl:"
    assert load_settings({"SLOTPROOF_RATE_LIMITS": "off"}).rate_limits == "off"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SLOTPROOF_RATE_LIMITS", "sometimes"),
        ("SLOTPROOF_RATE_LIMIT_IP", "0"),
        ("SLOTPROOF_RATE_LIMIT_WIDGET_KEY", "many"),
        ("SLOTPROOF_RATE_LIMIT_PARTNER_CLIENT", "-1"),
        ("SLOTPROOF_RATE_LIMIT_PROVIDER", "0"),
        ("SLOTPROOF_TRUSTED_PROXIES", "10.0.0.1, proxy.internal"),
        ("SLOTPROOF_RATE_LIMIT_PREFIX", "has space"),
    ],
)
def test_bad_settings_name_the_variable(name: str, value: str):
    with pytest.raises(ConfigError, match=name):
        load_settings({name: value})


# --- Redis unavailable: fail open ------------------------------------------------------------


class FlakyRedis:
    """Stands in for redis.asyncio.Redis: fails while `down`, else answers like the script."""

    def __init__(self) -> None:
        self.down = True
        self.calls = 0

    def register_script(self, _source: str):
        async def run(keys, args):
            self.calls += 1
            if self.down:
                raise ConnectionError("Connection refused")
            return [1, *[v for _ in keys for v in (1, 60_000)]]

        return run

    async def aclose(self) -> None:
        return None


async def test_redis_failure_fails_open_and_pauses_then_recovers(caplog):
    clock = Clock()
    fake = FlakyRedis()
    backend = RedisBackend("redis://unused", "p:", pause=5.0, clock=clock, client=fake)
    rules = [Rule("ip:x", 5, 60)]
    with caplog.at_level(logging.WARNING, logger="slotproof.ratelimit"):
        assert await backend.hit(rules) is None
        assert await backend.hit(rules) is None  # paused: Redis is not even asked
        assert fake.calls == 1
        clock.now += 5
        assert await backend.hit(rules) is None  # asked again, still down
        assert fake.calls == 2
        fake.down = False
        clock.now += 5
        decision = await backend.hit(rules)
    assert decision is not None and decision.allowed
    assert decision.usages[0].count == 1 and decision.usages[0].reset == 60.0
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "failing open" in m]) == 1  # once per outage
    assert any("enforced again" in m for m in messages)
