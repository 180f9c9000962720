"""Waitlist benchmark: a practice with 10,000 active waitlist entries, `slotproof worker` (the
matcher, woken by LISTEN/NOTIFY) and `slotproof serve --no-worker` as separate processes.

1. Cancel latency: a cancel commits (an UPDATE of one appointment, as every cancel path ends);
   the time until its offers are rows in the outbox (`notifications`, purpose
   `waitlist_offer`), seen by polling every 2 ms -> p50/p99 over `--cancels` cancels.
2. Claims under contention: `--slots` slots are freed at once with offersPerSlot 20, then every
   one of the 20 x slots offer links is claimed at once over HTTP (`--concurrency` in flight)
   -> claims/s, winners (must equal the slots), 409 `offer_taken`, 5xx (must be 0), and
   double bookings in the database (must be 0).

Prints the load average before and after (the machine may be shared).
Run: `.venv/bin/python -m bench.waitlist [--entries 10000] [--cancels 30] [--slots 10]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from app.core.db import create_pool
from bench.common import ROOT, bench_database, double_bookings, percentile, served

RULES = [{"weekday": d, "start": "08:00", "end": "18:00"} for d in range(7)]
SECRET = "b" * 40  # what bench.common.served gives the server


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


async def build(conn: asyncpg.Connection, entries: int, start: datetime) -> dict:
    account = await conn.fetchval(
        "INSERT INTO accounts (name) VALUES ('Bench waitlist') RETURNING id"
    )
    location = await conn.fetchval(
        "INSERT INTO locations (account_id, name, time_zone) VALUES ($1, 'L', 'UTC') RETURNING id",
        account,
    )
    doctor = await conn.fetchval(
        "INSERT INTO practitioners (account_id, first_name, last_name, display_name)"
        " VALUES ($1, 'D', 'D', 'D') RETURNING id",
        account,
    )
    kind = await conn.fetchval(
        "INSERT INTO appointment_types (account_id, name, duration_minutes)"
        " VALUES ($1, 'Visit', 30) RETURNING id",
        account,
    )
    setting = await conn.fetchval(
        "INSERT INTO self_scheduling_settings (account_id, name, location_ids,"
        " appointment_type_ids, practitioner_ids, publishable_key, forward_booking_limit,"
        " waitlist) VALUES ($1, 'B', $2, $3, $4, $5, 60,"
        " '{\"enabled\": true, \"offerMinutes\": 30, \"offersPerSlot\": 3}') RETURNING id",
        account, [location], [kind], [doctor], f"pk_bench_wl_{account}",
    )  # fmt: skip
    config = await conn.fetchval(
        "INSERT INTO scheduler_configs (account_id, setting_id, practitioner_id, location_id,"
        " appointment_type_ids, slot_interval_minutes, rules) VALUES ($1, $2, $3, $4, $5, 30, $6)"
        " RETURNING id",
        account, setting, doctor, location, [kind], RULES,
    )  # fmt: skip
    # the new schedule's own opening would offer its open slots to the entries below; this
    # bench measures cancels, so that opening is settled before they exist
    await conn.execute(
        "UPDATE waitlist_openings SET processed_at = now() WHERE account_id = $1", account
    )
    patients = await conn.fetch(
        "INSERT INTO patients (account_id, first_name, last_name, date_of_birth, email)"
        " SELECT $1, 'P', 'W' || i, '1980-01-01', 'p' || i || '@bench.example'"
        " FROM generate_series(1, $2) i RETURNING id",
        account,
        entries,
    )
    rng = random.Random(7)
    windows = []
    for _ in range(entries):
        first = start + timedelta(days=rng.randrange(0, 28))
        windows.append((first, first + timedelta(days=rng.randrange(1, 15))))
    await conn.execute(
        """
        INSERT INTO waitlist_entries (account_id, setting_id, patient_id, kind,
            appointment_type_id, location_id, window_start, window_end, source, created_at)
        SELECT $1, $2, p, 'WINDOW', $3, $4, ws, we, 'PARTNER', now() - interval '1 hour'
          FROM unnest($5::bigint[], $6::timestamptz[], $7::timestamptz[]) AS t(p, ws, we)
        """,
        account,
        setting,
        kind,
        location,
        [p["id"] for p in patients],
        [w[0] for w in windows],
        [w[1] for w in windows],
    )
    return {
        "account": account,
        "location": location,
        "doctor": doctor,
        "kind": kind,
        "setting": setting,
        "config": config,
        "patient": patients[0]["id"],
    }


async def book(conn: asyncpg.Connection, p: dict, at: datetime) -> int:
    return await conn.fetchval(
        "INSERT INTO appointments (account_id, location_id, practitioner_id, patient_id,"
        " appointment_type_id, scheduler_config_id, start_at, end_at, blocked_from,"
        " blocked_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7, $8) RETURNING id",
        p["account"], p["location"], p["doctor"], p["patient"], p["kind"], p["config"],
        at, at + timedelta(minutes=30),
    )  # fmt: skip


async def offers_in_outbox(conn: asyncpg.Connection, account: int) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM notifications WHERE account_id = $1 AND purpose = 'waitlist_offer'",
        account,
    )


async def wait_for_openings(conn: asyncpg.Connection) -> None:
    unprocessed = "SELECT count(*) FROM waitlist_openings WHERE processed_at IS NULL"
    while await conn.fetchval(unprocessed):  # noqa: ASYNC110 - polling another process's work
        await asyncio.sleep(0.05)


async def cancel_latency(conn: asyncpg.Connection, p: dict, slots: list[datetime]) -> list[float]:
    latencies = []
    for at in slots:
        appointment = await book(conn, p, at)
        await wait_for_openings(conn)
        before = await offers_in_outbox(conn, p["account"])
        await conn.execute(
            "UPDATE appointments SET status = 'CANCELLED' WHERE id = $1", appointment
        )
        committed = time.perf_counter()
        while await offers_in_outbox(conn, p["account"]) == before:
            await asyncio.sleep(0.002)
            if time.perf_counter() - committed > 30:
                raise RuntimeError("no offer within 30 s")
        latencies.append((time.perf_counter() - committed) * 1000)
    return latencies


async def claims(
    base: str, conn: asyncpg.Connection, p: dict, slots: list[datetime], concurrency: int
):
    await conn.execute(
        "UPDATE self_scheduling_settings SET waitlist = waitlist || '{\"offersPerSlot\": 20}'"
        " WHERE id = $1",
        p["setting"],
    )
    booked = [await book(conn, p, at) for at in slots]
    await wait_for_openings(conn)
    first = await conn.fetchval("SELECT coalesce(max(id), 0) FROM notifications")
    await conn.execute(
        "UPDATE appointments SET status = 'CANCELLED' WHERE id = ANY($1::bigint[])", booked
    )
    await asyncio.sleep(0.1)
    await wait_for_openings(conn)
    tokens = [
        r["t"]
        for r in await conn.fetch(
            "SELECT split_part(params->>'offer_url', '#offer=', 2) AS t FROM notifications"
            " WHERE account_id = $1 AND purpose = 'waitlist_offer' AND id > $2",
            p["account"],
            first,
        )
    ]
    random.Random(3).shuffle(tokens)
    statuses: list[int] = []
    queue = list(tokens)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:

        async def worker() -> None:
            while queue:
                token = queue.pop()
                statuses.append((await http.post(f"/widget/v1/offer/{token}/claim")).status_code)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return tokens, statuses, seconds


async def main(args: argparse.Namespace) -> None:
    print(f"load average before: {loadavg()}")
    start = (datetime.now(UTC) + timedelta(days=1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    async with bench_database() as dsn:
        pool = await create_pool(dsn, min_size=1, max_size=2)
        conn = await pool.acquire()
        async with conn.transaction():
            p = await build(conn, args.entries, start)
        env = {**os.environ, "DATABASE_URL": dsn, "SLOTPROOF_SECRET_KEY": SECRET}
        worker = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT,
        )  # fmt: skip
        try:
            rng = random.Random(11)
            hours = [start + timedelta(days=d, hours=h) for d in range(1, 28) for h in range(8, 17)]
            picked = rng.sample(hours, args.cancels + args.slots + 1)
            await cancel_latency(conn, p, [picked.pop()])  # warm-up: the worker is listening
            latencies = await cancel_latency(conn, p, picked[: args.cancels])
            print(
                f"cancel commit -> offers in outbox ({args.entries} active entries, "
                f"offersPerSlot 3): n={len(latencies)} p50={percentile(latencies, 50):.1f} ms "
                f"p99={percentile(latencies, 99):.1f} ms max={max(latencies):.1f} ms"
            )
            async with served(dsn, env={"SLOTPROOF_RATE_LIMITS": "off"}) as base:
                tokens, statuses, seconds = await claims(
                    base, conn, p, picked[args.cancels :], args.concurrency
                )
            wins = statuses.count(201)
            print(
                f"claims: {len(tokens)} links on {args.slots} slots, concurrency "
                f"{args.concurrency}: {len(statuses) / seconds:.0f} claims/s over {seconds:.2f} s; "
                f"201={wins} 409={statuses.count(409)} 5xx={sum(s >= 500 for s in statuses)} "
                f"other={sum(s not in (201, 409) and s < 500 for s in statuses)}; "
                f"double bookings={await double_bookings(conn)}"
            )
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            await pool.release(conn)
            await pool.close()
    print(f"load average after: {loadavg()}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--cancels", type=int, default=30)
    parser.add_argument("--slots", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=40)
    asyncio.run(main(parser.parse_args()))
