"""What the browser tests share: the Chromium they need, a real `slotproof serve` subprocess on a
scratch database, the file outbox, direct database reads, and screenshots under artifacts/.

Chromium comes from Debian's `chromium` package and is driven by Playwright for Python with
`executable_path` (Playwright's own browser download cannot work here). Without either, the
browser tests are skipped with the reason, unless SLOTPROOF_REQUIRE_BROWSER=1 (CI sets it),
which turns the skip into a failure.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import glob
import importlib.util
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest

from tests.support import with_database

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("SLOTPROOF_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "artifacts" / "browser"
INSTALL_HINT = "run `make browser-deps` (apt-get install chromium; pip install playwright)"


def browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"Chromium not found at {CHROMIUM}: {INSTALL_HINT}"
    if importlib.util.find_spec("playwright") is None:
        return f"Playwright for Python is not installed: {INSTALL_HINT}"
    return None


_MISSING = browser_missing()
if _MISSING and os.environ.get("SLOTPROOF_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"SLOTPROOF_REQUIRE_BROWSER=1 but {_MISSING}")

needs_browser = pytest.mark.skipif(_MISSING is not None, reason=_MISSING or "")


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a loop of its own, in a worker thread, so it never
    touches the event loop pytest-asyncio keeps for the async tests."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    url: str
    dsn: str
    outbox: Path
    demo: dict[str, Any]
    log: Path

    @property
    def key(self) -> str:
        return self.demo["publishableKey"]

    def db(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        async def work() -> list[asyncpg.Record]:
            conn = await asyncpg.connect(self.dsn)
            try:
                return await conn.fetch(sql, *args)
            finally:
                await conn.close()

        return run_async(work)

    def code_for(self, to: str, *, newer_than: float = 0.0, timeout: float = 30.0) -> str:
        """The verification code most recently written to the file outbox for `to`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found: list[tuple[float, str]] = []
            for name in glob.glob(str(self.outbox / "*.json")):
                path = Path(name)
                if path.stat().st_mtime < newer_than:
                    continue
                try:
                    message = json.loads(path.read_text())
                except (OSError, ValueError):
                    continue
                if message.get("to") == to and message.get("code"):
                    found.append((path.stat().st_mtime_ns, str(message["code"])))
            if found:
                return max(found)[1]
            time.sleep(0.2)
        raise AssertionError(f"no code for {to} in {self.outbox} within {timeout}s")


SECRET_KEY = "browser-test-secret-key-0123456789abcdef"


def start_server(admin_dsn: str, workdir: Path) -> tuple[Server, subprocess.Popen, str]:
    name = f"slotproof_browser_{secrets.token_hex(4)}"

    async def create() -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    run_async(create)
    dsn = with_database(admin_dsn, name)
    outbox = workdir / "outbox"
    outbox.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": dsn,
        "SLOTPROOF_ENV": "development",
        "SLOTPROOF_SECRET_KEY": SECRET_KEY,
        "SLOTPROOF_DELIVERY": "file",
        "SLOTPROOF_OUTBOX_DIR": str(outbox),
        "SLOTPROOF_PUBLIC_URL": url,
        "SLOTPROOF_DATA_DIR": str(workdir / "data"),
        # every test browses from 127.0.0.1 with the one demo key: not what limits are about
        "SLOTPROOF_RATE_LIMIT_IP": "100000",
        "SLOTPROOF_RATE_LIMIT_WIDGET_KEY": "100000",
        "SLOTPROOF_HOLDS_PER_IP": "10000",
    }
    seeded = subprocess.run(
        [sys.executable, "-m", "app.cli", "seed-demo"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    demo = json.loads(seeded.stdout.strip().splitlines()[-1])
    log = workdir / "server.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server not ready in 60 s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return Server(url=url, dsn=dsn, outbox=outbox, demo=demo, log=log), proc, name


def stop_server(proc: subprocess.Popen, admin_dsn: str, name: str) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)

    async def drop() -> None:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    run_async(drop)


@dataclass
class Shots:
    """Numbered full-page screenshots of one test: artifacts/browser/<test>/NN-<label>.png."""

    folder: Path
    taken: list[Path] = field(default_factory=list)

    def __call__(self, page: Any, label: str) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        path = self.folder / f"{len(self.taken) + 1:02d}-{slug}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)
        return path


def unique_email() -> str:
    return f"pat-{secrets.token_hex(4)}@example.com"
