"""Rate limits counted in Redis: shared by two `slotproof serve` processes, reset by the key's
TTL, and failing open (requests still served) when Redis is not there.

Needs Redis at 127.0.0.1:6379 (else skipped); each run uses its own key prefix and deletes its
keys afterwards."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator

import httpx
import msgspec
import pytest

from app.config import Settings
from app.core.ratelimit import RedisBackend, Rule
from app.main import create_app
from tests.support import problem_code, running, scratch_database

REDIS_URL = os.environ.get("SLOTPROOF_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1
UNAUTHED = "/partner/v2/account/1/location"


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own, its keys deleted afterwards; skips without Redis."""
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({type(exc).__name__})")
    prefix = f"slotproof-test:{secrets.token_hex(6)}:"
    try:
        yield prefix
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_redis_counts_and_resets_with_the_key_ttl(redis_prefix: str):
    backend = RedisBackend(REDIS_URL, redis_prefix)
    try:
        ip, widget = Rule("ip:a", 2, 1.0), Rule("widget:k", 10, 1.0)
        first = await backend.hit([ip, widget])
        assert first is not None and first.allowed
        assert [u.count for u in first.usages] == [1, 1]
        assert 0.5 < first.usages[0].reset <= 1.0
        assert (await backend.hit([ip, widget])).allowed
        refused = await backend.hit([ip, widget])
        assert refused is not None and not refused.allowed
        assert [u.count for u in refused.usages] == [2, 2]  # nothing counted when refused
        assert refused.retry_after == 1
        await asyncio.sleep(refused.usages[0].reset + 0.05)  # the TTL ran out: a new window
        again = await backend.hit([ip, widget])
        assert again is not None and again.allowed
        assert [u.count for u in again.usages] == [1, 1]
    finally:
        await backend.aclose()


async def test_redis_unreachable_requests_are_still_served(settings: Settings, caplog):
    limited = msgspec.structs.replace(
        settings,
        rate_limits="on",
        redis_url=UNREACHABLE_REDIS,
        rate_limit_ip_per_minute=1,
        db_pool_min=1,
        db_pool_max=2,
    )
    app = create_app(limited)
    with caplog.at_level(logging.WARNING, logger="slotproof.ratelimit"):
        async with running(app):
            transport = httpx.ASGITransport(app=app, client=("203.0.113.40", 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                for _ in range(3):
                    r = await c.get(UNAUTHED)
                    assert r.status_code == 401, r.text  # served, unlimited: no 429, no 500
                    assert "ratelimit-limit" not in r.headers
                assert (await c.get("/readyz")).status_code == 200
    assert any("failing open" in rec.getMessage() for rec in caplog.records)


# --- two processes ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _serve(port: int, env: dict[str, str], log) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "app.cli", "serve", "--port", str(port), "--no-worker"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


async def _wait_ready(http: httpx.AsyncClient, base: str, proc) -> None:
    for _ in range(300):
        if proc.returncode is not None:
            raise AssertionError(f"server on {base} exited with {proc.returncode}")
        try:
            if (await http.get(f"{base}/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"server on {base} did not start")


async def test_two_processes_share_one_count(admin_database_url: str, redis_prefix: str):
    limit = 7
    async with scratch_database(admin_database_url) as dsn:
        env = {
            **os.environ,
            "DATABASE_URL": dsn,
            "REDIS_URL": REDIS_URL,
            "SLOTPROOF_RATE_LIMITS": "on",
            "SLOTPROOF_RATE_LIMIT_IP": str(limit),
            "SLOTPROOF_RATE_LIMIT_PREFIX": redis_prefix,
            "SLOTPROOF_SECRET_KEY": "two-instances-secret-0123456789abcdef",
        }
        env.pop("SLOTPROOF_TRUSTED_PROXIES", None)
        ports = [_free_port(), _free_port()]
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        with tempfile.TemporaryFile() as log_a, tempfile.TemporaryFile() as log_b:
            procs = [await _serve(ports[0], env, log_a), await _serve(ports[1], env, log_b)]
            try:
                async with httpx.AsyncClient(timeout=10) as http:
                    for base, proc in zip(bases, procs, strict=True):
                        await _wait_ready(http, base, proc)  # probes are not counted
                    answers = [
                        await http.get(f"{bases[i % 2]}{UNAUTHED}") for i in range(limit + 5)
                    ]
            finally:
                for proc in procs:
                    if proc.returncode is None:
                        proc.terminate()
                for proc in procs:
                    try:
                        await asyncio.wait_for(proc.wait(), 20)
                    except TimeoutError:
                        proc.kill()
                        await proc.wait()
                log_a.seek(0)
                log_b.seek(0)
                logs = log_a.read().decode(errors="replace") + log_b.read().decode(errors="replace")

    statuses = [r.status_code for r in answers]
    assert statuses == [401] * limit + [429] * 5, logs
    # both instances counted into the same window
    assert [int(r.headers["ratelimit-remaining"]) for r in answers[:limit]] == list(
        range(limit - 1, -1, -1)
    )
    for r in answers[limit:]:
        assert problem_code(r) == "rate_limited"
        retry = int(r.headers["retry-after"])
        assert 1 <= retry <= 60 and r.json()["retryAfterSeconds"] == retry
        assert r.headers["ratelimit-limit"] == str(limit)
    # the refusals came from both processes
    assert {a.url.port for a in answers[limit:]} == set(ports)
    assert "failing open" not in logs


async def test_two_ips_draining_a_widget_key_do_not_lock_out_a_third_visitor(
    settings: Settings, redis_prefix: str, partner
):
    """Finding (MEDIUM): the per-`X-Widget-Key` bucket was shared by every visitor of a public
    key, so two IPs at default limits drained it and real patients got 429. At default limits,
    each IP now runs out on its own (key, IP) bucket long before the key-wide budget of the
    costly calls does."""
    from tests.builders import build_practice

    practice = await build_practice(partner, method=None)
    key = {"X-Widget-Key": practice.publishable_key}
    app = create_app(
        msgspec.structs.replace(
            settings,
            rate_limits="on",
            redis_url=REDIS_URL,
            rate_limit_redis_prefix=redis_prefix,
            db_pool_min=1,
            db_pool_max=4,
        )
    )

    def visitor(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://testserver")

    async with running(app):
        for ip in ("198.51.100.31", "198.51.100.32"):
            async with visitor(ip) as drainer:
                answers = []
                while len(answers) < 1000 and (not answers or answers[-1].status_code != 429):
                    answers.append(await drainer.post("/widget/v1/attempt", headers=key, json={}))
                assert [a.status_code for a in answers[:-1]] == [201] * (len(answers) - 1)
                assert answers[-1].status_code == 429 and len(answers) > 100
        async with visitor("203.0.113.33") as patient:
            assert (await patient.get("/widget/v1/config", headers=key)).status_code == 200
            started = await patient.post("/widget/v1/attempt", headers=key, json={})
            assert started.status_code == 201, started.text
