"""Shared benchmark plumbing: a scratch database, a real `slotproof serve`, latency stats."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.core.migrate import migrate  # noqa: E402
from tests.support import admin_dsn, scratch_database  # noqa: E402


@asynccontextmanager
async def bench_database() -> AsyncIterator[str]:
    admin = await admin_dsn(ROOT / ".data" / "bench")
    async with scratch_database(admin) as dsn:
        await migrate(dsn)
        yield dsn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@asynccontextmanager
async def served(dsn: str, *, workers: int = 1, env: dict[str, str] | None = None):
    """`slotproof serve` in a subprocess; yields its base URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", str(workers),
         "--no-worker"],
        env={**os.environ, "DATABASE_URL": dsn, "SLOTPROOF_SECRET_KEY": "b" * 40, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                try:
                    if (await http.get(f"{base}/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("server did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index]


def summary(label: str, latencies_ms: list[float], seconds: float | None = None) -> str:
    text = (
        f"{label}: n={len(latencies_ms)} p50={statistics.median(latencies_ms):.2f} ms "
        f"p95={percentile(latencies_ms, 95):.2f} ms"
    )
    if seconds is not None:
        text += f" throughput={len(latencies_ms) / seconds:.0f} req/s"
    return text


async def load(
    request: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    *,
    total: int,
    concurrency: int,
) -> tuple[list[float], float, int]:
    """Run `total` requests with `concurrency` in flight; (latencies ms, seconds, errors)."""
    latencies: list[float] = []
    errors = 0
    remaining = total
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal remaining, errors
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter()
            response = await request(http)
            latencies.append((time.perf_counter() - t0) * 1000)
            if response.status_code >= 400:
                errors += 1

    async with httpx.AsyncClient(limits=limits, timeout=30) as http:
        started = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        return latencies, time.perf_counter() - started, errors
