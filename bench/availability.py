"""Availability benchmark: the availability call against the framework's own ceiling, measured
with `wrk` (a C load generator: the client must not be what is measured).

Fixture: 10 practitioners at 2 locations (one works at both), a 15-minute grid, weekdays
08:00-12:00 and 13:00-17:00, 30-minute visits, 600 appointments in the 30 days asked for.

1. In process, no I/O: the plan step for the 30 days at one location (engine + shaping to the
   response bytes) and the engine alone, after a warm-up: p50/p95 of wall time over all runs,
   and the p50 of wall and CPU time of each of 5 blocks (on a shared virtual machine the same
   code's p50 moves by up to half between blocks; the CPU time moves with it).
2. Over HTTP, one `slotproof serve` process (rate limits off), `wrk` with `--connections`
   connections on one thread for `--seconds` per run, `--rounds` interleaved rounds of:
   * `/healthz`: every middleware, no database: the ceiling;
   * cached: the same 30-day question every request (the stored answer; its freshness check
     travels in the one statement that also reads the caller's standing);
   * miss: a new range every request (shifted by one more minute, a wrk Lua script): a new
     answer, assembled from the location-days the cache holds (checked in that same statement)
     plus the days not held yet;
   * cache off: the same new-range requests against a second server started with
     `SLOTPROOF_AVAILABILITY_CACHE_MB=0`: every request loads and plans its whole month.
   Per kind the median over rounds of req/s and latency p50/p90/p99, and the ratios to
   /healthz of the same round. Each phase also counts the server's own access-log lines by
   how the cache answered (`cache`: answer / days / computed / off), proving which path it
   measured, and the server's CPU time per request (steadier than req/s on a shared machine).

Needs `wrk` (Debian: `apt-get install wrk`); run as root without it, it installs it, otherwise
it says so and stops. Prints `uptime` before and after: other work on the machine moves req/s.

Run: `make bench` or `.venv/bin/python -m bench.availability [--seconds 5] [--rounds 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx
import msgspec

from app.availability import engine
from app.availability.plan import SlotSearch, plan, scope_of
from app.availability.service import load_busy, load_inputs
from app.availability.shape import encode
from app.core.db import create_pool
from app.partners.scopes import ALL_SCOPES
from app.partners.store import create_client
from bench.common import (
    bench_database,
    cpu_seconds,
    outcomes,
    partner_token,
    percentile,
    served,
    served_pids,
)


def _next_monday_midnight_new_york() -> datetime:
    """The served app uses the real clock, so the window must lie in the future."""
    today = datetime.now(UTC).date() + timedelta(days=2)
    monday = today + timedelta(days=(7 - today.weekday()) % 7)
    return datetime.combine(monday, datetime.min.time(), ZoneInfo("America/New_York"))


START = _next_monday_midnight_new_york()
DAYS = 30
RULES = [
    {"weekday": d, "start": s, "end": e}
    for d in range(5)
    for s, e in (("08:00", "12:00"), ("13:00", "17:00"))
]
MISS_SCRIPT = """
local n = 0
local base = tonumber(os.getenv("BENCH_BASE"))
local span = tonumber(os.getenv("BENCH_SPAN"))
local path = os.getenv("BENCH_PATH")
local offset = tonumber(os.getenv("BENCH_OFFSET"))
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
request = function()
  n = n + 1
  local s = base + (offset + n) * 60000
  return wrk.format("GET", path .. "&startUnix=" .. s .. "&endUnix=" .. (s + span))
end
"""


def ensure_wrk() -> str | None:
    """The path of wrk, installing Debian's package when running as root."""
    found, apt = shutil.which("wrk"), shutil.which("apt-get")
    if found or os.geteuid() != 0 or apt is None:
        return found
    install = [apt, "install", "-y", "-q", "wrk"]
    if subprocess.run(install, capture_output=True).returncode != 0:
        subprocess.run([apt, "update", "-q"], capture_output=True)
        subprocess.run(install, capture_output=True)
    return shutil.which("wrk")


