"""Layered rate limits over HTTP, in process: per IP, per widget key, per partner client, the
token endpoint, the headers, and X-Forwarded-For believed only from trusted proxies."""

from __future__ import annotations

import secrets

import httpx
import pytest

from app.config import Settings
from tests.support import Partner, limited, make_partner, problem_code

UNAUTHED = "/partner/v2/account/1/location"  # 401 from the guard, no database work


def assert_limited(r: httpx.Response, limit: int) -> int:
    assert r.status_code == 429, r.text
    assert problem_code(r) == "rate_limited"
    body = r.json()
    retry = int(r.headers["retry-after"])
    assert 1 <= retry <= 60
    assert body["retryAfterSeconds"] == retry
    assert body["status"] == 429
    assert body["requestId"] == r.headers["x-request-id"]
    assert r.headers["ratelimit-limit"] == str(limit)
    assert r.headers["ratelimit-remaining"] == "0"
    assert r.headers["ratelimit-reset"] == str(retry)
    return retry


def remaining(r: httpx.Response) -> int:
    return int(r.headers["ratelimit-remaining"])


# --- per IP ----------------------------------------------------------------------------------


async def test_ip_limit_refuses_once_reached_and_only_that_ip(settings: Settings):
    async with limited(settings, rate_limit_ip_per_minute=3) as app:
        c = app.client("203.0.113.11")
        for left in (2, 1, 0):
            r = await c.get(UNAUTHED)
            assert r.status_code == 401, r.text
            assert r.headers["ratelimit-limit"] == "3"
            assert remaining(r) == left
        assert_limited(await c.get(UNAUTHED), 3)
        assert_limited(await c.get("/schema/openapi.json"), 3)  # every route counts
        assert (await c.get("/healthz")).status_code == 200  # probes are never limited
        assert (await c.get("/readyz")).status_code == 200
        loader = await c.get("/widget/v1/loader.js")  # cacheable widget assets are not counted
        assert loader.status_code == 200 and "ratelimit-limit" not in loader.headers
        other = app.client("203.0.113.12")
        assert (await other.get(UNAUTHED)).status_code == 401


async def test_headers_on_success_report_the_window(settings: Settings):
    async with limited(settings, rate_limit_ip_per_minute=5) as app:
        c = app.client("203.0.113.13")
        first = await c.get("/schema/openapi.json")
        assert first.status_code == 200
        assert first.headers["ratelimit-limit"] == "5"
        assert remaining(first) == 4
        assert 1 <= int(first.headers["ratelimit-reset"]) <= 60
        assert "retry-after" not in first.headers
        second = await c.get(UNAUTHED)
        assert remaining(second) == 3
        health = await c.get("/healthz")
        assert "ratelimit-limit" not in health.headers


async def test_a_refused_request_claims_no_idempotency_key(settings: Settings):
    async with limited(settings, rate_limit_ip_per_minute=1) as app:
        c = app.client("203.0.113.14")
        headers = {"X-Widget-Key": "pk_" + secrets.token_hex(8), "Idempotency-Key": "k-1"}
        assert (await c.post("/widget/v1/attempt", headers=headers, json={})).status_code == 401
        refused = await c.post("/widget/v1/attempt", headers=headers, json={})
        assert_limited(refused, 1)
        assert "idempotent-replayed" not in refused.headers


# --- per widget key ----------------------------------------------------------------------------


async def test_widget_limits_are_per_key_and_ip(settings: Settings):
    key = "pk_" + secrets.token_hex(8)
    async with limited(
        settings, rate_limit_ip_per_minute=100, rate_limit_widget_key_per_minute=3
    ) as app:
        one = app.client("198.51.100.1")
        for i in range(3):
            r = await one.get("/widget/v1/config", headers={"X-Widget-Key": key})
            assert problem_code(r) == "invalid_widget_key"  # unknown key: still counted
            assert r.headers["ratelimit-limit"] == "3"  # the tightest layer is (key, IP)
            assert remaining(r) == 2 - i
        assert_limited(await one.get("/widget/v1/config", headers={"X-Widget-Key": key}), 3)
        # another visitor of the same key is not affected
        other = app.client("198.51.100.9")
        r = await other.get("/widget/v1/config", headers={"X-Widget-Key": key})
        assert r.status_code == 401 and remaining(r) == 2
        # a value that is no widget key at all counts under the IP only
        for _ in range(5):
            r = await other.get("/widget/v1/config", headers={"X-Widget-Key": "junk"})
            assert r.status_code == 401
            assert r.headers["ratelimit-limit"] == "100"


async def test_costly_widget_calls_have_a_key_wide_budget_too(settings: Settings):
    key = {"X-Widget-Key": "pk_" + secrets.token_hex(8)}
    async with limited(
        settings,
        rate_limit_ip_per_minute=100,
        rate_limit_widget_key_per_minute=50,
        rate_limit_widget_key_costly_per_minute=3,
    ) as app:
        for i in range(3):  # starting attempts, from three addresses
            r = await app.client(f"198.51.100.{i + 20}").post("/widget/v1/attempt", headers=key)
            assert r.status_code == 401 and r.headers["ratelimit-limit"] == "3"
        late = app.client("198.51.100.29")
        assert_limited(await late.post("/widget/v1/attempt", headers=key), 3)
        assert_limited(await late.post("/widget/v1/attempt/send-code", headers=key, json={}), 3)
        # the cheap calls of the same key are not held back by it
        assert (await late.get("/widget/v1/config", headers=key)).status_code == 401


