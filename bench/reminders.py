"""Reminder throughput: a minute's worth of due reminders drained by 2 worker processes.

Builds, in a scratch database, `--appointments` appointments (default 100,000: 1,000
practitioners x 100 non-overlapping visits, one patient each with a mobile number) and one
armed SMS reminder per appointment, all due inside the same minute (the minute starting a few
seconds after set-up ends; due times spread evenly over it). Then starts `--workers` (2)
processes, each running the notification worker's own pass (`app.notifications.worker.run_once`:
release due reminders into the outbox, claim, render, send, record) in a loop with the real
clock until nothing is left. Each process hands messages to an in-memory provider client that
records the notification id and the wall-clock time it was handed over; no network, so this
measures slotproof's side of the pipeline (the database work, rendering, the exactly-once
bookkeeping), not Twilio's API.

Prints: messages handed over, messages per second (from the first due time to the last
hand-over), the lag from each reminder's due time to its hand-over (p50, p99, max), the time
from the start of the minute to the last hand-over (target: the whole minute within 60 s), the
duplicates (notification ids handed over twice, and reminders with more than one
notification: must be 0), and the load average (the machine is shared).

Run: `.venv/bin/python -m bench.reminders [--appointments N] [--workers W] [--batch B]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from bench.common import bench_database, percentile
from tests.support import daytime_zone

PER_PRACTITIONER = 100
VISIT_MINUTES = 10


async def build(dsn: str, appointments: int, minute: datetime, spread: float = 60.0) -> None:
    """Every row in a handful of set-based statements (the booking API would take hours)."""
    practitioners = max(1, -(-appointments // PER_PRACTITIONER))
    conn = await asyncpg.connect(dsn)
    try:
        account = await conn.fetchval(
            "INSERT INTO accounts (name, time_zone) VALUES ('Bench Health', 'America/New_York')"
            " RETURNING id"
        )
        location = await conn.fetchval(
            "INSERT INTO locations (account_id, name, time_zone) VALUES ($1, 'Main', $2)"
            " RETURNING id",
            account,
            daytime_zone(minute),
        )
        kind = await conn.fetchval(
            "INSERT INTO appointment_types (account_id, name, duration_minutes)"
            " VALUES ($1, 'Visit', $2) RETURNING id",
            account,
            VISIT_MINUTES,
        )
        await conn.execute(
            "INSERT INTO practitioners (account_id, first_name, last_name, display_name)"
            " SELECT $1, 'Doc', g::text, 'Dr ' || g FROM generate_series(1, $2) g",
            account,
            practitioners,
        )
        await conn.execute(
            "INSERT INTO patients (account_id, first_name, last_name, date_of_birth, mobile_phone)"
            " SELECT $1, 'Pat', g::text, '1980-01-01', '+1415' || lpad(g::text, 7, '0')"
            " FROM generate_series(1, $2) g",
            account,
            appointments,
        )
        # visit i of practitioner p starts at base + i * 10 min; 100 visits fit in ~17 hours,
        # two days after the due minute, well clear of it
        base = minute + timedelta(days=2)
        await conn.execute(
            """
            WITH docs AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n
                            FROM practitioners WHERE account_id = $1),
                 pats AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n
                            FROM patients WHERE account_id = $1)
            INSERT INTO appointments (account_id, location_id, practitioner_id, patient_id,
                appointment_type_id, start_at, end_at, blocked_from, blocked_until)
            SELECT $1, $2, d.id, p.id, $3, s, s + make_interval(mins => $5::int),
                   s, s + make_interval(mins => $5::int)
              FROM pats p
              JOIN docs d ON d.n = p.n / $6
              CROSS JOIN LATERAL (SELECT $4::timestamptz
                  + make_interval(mins => ((p.n % $6) * $5)::int) AS s) AS t
            """,
            account,
            location,
            kind,
            base,
            VISIT_MINUTES,
            PER_PRACTITIONER,
        )
        # one armed SMS reminder each, due times spread over the minute
        await conn.execute(
            """
            INSERT INTO appointment_reminders (account_id, appointment_id, offset_minutes,
                channel, start_at, due_at)
            SELECT a.account_id, a.id, 1440, 'SMS', a.start_at,
                   $2::timestamptz + make_interval(secs => (row_number() OVER (ORDER BY a.id)
                       - 1) * $4 / $3)
              FROM appointments a WHERE a.account_id = $1
            """,
            account,
            minute,
            appointments,
            spread,
        )
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


class HandOver:
    """The provider client: records (notification id, wall time) of every message."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, float]] = []

    async def send(self, message):
        from app.notifications.base import SendResult

        self.seen.append((message.notification_id, time.time()))
        return SendResult(None)


