"""Shared benchmark plumbing: a scratch database, a real `slotproof serve`, latency stats."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import msgspec

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
async def served(
    dsn: str,
    *,
    workers: int = 1,
    env: dict[str, str] | None = None,
    log: Path | None = None,
):
    """`slotproof serve` in a subprocess; yields its base URL. `log`: where its stderr (the
    JSON log, access lines included) goes; by default nowhere."""
    port = free_port()
    log_file = open(log, "wb") if log is not None else subprocess.DEVNULL  # noqa: ASYNC230, SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--workers", str(workers),
         "--no-worker"],
        env={**os.environ, "DATABASE_URL": dsn, "SLOTPROOF_SECRET_KEY": "b" * 40, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=log_file,
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
        if log is not None:
            log_file.close()  # type: ignore[union-attr]


async def partner_token(base: str, client_id: str, secret: str) -> str:
    """An access token of a partner client from the served app."""
    async with httpx.AsyncClient() as http:
        response = await http.post(
            f"{base}/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": secret,
            },
        )
    return response.json()["access_token"]


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


async def double_bookings(conn) -> int:
    """Pairs of live appointments (any status the no-overlap constraint covers) of one
    practitioner whose blocked ranges overlap; must be 0."""
    return await conn.fetchval(
        "SELECT count(*) FROM appointments a JOIN appointments b ON a.id < b.id"
        " AND a.practitioner_id = b.practitioner_id"
        " AND tstzrange(a.blocked_from, a.blocked_until) && tstzrange(b.blocked_from, b.blocked_until)"
        " WHERE a.status NOT IN ('CANCELLED', 'RESCHEDULED', 'VOIDED')"
        " AND b.status NOT IN ('CANCELLED', 'RESCHEDULED', 'VOIDED')"
    )


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine from /proc/stat ((0, 0) where there is none);
    the difference of two readings gives the share of all cores that was busy in between."""
    try:
        with open("/proc/stat") as stat:
            fields = [float(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)  # idle + iowait
    total = sum(fields[:8])  # guest time is already counted in user
    return total - idle, total


def _child_pids(pid: int) -> list[int]:
    pids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as children:
                pids += [int(p) for p in children.read().split()]
    except OSError:
        pass
    return pids


def served_pids() -> list[int]:
    """The processes of the `slotproof serve` this benchmark started (`served`), its uvicorn
    worker processes included; [] where /proc is not available."""
    pending, found = _child_pids(os.getpid()), []
    while pending:
        pid = pending.pop()
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ")
        except OSError:
            continue
        if b"app.cli serve" in cmdline:
            stack = [pid]
            while stack:
                current = stack.pop()
                found.append(current)
                stack += _child_pids(current)
        else:
            pending += _child_pids(pid)
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the given live processes have used so far."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, ValueError, IndexError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def outcomes(log: Path, offset: int) -> tuple[Counter, int]:
    """How the cache answered each availability request logged after `offset` bytes."""
    with open(log, "rb") as f:
        f.seek(offset)
        data = f.read()
    counts: Counter = Counter()
    for line in data.splitlines():
        if b'"route"' in line and b"availability" in line:
            counts[msgspec.json.decode(line).get("cache", "none")] += 1
    return counts, offset + len(data)
