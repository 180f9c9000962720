"""Funnel query benchmark.

Generates `--attempts` self-scheduling attempts (default 1,000,000) with their steps in a scratch
database using generate_series, spread evenly over the `--days` days (default 365) before now,
all in one account (the worst case: one very large practice), then times the funnel query of
the analytics API (app.analytics.store.funnel plus shaping, i.e. everything but HTTP) for the
last `--window` days (30) grouped by day in the account's zone, twice, and prints p50/p95 of
each with the machine's load average (the numbers mean little on a busy machine):

* unclustered: `attempt_funnel` as the bulk load left it (its one big UPDATE scattered the rows
  over the table);
* clustered: after `CLUSTER attempt_funnel USING attempt_funnel_account_created_idx`, rows in
  creation order, as a live system writes them (inserted in order, updated in place: HOT).

Histories (deterministic per attempt id): 25 % book; the rest stop after STARTED,
AVAILABILITY_VIEWED, SLOT_SELECTED, CODE_SENT, VERIFIED or PATIENT_SET and are ABANDONED 30
minutes later: about 4.9 steps per attempt. The rows go through the application's triggers
(attempt_funnel is filled by them), then the tables are vacuumed and analyzed as autovacuum
would.

Run: `.venv/bin/python -m bench.funnel [--attempts N] [--days D] [--window W] [--runs R]
[--plan]` (about 4 minutes for a million attempts, most of it generating them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg

from app.analytics import funnel as shaping
from app.analytics import store
from app.core.db import create_pool
from bench.common import bench_database, percentile

# depth d = number of funnel steps reached (1..7), from u = hash(id) % 100
_DEPTH = """CASE WHEN u < 25 THEN 7 WHEN u < 35 THEN 6 WHEN u < 45 THEN 5 WHEN u < 55 THEN 4
                WHEN u < 70 THEN 3 WHEN u < 85 THEN 2 ELSE 1 END"""
_STATUS = """CASE d WHEN 7 THEN 'BOOKED' ELSE 'ABANDONED' END"""

GENERATE_ATTEMPTS = f"""
INSERT INTO self_scheduling_attempts (id, account_id, setting_id, location_id, status, source,
                                      created_at, updated_at, last_activity_at)
OVERRIDING SYSTEM VALUE
SELECT g, $1, $2, CASE WHEN d >= 3 THEN $3::bigint END, {_STATUS},
       CASE WHEN g % 3 = 0 THEN 'PARTNER' ELSE 'WIDGET' END, created, created, created
FROM generate_series(1, $4::bigint) AS g,
     LATERAL (SELECT abs(hashint8(g)) % 100 AS u) h,
     LATERAL (SELECT {_DEPTH} AS d) dd,
     LATERAL (SELECT $5::timestamptz + (g - 1) * $6::interval
                     + (abs(hashint8(g * 31)) % 600) * interval '1 second' AS created) c
"""  # noqa: S608 - fixed SQL

# offsets (seconds) of each step after STARTED, jittered per attempt
GENERATE_STEPS = f"""
INSERT INTO attempt_steps (attempt_id, account_id, step, at)
SELECT a.id, a.account_id, st.step, a.created_at + st.offset_s * interval '1 second'
FROM self_scheduling_attempts a,
     LATERAL (SELECT abs(hashint8(a.id)) % 100 AS u, abs(hashint8(a.id * 7)) % 120 AS j) h,
     LATERAL (SELECT {_DEPTH} AS d) dd,
     LATERAL (VALUES
        (1, 'STARTED', 0),
        (2, 'AVAILABILITY_VIEWED', 15 + j / 4),
        (3, 'SLOT_SELECTED', 60 + j),
        (4, 'CODE_SENT', 90 + j),
        (5, 'VERIFIED', 150 + 2 * j),
        (6, 'PATIENT_SET', 240 + 2 * j),
        (7, 'BOOKED', 300 + 3 * j),
        (8, 'ABANDONED', 1800 + 3 * j)
     ) AS st(n, step, offset_s)