def worker_process(dsn: str, batch: int, out: str, until: float) -> None:
    seen = asyncio.run(_worker(dsn, batch, out, until))
    Path(out).write_text(json.dumps(seen))


def _read(outs: list[str]) -> list[tuple[int, float]]:
    return [tuple(x) for out in outs for x in json.loads(Path(out).read_text())]


async def _worker(dsn: str, batch: int, out: str, until: float) -> list[tuple[int, float]]:
    from app.config import Settings
    from app.core.db import create_pool
    from app.notifications.worker import run_once

    settings = Settings(
        database_url=dsn, delivery="file", outbox_dir=Path(out).parent, in_process_worker=False
    )
    pool = await create_pool(dsn, min_size=2, max_size=4)
    client = HandOver()
    channels = {"SMS": client, "EMAIL": client}
    try:
        while time.time() < until:
            if await run_once(pool, settings, channels, batch=batch):
                continue
            left = await pool.fetchval(
                "SELECT (SELECT count(*) FROM appointment_reminders WHERE status = 'SCHEDULED')"
                " + (SELECT count(*) FROM notifications WHERE status IN ('QUEUED', 'SENDING'))"
            )
            if not left:
                break
            await asyncio.sleep(0.05)
    finally:
        await pool.close()
    return client.seen


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--appointments", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument(
        "--spread", type=float, default=60.0, help="seconds the due times spread over (60)"
    )
    args = parser.parse_args()

    async with bench_database() as dsn:
        set_up = time.monotonic()
        # the minute starts after set-up (about 1 s per 10,000 appointments, generously)
        lead = 20 + args.appointments / 2_000
        minute = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead)
        await build(dsn, args.appointments, minute, args.spread)
        print(f"set-up: {args.appointments:,} appointments and reminders in "
              f"{time.monotonic() - set_up:.1f} s; the minute starts at {minute:%H:%M:%S} UTC, "
              f"{(minute - datetime.now(UTC)).total_seconds():.1f} s from now")  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            outs = [os.path.join(tmp, f"worker{i}.json") for i in range(args.workers)]
            until = minute.timestamp() + 300
            context = multiprocessing.get_context("spawn")
            procs = [
                context.Process(target=worker_process, args=(dsn, args.batch, out, until))
                for out in outs
            ]
            for proc in procs:
                proc.start()
            for proc in procs:
                proc.join()
            handed = await asyncio.to_thread(_read, outs)
        conn = await asyncpg.connect(dsn)
        try:
            due = {
                r["notification_id"]: r["due_at"].timestamp()
                for r in await conn.fetch(
                    "SELECT notification_id, due_at FROM appointment_reminders"
                    " WHERE notification_id IS NOT NULL"
                )
            }
            per_reminder = await conn.fetchval(
                "SELECT count(*) FROM (SELECT appointment_id FROM appointment_reminders"
                " WHERE status = 'QUEUED' GROUP BY appointment_id, offset_minutes, channel"
                " HAVING count(*) > 1) x"
            )
            left = await conn.fetchval(
                "SELECT count(*) FROM appointment_reminders WHERE status = 'SCHEDULED'"
            )
            skipped = await conn.fetchval(
                "SELECT count(*) FROM appointment_reminders WHERE status = 'SKIPPED'"
            )
        finally:
            await conn.close()

    counts = Counter(notification_id for notification_id, _ in handed)
    duplicates = sum(n - 1 for n in counts.values() if n > 1) + per_reminder
    lags = [at - due[nid] for nid, at in handed if nid in due]
    first_due = min(due.values()) if due else minute.timestamp()
    last = max((at for _, at in handed), default=first_due)
    print(f"handed to the provider client: {len(counts):,} messages by {args.workers} workers "
          f"(batch {args.batch}); not sent: {left} still armed, {skipped} skipped")  # fmt: skip
    if lags:
        print(f"throughput: {len(handed) / max(last - first_due, 1e-9):,.0f} messages/s "
              f"(first due time to last hand-over)")  # fmt: skip
        print(f"lag due -> hand-over: p50 {percentile(lags, 50):.2f} s, "
              f"p99 {percentile(lags, 99):.2f} s, max {max(lags):.2f} s")  # fmt: skip
        print(f"the minute's reminders all handed over {last - minute.timestamp():.1f} s after "
              f"the minute began (target: within 60 s)")  # fmt: skip
    print(f"duplicates: {duplicates}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    asyncio.run(main())
