"""The matcher loop: openings -> offers, and offers past their time -> expired (re-offered).

Triggers `pg_notify('slotproof_waitlist')` with every opening, so a listening loop wakes at the
commit that freed the time; it also polls, so a lost notification (a dropped connection, an
opening written by a sweep) waits at most `poll_seconds`. Safe in several processes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

import asyncpg

from app.config import Settings
from app.core import clock
from app.waitlist.matcher import expire_and_reoffer, process_next

log = logging.getLogger("slotproof.waitlist")
CHANNEL = "slotproof_waitlist"


async def run_once(pool: asyncpg.Pool, settings: Settings, now: datetime | None = None) -> int:
    """Expire due offers, then match every unprocessed opening; returns openings processed."""
    now = now or clock.now()
    await expire_and_reoffer(pool, now)
    done = 0
    while await process_next(pool, settings, now):
        done += 1
    return done


async def run_forever(
    pool: asyncpg.Pool, settings: Settings, *, stop: asyncio.Event, poll_seconds: float = 5.0
) -> None:
    """Until `stop`: one pool connection stays checked out to LISTEN."""
    wake = asyncio.Event()
    listener: asyncpg.Connection | None = None

    def notified(*_: object) -> None:
        wake.set()

    log.info("waitlist matcher started")
    while not stop.is_set():
        wake.clear()
        try:
            if listener is None:
                listener = await pool.acquire()
                await listener.add_listener(CHANNEL, notified)
            await run_once(pool, settings)
        except Exception as exc:
            log.error("waitlist matcher pass failed", extra={"error": type(exc).__name__})
            listener = await _release(pool, listener, notified)
        waiters = {asyncio.ensure_future(wake.wait()), asyncio.ensure_future(stop.wait())}
        _, pending = await asyncio.wait(
            waiters, timeout=poll_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for task in pending:
            task.cancel()
    await _release(pool, listener, notified)
    log.info("waitlist matcher stopped")


async def _release(
    pool: asyncpg.Pool, listener: asyncpg.Connection | None, callback: Callable[..., None]
) -> None:
    """Stop listening and give the connection back to the pool; returns None."""
    if listener is not None:
        with contextlib.suppress(Exception):
            await listener.remove_listener(CHANNEL, callback)
        with contextlib.suppress(Exception):
            await pool.release(listener)