async def build(pool: asyncpg.Pool) -> dict:
    rng = random.Random(7)
    async with pool.acquire() as conn, conn.transaction():
        account = await conn.fetchval(
            "INSERT INTO accounts (name, time_zone) VALUES ('Bench', 'America/New_York') RETURNING id"
        )
        locations = [
            await conn.fetchval(
                "INSERT INTO locations (account_id, name, time_zone) VALUES ($1, $2, $3) RETURNING id",
                account, name, zone,
            )
            for name, zone in (("East", "America/New_York"), ("West", "America/Los_Angeles"))
        ]  # fmt: skip
        doctors = [
            await conn.fetchval(
                "INSERT INTO practitioners (account_id, first_name, last_name, display_name)"
                " VALUES ($1, 'Doc', $2, $3) RETURNING id",
                account, str(i), f"Doc {i}",
            )
            for i in range(10)
        ]  # fmt: skip
        kind = await conn.fetchval(
            "INSERT INTO appointment_types (account_id, name, duration_minutes)"
            " VALUES ($1, 'Visit', 30) RETURNING id",
            account,
        )
        setting = await conn.fetchval(
            "INSERT INTO self_scheduling_settings (account_id, name, location_ids,"
            " appointment_type_ids, practitioner_ids, publishable_key, forward_booking_limit)"
            " VALUES ($1, 'Bench', $2, $3, $4, 'pk_bench', 90) RETURNING id",
            account, locations, [kind], doctors,
        )  # fmt: skip
        placements = [(d, locations[0]) for d in doctors[:5]] + [
            (d, locations[1]) for d in doctors[5:]
        ]
        placements.append((doctors[0], locations[1]))  # one practitioner works at both
        for doctor, location in placements:
            await conn.execute(
                "INSERT INTO scheduler_configs (account_id, setting_id, practitioner_id,"
                " location_id, appointment_type_ids, slot_interval_minutes, buffer_after_minutes,"
                " rules) VALUES ($1, $2, $3, $4, $5, 15, 5, $6)",
                account, setting, doctor, location, [kind], RULES,
            )  # fmt: skip
        patient = await conn.fetchval(
            "INSERT INTO patients (account_id, first_name, last_name, date_of_birth)"
            " VALUES ($1, 'P', 'Q', '1970-01-01') RETURNING id",
            account,
        )
        booked = 0
        while booked < 600:
            doctor = rng.choice(doctors[:5])
            start = START + timedelta(
                days=rng.randrange(DAYS), hours=13 + rng.randrange(8), minutes=15 * rng.randrange(4)
            )
            try:
                async with conn.transaction():
                    await conn.execute(
                        "INSERT INTO appointments (account_id, location_id, practitioner_id,"
                        " patient_id, appointment_type_id, start_at, end_at, blocked_from,"
                        " blocked_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $8)",
                        account, locations[0], doctor, patient, kind, start,
                        start + timedelta(minutes=30), start + timedelta(minutes=35),
                    )  # fmt: skip
                booked += 1
            except asyncpg.ExclusionViolationError:
                continue
        client_id, secret = await create_client(conn, "bench", list(ALL_SCOPES), [account])
    return {
        "account": account, "setting": setting, "location": locations[0], "type": kind,
        "client_id": client_id, "secret": secret,
    }  # fmt: skip