# --- per partner client ------------------------------------------------------------------------


async def test_partner_client_limit_spans_ips(settings: Settings, client, pool, partner: Partner):
    other = await make_partner(client, pool)
    async with limited(
        settings, rate_limit_ip_per_minute=100, rate_limit_partner_client_per_minute=3
    ) as app:
        auth = {"Authorization": f"Bearer {partner.token}"}
        for i in range(3):
            r = await app.client(f"192.0.2.{i + 1}").get(partner.url("/location"), headers=auth)
            assert r.status_code == 200, r.text
            assert r.headers["ratelimit-limit"] == "3"
            assert remaining(r) == 2 - i
        late = app.client("192.0.2.50")
        assert_limited(await late.get(partner.url("/location"), headers=auth), 3)
        r = await late.get(other.url("/location"), headers=other.headers())
        assert r.status_code == 200  # another client has its own budget
        assert remaining(r) == 2


async def test_invalid_partner_tokens_count_under_the_ip_only(settings: Settings, partner: Partner):
    async with limited(
        settings, rate_limit_ip_per_minute=4, rate_limit_partner_client_per_minute=2
    ) as app:
        attacker = app.client("192.0.2.99")
        bad = {"Authorization": f"Bearer {partner.token}x"}
        for _ in range(4):
            r = await attacker.get(partner.url("/location"), headers=bad)
            assert problem_code(r) == "invalid_token"
            assert r.headers["ratelimit-limit"] == "4"
        assert_limited(await attacker.get(partner.url("/location"), headers=bad), 4)
        # the real client's budget was not touched
        r = await app.client("192.0.2.98").get(partner.url("/location"), headers=partner.headers())
        assert r.status_code == 200
        assert (r.headers["ratelimit-limit"], remaining(r)) == ("2", 1)


# --- the token endpoint ------------------------------------------------------------------------


async def test_token_endpoint_is_stricter_than_the_ip_limit(settings: Settings):
    form = {"grant_type": "client_credentials", "client_id": "cli_x", "client_secret": "nope"}
    async with limited(
        settings, rate_limit_ip_per_minute=100, token_rate_limit_per_minute=2
    ) as app:
        c = app.client("192.0.2.200")
        for left in (1, 0):
            r = await c.post("/oauth2/token", data=form)
            assert r.status_code == 401
            assert (r.headers["ratelimit-limit"], remaining(r)) == ("2", left)
        assert_limited(await c.post("/oauth2/token", data=form), 2)
        r = await c.get(UNAUTHED)  # the rest of the API is still open to this IP
        assert r.status_code == 401
        # two token requests and this one: the refused request cost the IP nothing
        assert (r.headers["ratelimit-limit"], remaining(r)) == ("100", 97)
        assert (await app.client("192.0.2.201").post("/oauth2/token", data=form)).status_code == 401


# --- X-Forwarded-For ---------------------------------------------------------------------------


async def test_forwarded_for_is_ignored_by_default(settings: Settings):
    async with limited(settings, rate_limit_ip_per_minute=2) as app:
        c = app.client("10.0.0.2")
        for i in range(2):
            r = await c.get(UNAUTHED, headers={"X-Forwarded-For": f"198.51.100.{i}"})
            assert r.status_code == 401
        r = await c.get(UNAUTHED, headers={"X-Forwarded-For": "198.51.100.77"})
        assert_limited(r, 2)


async def test_forwarded_for_is_believed_from_trusted_proxies_only(settings: Settings):
    async with limited(
        settings, rate_limit_ip_per_minute=2, trusted_proxies=("10.0.0.0/8",)
    ) as app:
        proxy = app.client("10.0.0.2")
        first = {"X-Forwarded-For": "198.51.100.1"}
        spoofed = {"X-Forwarded-For": "1.2.3.4, 198.51.100.1"}  # client-written part ignored
        assert (await proxy.get(UNAUTHED, headers=first)).status_code == 401
        assert (await proxy.get(UNAUTHED, headers=spoofed)).status_code == 401
        assert_limited(await proxy.get(UNAUTHED, headers=first), 2)
        second = {"X-Forwarded-For": "198.51.100.2, 10.0.0.9"}  # through two of our proxies
        r = await proxy.get(UNAUTHED, headers=second)
        assert r.status_code == 401 and remaining(r) == 1

        # a peer that is not a trusted proxy cannot choose its address
        direct = app.client("203.0.113.20")
        for i in range(2):
            r = await direct.get(UNAUTHED, headers={"X-Forwarded-For": f"198.51.100.{50 + i}"})
            assert r.status_code == 401
        assert_limited(await direct.get(UNAUTHED, headers={"X-Forwarded-For": "198.51.100.60"}), 2)


# --- switched off ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["off", "auto"])
async def test_off_and_development_auto_leave_the_api_unlimited(settings: Settings, mode: str):
    async with limited(
        settings, rate_limits=mode, rate_limit_ip_per_minute=1, token_rate_limit_per_minute=1
    ) as app:
        c = app.client("203.0.113.30")
        for _ in range(3):
            r = await c.get(UNAUTHED)
            assert r.status_code == 401
            assert "ratelimit-limit" not in r.headers
        form = {"grant_type": "client_credentials", "client_id": "cli_x", "client_secret": "no"}
        statuses = [(await c.post("/oauth2/token", data=form)).status_code for _ in range(2)]
        # the token endpoint keeps its limit in development unless limits are off
        assert statuses == ([401, 401] if mode == "off" else [401, 429])
