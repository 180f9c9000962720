"""Booking benchmark against `slotproof serve`.

1. Throughput: N concurrent clients each book a distinct open slot (POST .../appointment on a
   prepared attempt whose patient is set) -> bookings/s, p50/p95.
2. Contention: many clients, few slots -> conflicts/s, and the count of double bookings (0).
3. Ceiling: the same bookings without HTTP: the booking's own service function
   (`app.attempts.service.book`, so exactly the statements a booking runs, in its one
   transaction: attempt lock, setting and configs, practitioner lock, busy re-check, insert,
   hold release, step, outbox and event rows) plus the audit row the HTTP layer writes, called
   on a plain asyncpg pool with the same concurrency; and the ratio of (1) to it.

Double bookings are counted over every live status (`bench.common.double_bookings`).

Run: `make bench` or `.venv/bin/python -m bench.booking [--bookings N] [--concurrency C]`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import msgspec

from app.appointments.schemas import SlotRequest
from app.attempts import service as attempts_service
from app.audit import store as audit_store
from app.config import load_settings
from app.core.db import create_pool
from app.partners.scopes import ALL_SCOPES
from app.partners.store import create_client
from bench.common import bench_database, double_bookings, partner_token, percentile, served

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


async def raw_ceiling(pool: asyncpg.Pool, ids: dict, jobs: list, concurrency: int) -> float:
    """Bookings/s of the booking service itself on a plain pool (no HTTP, no framework)."""
    settings = load_settings(
        {"DATABASE_URL": "postgresql://unused", "SLOTPROOF_SECRET_KEY": "b" * 40}
    )
    queue = list(jobs)

    async def worker():
        while queue:
            attempt, body = queue.pop()
            req = msgspec.convert(body, SlotRequest)
            now = datetime.now(UTC)
            booked = await attempts_service.book(pool, settings, ids["account"], attempt, req, now)
            entry = audit_store.Entry(
                actor=ids["client_id"], action="create", resource_type="appointment",
                resource_id=str(booked.appointment["id"]), account_id=ids["account"],
                request_id=None, client_request_id=None, outcome="success",
            )  # fmt: skip
            await audit_store.insert(pool, entry, now)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(jobs) / (time.perf_counter() - t0)


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
            token = await partner_token(base, ids["client_id"], ids["secret"])
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
        ceiling_jobs = list(
            zip(for_ceiling, slots(ids, start + timedelta(days=20), bookings), strict=True)
        )
        ceiling = await raw_ceiling(pool, ids, ceiling_jobs, concurrency)
        async with pool.acquire() as conn:
            doubles = await double_bookings(conn)
        print(f"double bookings in the database (every live status): {doubles}")
        print(
            f"ceiling: the booking service on a plain asyncpg pool, no HTTP (c={concurrency}):"
            f" {ceiling:.0f} bookings/s"
        )
        print(f"booking endpoint / ceiling = {(ok / secs) / ceiling:.0%}")
        await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bookings", type=int, default=600)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--contention-clients", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(main(args.bookings, args.concurrency, args.contention_clients))
