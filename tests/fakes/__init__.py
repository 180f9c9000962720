"""Test doubles that speak the real providers' HTTP, for the real SDKs to talk to."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar


@asynccontextmanager
async def paused_background_worker(app: Litestar) -> AsyncIterator[None]:
    """Stop the app's in-process notification worker (if it runs one) for a while, so that
    tests driving `run_once` themselves are the only ones delivering."""
    worker = app.state.get("notification_worker")
    was_running = worker is not None and worker.running
    if was_running:
        await worker.stop()
    try:
        yield
    finally:
        if was_running:
            worker.start()