async def in_process(pool: asyncpg.Pool, ids: dict, runs: int) -> None:
    now = datetime.now(UTC)
    end = START + timedelta(days=DAYS)
    query = SlotSearch(
        setting_id=ids["setting"], location_id=ids["location"], appointment_type_id=ids["type"],
        range_start=START, range_end=end,
    )  # fmt: skip
    async with pool.acquire() as conn:
        scope = scope_of(await load_inputs(conn, ids["account"], query), query)
        busy = await load_busy(conn, ids["account"], scope, START, end, now)
    body = encode(plan(scope, busy, now, START, end))
    print(
        f"fixture: {len(scope.configs)} configs at the location, {len(busy)} busy rows, "
        f"{body.count(b'startUnix')} times in {DAYS} days, a {len(body):,}-byte response"
    )

    def engine_alone() -> None:
        engine.compute_starts(
            scope.configs, duration_minutes=30, busy=busy, now=now, min_notice=timedelta(0),
            max_ahead=timedelta(days=90), range_start=START, range_end=end,
            appointment_type_id=ids["type"],
        )  # fmt: skip

    work = {
        "plan + shaping": lambda: encode(plan(scope, busy, now, START, end)),
        "engine alone": engine_alone,
    }
    # wall time, and this process's CPU time, in blocks: on a shared (virtual) machine the
    # same code's p50 moves by half from one block to the next, so every block is printed
    blocks = 5
    for label, run in work.items():
        for _ in range(20):  # warm up: per-process memos of zones, windows and encoded times
            run()
        wall_p50, cpu_p50, wall_all = [], [], []
        for _ in range(blocks):
            wall, cpu = [], []
            for _ in range(max(runs // blocks, 1)):
                w0, c0 = time.perf_counter(), time.process_time()
                run()
                cpu.append((time.process_time() - c0) * 1000)
                wall.append((time.perf_counter() - w0) * 1000)
            wall_p50.append(statistics.median(wall))
            cpu_p50.append(statistics.median(cpu))
            wall_all += wall
        print(
            f"in process, {label} ({DAYS} days, {len(busy)} busy, n={runs}): "
            f"p50={statistics.median(wall_all):.3f} ms p95={percentile(wall_all, 95):.3f} ms wall; "
            f"per block of {runs // blocks} p50 wall "
            f"{' '.join(f'{x:.3f}' for x in wall_p50)} ms, CPU "
            f"{' '.join(f'{x:.3f}' for x in cpu_p50)} ms"
        )


class Run(msgspec.Struct):
    rps: float
    p50: float
    p90: float
    p99: float
    non_2xx: int
    cpu_ms: float  # server CPU per request
    outcomes: dict[str, int]


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def wrk(
    binary: str, args: list[str], seconds: float, connections: int, env: dict[str, str]
) -> dict:
    out = subprocess.run(
        [binary, "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", *args],
        capture_output=True, text=True, env={**os.environ, **env}, check=True,
    ).stdout  # fmt: skip
    latency = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)$", out, re.M))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(latency["50"]), "p90": _ms(latency["90"]), "p99": _ms(latency["99"]),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
    }  # fmt: skip


def _pids_of(pids: list[int], base: str) -> list[int]:
    """The server processes among `pids` listening on `base`'s port."""
    port = f"--port {base.rsplit(':', 1)[1]} ".encode()
    found = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if port in f.read().replace(b"\0", b" ") + b" ":
                    found.append(pid)
        except OSError:
            continue
    return found


def uptime() -> str:
    """The machine's load average, as `uptime` prints it."""
    one, five, fifteen = os.getloadavg()
    return f"{datetime.now(UTC):%H:%M:%S} UTC, load average: {one:.2f}, {five:.2f}, {fifteen:.2f}"


async def main(seconds: float, rounds: int, connections: int) -> None:
    binary = ensure_wrk()
    if binary is None:
        print("bench.availability skipped: wrk is not installed and cannot be installed here "
              "(install Debian's package: apt-get install wrk).")  # fmt: skip
        return
    print(f"load before: {uptime()}")
    async with bench_database() as dsn:
        pool = await create_pool(dsn, min_size=1, max_size=2)
        try:
            ids = await build(pool)
            await in_process(pool, ids, runs=200)
        finally:
            await pool.close()
        with tempfile.TemporaryDirectory() as tmp:
            log, off_log = Path(tmp) / "server.log", Path(tmp) / "server-off.log"
            # one public URL for both: the token one server issues is valid on the other, as
            # behind one load balancer (by default each takes its own port as its issuer)
            quiet = {"SLOTPROOF_RATE_LIMITS": "off", "SLOTPROOF_PUBLIC_URL": "http://bench.test"}
            async with (
                served(dsn, env=quiet, log=log) as base,
                served(
                    dsn, env={**quiet, "SLOTPROOF_AVAILABILITY_CACHE_MB": "0"}, log=off_log
                ) as off_base,
            ):
                token, sample = await first_call(ids, base, off_base)
                print(f"response: {len(sample):,} bytes, "
                      f"{len(msgspec.json.decode(sample)['slotsByDate'])} days with times")  # fmt: skip
                measure(binary, ids, token, (base, off_base), served_pids(), (log, off_log),
                        seconds, rounds, connections)  # fmt: skip
    print(f"load after: {uptime()}")


