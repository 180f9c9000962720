"""Periodic jobs: expired holds are swept (their time noted as a waitlist opening), idle
attempts become ABANDONED, old availability change rows and waitlist openings that led to no
offer are pruned, and the retention pass erases what is kept no longer (app/retention.py).

Each pass is safe to run from several processes at once (row locks with SKIP LOCKED, and
deletes of already-expired rows). They run inside `slotproof serve` unless --no-worker, and in
`slotproof worker`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta

import asyncpg

from app.appointments.store import sweep_expired_holds
from app.attempts.service import abandon_idle
from app.availability.cache import PRUNE_KEEP
from app.availability.store import prune_changes
from app.config import Settings
from app.core import clock
from app.core.db import transaction
from app.retention import run_retention
from app.waitlist.store import note_freed_holds, prune_openings

log = logging.getLogger("slotproof.jobs")
INTERVAL_SECONDS = 30.0
# erasing contacts reads every old abandoned attempt; its 30-day clock needs no finer grain
CONTACT_ERASURE_EVERY_SECONDS = 600.0
# openings that led to no offer are kept this long (to look into a day's matching)
OPENINGS_KEPT = timedelta(days=1)


async def run_periodic_once(
    pool: asyncpg.Pool,
    settings: Settings,
    now: datetime | None = None,
    *,
    erase_contacts: bool = True,
) -> dict[str, int]:
    now = now or clock.now()
    async with transaction(pool) as conn:
        holds = await sweep_expired_holds(conn, now)
        await note_freed_holds(conn, holds)  # their time may be offered to the waitlist
    swept = len(holds)
    abandoned = 0
    while batch := await abandon_idle(pool, timedelta(minutes=settings.attempt_idle_minutes), now):
        abandoned += batch
    async with pool.acquire() as conn:
        pruned = await prune_changes(conn, PRUNE_KEEP)
    done = {
        "holdsSwept": swept,
        "attemptsAbandoned": abandoned,
        "availabilityChangesPruned": pruned,
        "waitlistOpeningsPruned": await prune_openings(pool, now - OPENINGS_KEPT),
    }
    done.update(await run_retention(pool, settings, now, erase_contacts=erase_contacts))
    if any(done.values()):
        log.info("periodic jobs", extra=done)
    return done


async def run_periodic_forever(
    pool: asyncpg.Pool, settings: Settings, stop: asyncio.Event, interval: float = INTERVAL_SECONDS
) -> None:
    erased_at: float | None = None
    while not stop.is_set():
        erase = erased_at is None or time.monotonic() - erased_at >= CONTACT_ERASURE_EVERY_SECONDS
        try:
            await run_periodic_once(pool, settings, erase_contacts=erase)
            if erase:
                erased_at = time.monotonic()
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("periodic jobs failed; will retry", extra={"error": type(exc).__name__})
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