WHERE a.account_id = $1 AND ((st.n <= dd.d) OR (st.n = 8 AND dd.d < 7))
"""  # noqa: S608 - fixed SQL


async def build(conn: asyncpg.Connection, attempts: int, days: int, now: datetime) -> int:
    account = await conn.fetchval(
        "INSERT INTO accounts (name, time_zone) VALUES ('Bench funnel', 'America/New_York')"
        " RETURNING id"
    )
    location = await conn.fetchval(
        "INSERT INTO locations (account_id, name, time_zone) VALUES ($1, 'L', 'America/New_York')"
        " RETURNING id",
        account,
    )
    setting = await conn.fetchval(
        "INSERT INTO self_scheduling_settings (account_id, name, verification_method,"
        " location_ids, publishable_key) VALUES ($1, 'Online', 'EMAIL', $2, $3) RETURNING id",
        account,
        [location],
        f"pk_bench_funnel_{account}",
    )
    start = now - timedelta(days=days)
    step = timedelta(seconds=days * 86_400 / attempts)
    await conn.execute(GENERATE_ATTEMPTS, account, setting, location, attempts, start, step)
    await conn.execute(
        "SELECT setval(pg_get_serial_sequence('self_scheduling_attempts', 'id'), $1)", attempts
    )
    await conn.execute(GENERATE_STEPS, account)
    return account


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--window", type=int, default=30)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--plan", action="store_true", help="print EXPLAIN ANALYZE of one run")
    args = parser.parse_args()

    now = datetime.now(UTC).replace(microsecond=0)
    async with bench_database() as dsn:
        conn = await asyncpg.connect(dsn)
        try:
            t0 = time.perf_counter()
            account = await build(conn, args.attempts, args.days, now)
            steps = await conn.fetchval("SELECT count(*) FROM attempt_steps")
            loaded = time.perf_counter() - t0
            await conn.execute("VACUUM ANALYZE self_scheduling_attempts")
            await conn.execute("VACUUM ANALYZE attempt_steps")
            await conn.execute("VACUUM ANALYZE attempt_funnel")
        finally:
            await conn.close()
        print(
            f"generated {args.attempts:,} attempts and {steps:,} steps over {args.days} days"
            f" in {loaded:.1f} s (+ VACUUM ANALYZE)"
        )

        unclustered, counted, groups, _ = await measure(dsn, account, now, args)
        async with connect(dsn) as conn:
            # A live system writes attempt_funnel rows in creation order and updates each in
            # place a few times (fillfactor 80: HOT updates on the same page); this bulk load's
            # single UPDATE of a million rows scattered them instead: put them back in order.
            await conn.execute("CLUSTER attempt_funnel USING attempt_funnel_account_created_idx")
            await conn.execute("VACUUM ANALYZE attempt_funnel")
        clustered, counted, groups, plan = await measure(dsn, account, now, args)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        for label, timings in (("unclustered", unclustered), ("clustered", clustered)):
            print(
                f"funnel, last {args.window} days grouped by day ({counted:,} attempts,"
                f" {groups} groups), attempt_funnel {label}: n={len(timings)}"
                f" p50={statistics.median(timings):.1f} ms p95={percentile(timings, 95):.1f} ms"
            )
        print(f"(load average {load}, {os.cpu_count()} CPUs)")
        if args.plan:
            print("EXPLAIN ANALYZE, clustered:")
            print("\n".join(r[0] for r in plan))


@asynccontextmanager
async def connect(dsn: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(dsn)
    try:
        yield conn
    finally:
        await conn.close()


async def measure(dsn: str, account: int, now: datetime, args: argparse.Namespace):
    """(timings ms, attempts counted, groups, EXPLAIN ANALYZE lines) of the funnel query."""
    pool = await create_pool(dsn, min_size=1, max_size=2)
    try:
        zone = ZoneInfo(await store.account_zone(pool, account))
        end = now
        start = end - timedelta(days=args.window)
        days = shaping.local_days(start, end, zone)
        midnights = shaping.day_starts(days, zone)

        async def once() -> tuple[float, int]:
            t = time.perf_counter()
            aggregates = await store.funnel(
                pool, account, start, end, group_by="day", days=days, midnights=midnights
            )
            groups = shaping.shape(aggregates, "day", days)
            return (time.perf_counter() - t) * 1000, sum(g.attempts for g in groups)

        for _ in range(3):  # warm-up
            await once()
        timings = []
        counted = 0
        for _ in range(args.runs):
            ms, counted = await once()
            timings.append(ms)
        async with pool.acquire() as c, c.transaction():
            await c.execute(f"SET LOCAL work_mem = '{store.FUNNEL_WORK_MEM}'")
            plan = await c.fetch(
                "EXPLAIN (ANALYZE, BUFFERS) " + store._FUNNEL_SQL["day"],
                account,
                start,
                end,
                None,
                midnights,
            )
    finally:
        await pool.close()
    return timings, counted, len(days), plan


if __name__ == "__main__":
    asyncio.run(main())
