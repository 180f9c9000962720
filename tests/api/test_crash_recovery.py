"""An instance killed mid-request (issue 12): a `slotproof serve` process is SIGKILLed while it
books, and the client's same-key retry on another process completes at once, with exactly one
booking. Before, the dead process's idempotency claim blocked the key for 5 minutes with an
untrue `Retry-After: 1`."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from app.partners.store import create_client
from tests.builders import build_practice
from tests.support import (
    Partner,
    fetch_token,
    free_port,
    make_account,
    scratch_database,
    start_serve,
    wait_ready,
)

NEW_YORK = ZoneInfo("America/New_York")
MAX_RETRIES = 10  # each after the Retry-After the server gave


def _next_weekday_10am() -> str:
    day = date.today() + timedelta(days=3)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=NEW_YORK).isoformat()


async def _booking_attempt(partner: Partner) -> tuple[str, dict]:
    practice = await build_practice(partner, method=None)
    attempt = await partner.create(
        "/self-scheduling/attempt", {"selfSchedulingSettingId": practice.setting_id}
    )
    base = f"/self-scheduling/attempt/{attempt['id']}"
    patient = {
        "firstName": "Ana",
        "lastName": "Crash",
        "dateOfBirth": "1980-01-02",
        "email": "ana.crash@example.com",
    }
    r = await partner.post(f"{base}/patient", json=patient)
    assert r.status_code == 201, r.text
    slot = {
        "appointmentTypeId": practice.appointment_type_id,
        "locationId": practice.location_ids[0],
        "practitionerId": practice.practitioner_ids[0],
        "schedulerConfigId": practice.config_ids[0],
        "startDateTime": _next_weekday_10am(),
    }
    return f"{base}/appointment", slot


async def test_a_booking_claimed_by_a_killed_instance_completes_on_another(admin_database_url):
    async with scratch_database(admin_database_url) as dsn:
        env = {**os.environ, "DATABASE_URL": dsn, "SLOTPROOF_SECRET_KEY": "k" * 40}
        # instances behind one balancer share the public URL (the token issuer); unset, each
        # development server would name its own port
        env["SLOTPROOF_PUBLIC_URL"] = "http://127.0.0.1:8000"
        ports = [free_port(), free_port()]
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        with tempfile.TemporaryFile() as log:
            doomed = await start_serve(env, ports[0], "--no-worker", stderr=log)
            assert (await wait_ready(bases[0])).status_code == 200
            survivor = await start_serve(env, ports[1], "--no-worker", stderr=log)
            assert (await wait_ready(bases[1])).status_code == 200
            db = await asyncpg.connect(dsn)
            try:
                await _kill_mid_booking_then_retry(db, bases, doomed)
            finally:
                await db.close()
                for proc in (doomed, survivor):
                    if proc.returncode is None:
                        proc.terminate()
                    await proc.wait()


async def _kill_mid_booking_then_retry(db: asyncpg.Connection, bases: list[str], doomed) -> None:
    account = await make_account(db)  # type: ignore[arg-type]
    client_id, secret = await create_client(db, "crash test", ["scheduling", "config"], [account])
    async with httpx.AsyncClient(base_url=bases[0], timeout=30) as first:
        token = await fetch_token(first, client_id, secret)
        partner = Partner(first, account, client_id, secret, token)
        path, slot = await _booking_attempt(partner)
        practitioner = slot["practitionerId"]
        key = {"Idempotency-Key": "book-across-a-crash-1"}
        # the test holds the practitioner's booking lock, so the booking stops inside its
        # handler, after the instance claimed the key
        blocker = await db.fetchval("SELECT pg_backend_pid()")
        await db.execute(
            "SELECT pg_advisory_lock(hashtextextended('slotproof:practitioner:' || $1, 0))",
            str(practitioner),
        )
        booking = asyncio.create_task(partner.post(path, json=slot, headers=key))
        try:
            await _until_waiting_for(db, blocker)
            assert await db.fetchval("SELECT state FROM idempotency_keys") == "IN_FLIGHT"
            doomed.send_signal(signal.SIGKILL)
            await doomed.wait()
        finally:
            await db.execute("SELECT pg_advisory_unlock_all()")
            with contextlib.suppress(httpx.TransportError):  # died with the instance
                await booking
        assert booking.exception() is not None, "the killed instance answered"

    async with httpx.AsyncClient(base_url=bases[1], timeout=30) as second:
        headers = {"Authorization": f"Bearer {token}", **key}
        url = f"/partner/v2/account/{account}{path}"
        answers = []
        for _ in range(MAX_RETRIES):  # honours Retry-After until the server lets go
            answers.append(await second.post(url, json=slot, headers=headers))
            if answers[-1].status_code != 409:
                break
            await asyncio.sleep(int(answers[-1].headers["retry-after"]))
        done = answers[-1]
        assert done.status_code == 201, [(a.status_code, a.text) for a in answers]
        assert len(answers) <= 2, "the dead claim blocked the key"
        replay = await second.post(url, json=slot, headers=headers)
        assert replay.headers.get("idempotent-replayed") == "true"
        assert replay.content == done.content
    booked = await db.fetchval(
        "SELECT count(*) FROM appointments WHERE account_id = $1 AND status <> 'CANCELLED'", account
    )
    assert booked == 1


async def _until_waiting_for(db: asyncpg.Connection, blocker: int) -> None:
    """Until some session waits on a lock the test's session holds (the booking, stopped)."""
    for _ in range(600):
        waiting = await db.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", blocker
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the booking never reached the practitioner's lock")
