"""Availability benchmark: 10 practitioners, 2 locations, 15-minute grid, 30-day window, 600
existing appointments. Prints in-process engine compute p50/p95, HTTP p50/p95 and req/s of the
availability endpoint against `slotproof serve`, and the same for a trivial JSON endpoint
(/healthz, the framework ceiling) with the ratio.

Run: `make bench` or `.venv/bin/python -m bench.availability [--requests N] [--concurrency C]`.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from app.availability import engine
from app.availability import store as availability_store
from app.availability.service import SlotSearch, search
from app.core.db import create_pool
from app.partners.scopes import ALL_SCOPES
from app.partners.store import create_client
from app.selfscheduling import store as settings_store
from bench.common import bench_database, load, percentile, served, summary


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


async def compute_timings(pool: asyncpg.Pool, ids: dict, runs: int) -> list[float]:
    now = datetime.now(UTC)
    async with pool.acquire() as conn:
        rows = await settings_store.configs_for_setting(conn, ids["account"], ids["setting"])
        rows = [r for r in rows if r["location_id"] == ids["location"]]
        configs = [availability_store.engine_config(r) for r in rows]
        busy = await availability_store.busy(
            conn, ids["account"], sorted({c.practitioner_id for c in configs}),
            START - timedelta(days=2), START + timedelta(days=DAYS + 2), now=now,
        )  # fmt: skip
        result = await search(
            conn, ids["account"],
            SlotSearch(setting_id=ids["setting"], location_id=ids["location"],
                       appointment_type_id=ids["type"], range_start=START,
                       range_end=START + timedelta(days=DAYS)),
            now,
        )  # fmt: skip
    print(f"fixture: {len(configs)} configs at the location, {len(busy)} busy rows, "
          f"{len(result.slots)} slots in {DAYS} days")  # fmt: skip
    timings = []
    for _ in range(runs):
        t0 = time.perf_counter()
        engine.compute_slots(
            configs, duration_minutes=30, busy=busy, now=now, min_notice=timedelta(0),
            max_ahead=timedelta(days=90), range_start=START,
            range_end=START + timedelta(days=DAYS), appointment_type_id=ids["type"],
        )  # fmt: skip
        timings.append((time.perf_counter() - t0) * 1000)
    return timings


async def main(requests: int, concurrency: int) -> None:
    async with bench_database() as dsn:
        pool = await create_pool(dsn, min_size=1, max_size=2)
        try:
            ids = await build(pool)
            timings = await compute_timings(pool, ids, runs=300)
        finally:
            await pool.close()
        print(
            f"engine compute (in-process, {DAYS} days, one location): "
            f"p50={statistics.median(timings):.2f} ms p95={percentile(timings, 95):.2f} ms"
        )
        async with served(dsn) as base:
            import httpx

            async with httpx.AsyncClient() as http:
                token = (
                    await http.post(
                        f"{base}/oauth2/token",
                        data={"grant_type": "client_credentials", "client_id": ids["client_id"],
                              "client_secret": ids["secret"]},
                    )
                ).json()["access_token"]  # fmt: skip
            url = f"{base}/partner/v2/account/{ids['account']}/self-scheduling/availability"
            params = {
                "selfSchedulingSettingId": ids["setting"], "locationId": ids["location"],
                "appointmentTypeId": ids["type"], "startUnix": int(START.timestamp() * 1000),
                "endUnix": int((START + timedelta(days=DAYS)).timestamp() * 1000),
            }  # fmt: skip
            headers = {"Authorization": f"Bearer {token}"}
            sample = await httpx.AsyncClient().get(url, params=params, headers=headers)
            body = msgspec.json.decode(sample.content)
            assert sample.status_code == 200, sample.text
            print(f"response: {len(sample.content)} bytes, {len(body['slotsByDate'])} days")
            # warm up both endpoints
            await load(
                lambda h: h.get(url, params=params, headers=headers),
                total=50,
                concurrency=concurrency,
            )
            await load(lambda h: h.get(f"{base}/healthz"), total=200, concurrency=concurrency)
            lat1, secs1, errors1 = await load(
                lambda h: h.get(url, params=params, headers=headers),
                total=requests // 2, concurrency=1,
            )  # fmt: skip
            print(summary(f"HTTP availability latency (c=1, errors={errors1})", lat1, secs1))
            lat, secs, errors = await load(
                lambda h: h.get(url, params=params, headers=headers),
                total=requests, concurrency=concurrency,
            )  # fmt: skip
            print(summary(f"HTTP availability (c={concurrency}, errors={errors})", lat, secs))
            trivial, tsecs, terrors = await load(
                lambda h: h.get(f"{base}/healthz"), total=requests * 2, concurrency=concurrency
            )
            print(
                summary(
                    f"HTTP /healthz ceiling (c={concurrency}, errors={terrors})", trivial, tsecs
                )
            )
            ratio = (len(lat) / secs) / (len(trivial) / tsecs)
            print(f"availability throughput / trivial endpoint throughput = {ratio:.0%}"
                  " (the same query again: served from the answer cache)")  # fmt: skip
            # every request a new range (shifted by a minute): each one is a cache miss
            shifts = iter(range(1, 10**6))

            def shifted(h):
                shift = next(shifts) * 60_000
                return h.get(url, headers=headers, params={
                    **params, "startUnix": params["startUnix"] + shift,
                    "endUnix": params["endUnix"] + shift,
                })  # fmt: skip

            cold1, csecs1, cerrors1 = await load(shifted, total=requests // 2, concurrency=1)
            print(summary(f"HTTP availability, cache misses (c=1, errors={cerrors1})", cold1,
                          csecs1))  # fmt: skip
            cold, csecs, cerrors = await load(shifted, total=requests, concurrency=concurrency)
            print(summary(f"HTTP availability, cache misses (c={concurrency}, errors={cerrors})",
                          cold, csecs))  # fmt: skip
            cold_ratio = (len(cold) / csecs) / (len(trivial) / tsecs)
            print(f"cache-miss availability throughput / trivial endpoint throughput = "
                  f"{cold_ratio:.0%}")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.concurrency))
