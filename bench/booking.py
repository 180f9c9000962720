"""Booking benchmark against `slotproof serve`.

1. Throughput: N concurrent clients each book a distinct open slot (POST .../appointment on a
   prepared attempt whose patient is set) -> bookings/s, p50/p95.
2. Contention: many clients, few slots -> conflicts/s, and the count of double bookings (0).
3. Ceiling: the raw asyncpg rate of a comparable insert transaction (lock the attempt, take the
   practitioner lock, insert the appointment, update the attempt, insert the step), and the
   ratio of (1) to it.

Run: `make bench` or `.venv/bin/python -m bench.booking [--bookings N] [--concurrency C]`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx

from app.core.db import create_pool
from app.partners.scopes import ALL_SCOPES
from app.partners.store import create_client
from bench.common import bench_database, percentile, served

RULES = [{"weekday": d, "start": "08:00", "end": "18:00"} for d in range(7)]


async def build(pool: asyncpg.Pool, practitioners: int) -> dict:
    async with pool.acquire() as conn, conn.transaction():
        account = await conn.fetchval(
            "INSERT INTO accounts (name) VALUES ('Bench booking') RETURNING id"
        )
        location = await conn.fetchval(
            "INSERT INTO locations (account_id, name, time_zone) VALUES ($1, 'L', 'UTC') RETURNING id",
            account,
        )
        doctors = [
            await conn.fetchval(
                "INSERT INTO practitioners (account_id, first_name, last_name, display_name)"
                " VALUES ($1, 'D', $2, $2) RETURNING id",
                account, f"D{i}",
            )
            for i in range(practitioners)
        ]  # fmt: skip
        kind = await conn.fetchval(
            "INSERT INTO appointment_types (account_id, name, duration_minutes)"
            " VALUES ($1, 'Visit', 30) RETURNING id",
            account,
        )
        setting = await conn.fetchval(
            "INSERT INTO self_scheduling_settings (account_id, name, location_ids,"
            " appointment_type_ids, practitioner_ids, publishable_key, forward_booking_limit)"
            " VALUES ($1, 'B', $2, $3, $4, $5, 60) RETURNING id",
            account, [location], [kind], doctors, f"pk_bench_{account}",
        )  # fmt: skip
        configs = {}
        for doctor in doctors:
            configs[doctor] = await conn.fetchval(
                "INSERT INTO scheduler_configs (account_id, setting_id, practitioner_id,"
                " location_id, appointment_type_ids, slot_interval_minutes, rules)"
                " VALUES ($1, $2, $3, $4, $5, 30, $6) RETURNING id",
                account, setting, doctor, location, [kind], RULES,
            )  # fmt: skip
        client_id, secret = await create_client(conn, "bench", list(ALL_SCOPES), [account])
    return {
        "account": account, "location": location, "kind": kind, "setting": setting,
        "configs": configs, "client_id": client_id, "secret": secret,
    }  # fmt: skip


async def prepare_attempts(pool: asyncpg.Pool, ids: dict, count: int) -> list[int]:
    """Attempts at PATIENT_SET, made directly in SQL (the booking call is what is measured)."""
    async with pool.acquire() as conn, conn.transaction():
        patient = await conn.fetchval(
            "INSERT INTO patients (account_id, first_name, last_name, date_of_birth, email)"
            " VALUES ($1, 'B', 'P', '1980-01-01', 'b@example.com') RETURNING id",
            ids["account"],
        )
        rows = await conn.fetch(
            "INSERT INTO self_scheduling_attempts (account_id, setting_id, patient_id, status)"
            " SELECT $1, $2, $3, 'PATIENT_SET' FROM generate_series(1, $4) RETURNING id",
            ids["account"], ids["setting"], patient, count,
        )  # fmt: skip
    return [r["id"] for r in rows]


def slots(ids: dict, start: datetime, count: int) -> list[dict]:
    """`count` distinct open slots: every practitioner, every 30 minutes from 08:00 UTC."""
    out = []
    day = 0
    while len(out) < count:
        for half_hour in range(20):
            for doctor, config in ids["configs"].items():
                at = start + timedelta(days=day, minutes=30 * half_hour)
                out.append({
                    "appointmentTypeId": ids["kind"], "locationId": ids["location"],
                    "practitionerId": doctor, "schedulerConfigId": config,
                    "startDateTime": at.isoformat(),
                })  # fmt: skip
        day += 1
    return out[:count]


async def run_bookings(base, ids, token, jobs, concurrency):
    queue = list(jobs)
    latencies, statuses = [], []
    headers = {"Authorization": f"Bearer {token}"}
    prefix = f"{base}/partner/v2/account/{ids['account']}/self-scheduling/attempt"

    async def worker(http):
        while queue:
            attempt, body = queue.pop()
            t0 = time.perf_counter()
            r = await http.post(f"{prefix}/{attempt}/appointment", json=body, headers=headers)
            latencies.append((time.perf_counter() - t0) * 1000)
            statuses.append(r.status_code)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as http:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        return latencies, statuses, time.perf_counter() - t0


async def raw_ceiling(
    pool: asyncpg.Pool, ids: dict, attempts: list[int], start: datetime, concurrency: int
):
    doctor = next(iter(ids["configs"]))
    queue = list(enumerate(attempts))

    async def worker():
        while queue:
            i, attempt = queue.pop()
            at = start + timedelta(hours=i)  # distinct, far apart
            async with pool.acquire() as conn, conn.transaction():
                await conn.fetchrow(
                    "SELECT * FROM self_scheduling_attempts WHERE id = $1 FOR UPDATE", attempt
                )
                await conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtextextended('p:' || $1::bigint::text, 0))",
                    doctor,
                )
                appointment = await conn.fetchval(
                    "INSERT INTO appointments (account_id, location_id, practitioner_id,"
                    " patient_id, appointment_type_id, start_at, end_at, blocked_from,"
                    " blocked_until) SELECT account_id, $2, $3, patient_id, $4, $5, $6, $5, $6"
                    " FROM self_scheduling_attempts WHERE id = $1 RETURNING id",
                    attempt, ids["location"], doctor, ids["kind"], at, at + timedelta(minutes=30),
                )  # fmt: skip
                await conn.execute(
                    "UPDATE self_scheduling_attempts SET status = 'BOOKED', appointment_id = $2"
                    " WHERE id = $1",
                    attempt, appointment,
                )  # fmt: skip
                await conn.execute(
                    "INSERT INTO attempt_steps (attempt_id, account_id, step) VALUES ($1, $2, 'BOOKED')",
                    attempt, ids["account"],
                )  # fmt: skip

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(attempts) / (time.perf_counter() - t0)


async def main(bookings: int, concurrency: int, contention_clients: int) -> None:
    async with bench_database() as dsn:
        pool = await create_pool(dsn, min_size=2, max_size=concurrency + 2)
        ids = await build(pool, practitioners=10)
        today = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
        start = today + timedelta(days=2)
        distinct = await prepare_attempts(pool, ids, bookings)
        contenders = await prepare_attempts(pool, ids, contention_clients)
        for_ceiling = await prepare_attempts(pool, ids, bookings)
        async with served(dsn) as base:
            async with httpx.AsyncClient() as http:
                token = (
                    await http.post(f"{base}/oauth2/token", data={
                        "grant_type": "client_credentials", "client_id": ids["client_id"],
                        "client_secret": ids["secret"],
                    })
                ).json()["access_token"]  # fmt: skip
            jobs = list(zip(distinct, slots(ids, start, bookings), strict=True))
            lat, statuses, secs = await run_bookings(base, ids, token, jobs, concurrency)
            ok = statuses.count(201)
            print(
                f"distinct slots: {ok}/{len(jobs)} booked (other statuses: "
                f"{sorted(set(statuses) - {201})}), {ok / secs:.0f} bookings/s, "
                f"p50={percentile(lat, 50):.1f} ms p95={percentile(lat, 95):.1f} ms (c={concurrency})"
            )
            few = slots(ids, start + timedelta(days=40), 5)
            jobs = [(a, few[i % len(few)]) for i, a in enumerate(contenders)]
            lat2, statuses2, secs2 = await run_bookings(base, ids, token, jobs, concurrency)
            conflicts = statuses2.count(409)
            print(
                f"contention: {len(jobs)} clients on {len(few)} slots -> {statuses2.count(201)} "
                f"booked, {conflicts} conflicts ({conflicts / secs2:.0f} conflicts/s), "
                f"5xx={sum(s >= 500 for s in statuses2)}, p50={percentile(lat2, 50):.1f} ms"
            )
        doubles = await pool.fetchval(
            "SELECT count(*) FROM appointments a JOIN appointments b ON a.id < b.id"
            " AND a.practitioner_id = b.practitioner_id"
            " AND tstzrange(a.blocked_from, a.blocked_until) && tstzrange(b.blocked_from, b.blocked_until)"
            " WHERE a.status = 'SCHEDULED' AND b.status = 'SCHEDULED'"
        )
        print(f"double bookings in the database: {doubles}")
        ceiling = await raw_ceiling(
            pool, ids, for_ceiling, start + timedelta(days=400), concurrency
        )
        print(f"raw asyncpg ceiling (comparable transaction, c={concurrency}): {ceiling:.0f} tx/s")
        print(f"booking endpoint / ceiling = {(ok / secs) / ceiling:.0%}")
        await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--contention-clients", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.bookings, args.concurrency, args.contention_clients))