def cached_url(ids: dict, base: str) -> tuple[str, str]:
    path = (
        f"/partner/v2/account/{ids['account']}/self-scheduling/availability"
        f"?selfSchedulingSettingId={ids['setting']}&locationId={ids['location']}"
        f"&appointmentTypeId={ids['type']}"
    )
    start_ms = int(START.timestamp() * 1000)
    return path, f"{base}{path}&startUnix={start_ms}&endUnix={start_ms + DAYS * 86_400_000}"


async def first_call(ids: dict, base: str, off_base: str) -> tuple[str, bytes]:
    """A token, and the 30-day answer (the same from both servers)."""
    token = await partner_token(base, ids["client_id"], ids["secret"])
    async with httpx.AsyncClient() as http:
        headers = {"Authorization": f"Bearer {token}"}
        _, url = cached_url(ids, base)
        sample = await http.get(url, headers=headers)
        assert sample.status_code == 200, sample.text
        off_sample = await http.get(cached_url(ids, off_base)[1], headers=headers)
        assert off_sample.content == sample.content, "the uncached server answers differently"
    return token, sample.content


def measure(binary, ids, token, bases, pids, logs, seconds, rounds, connections) -> None:
    (base, off_base), (log, off_log) = bases, logs
    path, url = cached_url(ids, base)
    auth = f"Bearer {token}"
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(MISS_SCRIPT)
    env = {"BENCH_BASE": str(int(START.timestamp() * 1000)), "BENCH_PATH": path,
           "BENCH_SPAN": str(DAYS * 86_400_000), "BENCH_AUTH": auth}  # fmt: skip
    main_pids, off_pids = _pids_of(pids, base), _pids_of(pids, off_base)
    kinds = {
        "healthz": ([f"{base}/healthz"], {}, main_pids, log),
        "cached": (["-H", f"Authorization: {auth}", url], {}, main_pids, log),
        "miss": (["-s", str(script), base], env, main_pids, log),
        "cache off": (["-s", str(script), off_base], env, off_pids, off_log),
    }
    offsets = {log: log.stat().st_size, off_log: off_log.stat().st_size}
    results: dict[str, list[Run]] = {k: [] for k in kinds}
    for r in range(rounds):
        for kind, (args, extra, kind_pids, kind_log) in kinds.items():
            # each round's misses start further on, so no range repeats across rounds
            run_env = {**extra, "BENCH_OFFSET": str(r * 10**6)} if extra else {}
            cpu0 = cpu_seconds(kind_pids)
            got = wrk(binary, args, seconds, connections, run_env)
            cpu = cpu_seconds(kind_pids) - cpu0
            time.sleep(0.5)  # let the server log the requests wrk left in flight
            counts, offsets[kind_log] = outcomes(kind_log, offsets[kind_log])
            requests = got["rps"] * seconds
            results[kind].append(
                Run(**got, cpu_ms=cpu * 1000 / max(requests, 1), outcomes=dict(counts))
            )
    script.unlink()
    print(f"\nwrk: 1 thread, {connections} connections, {seconds:g} s per run, {rounds} rounds "
          "interleaved; medians over rounds")  # fmt: skip
    print(f"{'':12}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}"
          f"{'non-2xx':>9}  cache outcomes (all rounds)")  # fmt: skip
    for kind, runs in results.items():
        total: Counter = Counter()
        for run in runs:
            total.update(run.outcomes)
        print(
            f"{kind:12}{statistics.median(r.rps for r in runs):9.0f}"
            f"{statistics.median(r.p50 for r in runs):9.2f}"
            f"{statistics.median(r.p90 for r in runs):9.2f}"
            f"{statistics.median(r.p99 for r in runs):9.2f}"
            f"{statistics.median(r.cpu_ms for r in runs):12.3f}"
            f"{sum(r.non_2xx for r in runs):9d}  {dict(total) or '-'}"
        )
    for kind in ("cached", "miss", "cache off"):
        ratios = [k.rps / h.rps for k, h in zip(results[kind], results["healthz"], strict=True)]
        cpu = statistics.median(h.cpu_ms for h in results["healthz"]) / statistics.median(
            k.cpu_ms for k in results[kind]
        )
        print(f"{kind} / healthz: req/s {statistics.median(ratios):.0%} (per round: "
              f"{', '.join(f'{x:.0%}' for x in ratios)}); by server CPU per request {cpu:.0%}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.rounds, args.connections))
