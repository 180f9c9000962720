"""The background loops: notification delivery, webhook delivery, waitlist matching, periodic
jobs.

`slotproof serve` runs them as tasks of its event loop (unless --no-worker); `slotproof worker`
runs them alone. Each loop is `run_forever(..., stop=Event)` and is safe to run in several
processes at once (rows are claimed with FOR UPDATE SKIP LOCKED).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg

from app.config import Settings
from app.jobs import run_periodic_forever
from app.notifications.channels import build_channels
from app.notifications.worker import run_forever as deliver_notifications
from app.waitlist.worker import run_forever as match_waitlist
from app.webhooks.dispatcher import run_forever as deliver_webhooks

log = logging.getLogger("slotproof.background")

Loop = Callable[[asyncio.Event], Awaitable[None]]


class BackgroundLoop:
    """One `run_forever` loop as a task of the current event loop."""

    def __init__(self, name: str, run: Loop, grace_seconds: float) -> None:
        self.name = name
        self._run = run
        self._grace = grace_seconds
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self.running:
            return
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._run(self._stop), name=f"slotproof-{self.name}")

    async def stop(self) -> None:
        """Let the current pass finish (up to the grace period), then return."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stop.set()
        try:
            await asyncio.wait_for(task, self._grace)
        except TimeoutError:
            log.warning(
                "background loop did not stop in time; cancelled", extra={"loop": self.name}
            )


def loops(pool: asyncpg.Pool, settings: Settings) -> dict[str, BackgroundLoop]:
    channels = build_channels(settings)
    return {
        "notifications": BackgroundLoop(
            "notifications",
            lambda stop: deliver_notifications(pool, settings, channels, stop=stop),
            settings.provider_timeout_seconds + 5.0,
        ),
        "webhooks": BackgroundLoop(
            "webhooks",
            lambda stop: deliver_webhooks(pool, settings, stop=stop),
            settings.webhook_timeout_seconds + 5.0,
        ),
        "waitlist": BackgroundLoop(
            "waitlist", lambda stop: match_waitlist(pool, settings, stop=stop), 10.0
        ),
        "jobs": BackgroundLoop(
            "jobs", lambda stop: run_periodic_forever(pool, settings, stop), 10.0
        ),
    }


async def run_until_stopped(pool: asyncpg.Pool, settings: Settings, stop: asyncio.Event) -> None:
    """Every loop, in this process, until `stop` is set (the `slotproof worker` command)."""
    running = loops(pool, settings)
    for loop in running.values():
        loop.start()
    await stop.wait()
    await asyncio.gather(*(loop.stop() for loop in running.values()))
