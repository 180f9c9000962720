"""The worker as it runs for real: inside the app's lifespan, and as `slotproof worker` until
SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from app.config import Settings
from app.core.db import transaction
from app.main import create_app
from app.notifications.outbox import enqueue
from tests.conftest import TEST_SECRET_KEY
from tests.fakes import paused_background_worker
from tests.support import make_account, running

PARAMS = {"practice": "Riverside Family Health", "code": "271828"}


@pytest.fixture(scope="module", autouse=True)
async def _only_these_workers_deliver(app):
    async with paused_background_worker(app):
        yield


async def queue_code(pool, to: str) -> int:
    account = await make_account(pool)
    async with transaction(pool) as conn:
        return await enqueue(
            conn,
            account_id=account,
            channel="SMS",
            to=to,
            purpose="verification_code",
            params=PARAMS,
        )


def _find(directory: Path, to: str) -> dict | None:
    for path in directory.glob("*.json"):
        document = json.loads(path.read_text())
        if document["to"] == to:
            return document
    return None


async def wait_for_file(directory: Path, to: str, seconds: float = 20) -> dict:
    for _ in range(int(seconds / 0.1)):
        if document := _find(directory, to):
            return document
        await asyncio.sleep(0.1)
    raise AssertionError("the worker wrote no file for the message")


async def test_the_app_runs_the_worker_in_process_and_stops_it(database_url, pool, tmp_path):
    settings = Settings(
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        delivery="file",
        outbox_dir=tmp_path,
        in_process_worker=True,
        db_pool_min=1,
        db_pool_max=4,
    )
    application = create_app(settings)
    to = f"+1555{secrets.randbelow(10**7):07d}"
    async with running(application):
        worker = application.state.notification_worker
        assert worker.running
        notification_id = await queue_code(pool, to)
        document = await wait_for_file(tmp_path, to)
    assert not worker.running
    assert document["code"] == "271828" and document["notificationId"] == notification_id
    status = await pool.fetchval("SELECT status FROM notifications WHERE id = $1", notification_id)
    assert status == "SENT"


async def test_no_worker_when_switched_off(database_url):
    settings = Settings(database_url=database_url, in_process_worker=False, db_pool_max=2)
    application = create_app(settings)
    async with running(application):
        assert application.state.notification_worker is None


async def test_slotproof_worker_delivers_until_sigterm(database_url, pool, tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SLOTPROOF_SECRET_KEY": TEST_SECRET_KEY,
        "SLOTPROOF_DELIVERY": "file",
        "SLOTPROOF_OUTBOX_DIR": str(tmp_path),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "worker",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        to = f"+1555{secrets.randbelow(10**7):07d}"
        notification_id = await queue_code(pool, to)
        document = await wait_for_file(tmp_path, to, seconds=60)
        assert document["notificationId"] == notification_id
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    logs = err.decode()
    assert "notification worker stopped" in logs
    assert "271828" not in logs and to not in logs
