"""Helpers shared by the API tests."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar

from app.config import Settings
from app.core import clock
from app.partners.scopes import ALL_SCOPES
from app.partners.store import create_client

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


async def admin_dsn(embedded_dir: Path) -> str:
    """A DSN on a server where the tests may create databases: DATABASE_URL, else the
    machine's PostgreSQL on 127.0.0.1:5432, else an embedded one."""
    if url := os.environ.get("DATABASE_URL"):
        return url
    try:
        conn = await asyncpg.connect(LOCAL_SERVER, timeout=3)
        await conn.close()
        return LOCAL_SERVER
    except (OSError, asyncpg.PostgresError):
        from app.core.embedded import start_embedded

        return start_embedded(embedded_dir)


@asynccontextmanager
async def running(app: Litestar) -> AsyncIterator[Litestar]:
    """Run the app's lifespan in a task of its own: Litestar's lifespan uses an anyio task
    group, which must be entered and exited by the same task (pytest fixtures are not)."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(hold())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()  # start-up failed: raise its error here
    try:
        yield app
    finally:
        stop.set()
        await task


class Partner:
    """An account plus an authenticated partner client, with path-prefixing helpers."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        account_id: int,
        client_id: str,
        secret: str,
        token: str,
    ) -> None:
        self.http = client
        self.account_id = account_id
        self.client_id = client_id
        self.secret = secret
        self.token = token

    def url(self, path: str) -> str:
        return f"/partner/v2/account/{self.account_id}{path}"

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}", **extra}

    async def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = self.headers(kw.pop("token", None), **kw.pop("headers", {}))
        return await self.http.request(method, self.url(path), headers=headers, **kw)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("POST", path, **kw)

    async def put(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("PUT", path, **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("DELETE", path, **kw)

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.post(path, json=body)
        assert response.status_code == 201, response.text
        return response.json()


async def fetch_token(
    client: httpx.AsyncClient, client_id: str, secret: str, scope: str | None = None
) -> str:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    if scope is not None:
        form["scope"] = scope
    response = await client.post("/oauth2/token", data=form)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


async def make_account(pool: asyncpg.Pool, name: str | None = None) -> int:
    return await pool.fetchval(
        "INSERT INTO accounts (name, time_zone) VALUES ($1, 'America/New_York') RETURNING id",
        name or f"Practice {secrets.token_hex(3)}",
    )


async def make_partner(
    client: httpx.AsyncClient, pool: asyncpg.Pool, scopes: tuple[str, ...] = ALL_SCOPES
) -> Partner:
    account_id = await make_account(pool)
    async with pool.acquire() as conn:
        client_id, secret = await create_client(conn, "test partner", list(scopes), [account_id])
    token = await fetch_token(client, client_id, secret)
    return Partner(client, account_id, client_id, secret, token)


def problem_code(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return response.json()["code"]


@asynccontextmanager
async def scratch_database(admin: str) -> AsyncIterator[str]:
    """An empty database on the admin server, dropped afterwards."""
    name = f"slotproof_scratch_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(admin)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    try:
        yield with_database(admin, name)
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def with_database(dsn: str, name: str) -> str:
    """The same server DSN pointing at another database (TCP URLs and socket URLs alike)."""
    base, _, query = dsn.partition("?")
    scheme, _, rest = base.partition("://")
    host_part = rest.split("/", 1)[0]
    return f"{scheme}://{host_part}/{name}" + (f"?{query}" if query else "")


async def start_serve(
    env: dict[str, str], port: int, *args: str, stderr: Any = asyncio.subprocess.PIPE
) -> asyncio.subprocess.Process:
    """`slotproof serve` as a real process (stderr piped by default: its JSON log lines)."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "serve", "--port", str(port), *args,
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def wait_ready(base_url: str, tries: int = 300) -> httpx.Response:
    """The first answer of /readyz, polling every 0.1 s while the server starts."""
    async with httpx.AsyncClient() as http:
        for _ in range(tries):
            try:
                return await http.get(f"{base_url}/readyz")
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise AssertionError("server did not start")


async def last_code(pool: asyncpg.Pool, account_id: int) -> str | None:
    """The newest verification code queued for the account (read before the worker scrubs it)."""
    return await pool.fetchval(
        "SELECT params->>'code' FROM notifications WHERE account_id = $1"
        " AND purpose = 'verification_code' ORDER BY id DESC LIMIT 1",
        account_id,
    )


# the parameters of a message about one appointment, as app.appointments.message_context
# builds them
VISIT_PARAMS = {
    "practice": "Riverside Family Health",
    "service": "New patient visit",
    "practitioner": "Ana Ruiz, MD",
    "when": "Monday, March 9, 2026 at 9:00 AM EDT",
    "place": "Riverside Family Health - Brooklyn, 100 Main Street, Brooklyn, NY 11201",
    "manage_url": "https://slotproof.test/widget/v1/frame#manage=mg_tok",
    "starts_at": "2026-03-09T13:00:00+00:00",
    "ends_at": "2026-03-09T13:30:00+00:00",
    "event_uid": "appointment-7@slotproof.test",
    "sequence": "1772000000",
    "phone": "(212) 555-0100",
    "phone_uri": "tel:+12125550100",
}


async def open_manage_link(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    """What the manage page shows for a link from a message (asserts the link works)."""
    _, _, token = url.partition("#manage=")
    assert token.startswith("mg_"), url
    response = await client.get(f"/widget/v1/manage/{token}")
    assert response.status_code == 200, response.text
    return response.json()


class Widget:
    """The widget's calls: publishable key, plus the attempt token once started."""

    def __init__(self, client, key):
        self.http, self.key, self.token = client, key, None

    def headers(self):
        headers = {"X-Widget-Key": self.key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    async def get(self, path, **kw):
        return await self.http.get(f"/widget/v1{path}", headers=self.headers(), **kw)

    async def post(self, path, **kw):
        return await self.http.post(f"/widget/v1{path}", headers=self.headers(), **kw)


async def widget_patient(
    client: httpx.AsyncClient,
    pool: asyncpg.Pool,
    key: str,
    email: str,
    *,
    lang: str | None = None,
    patient: dict[str, str] | None = None,
) -> Widget:
    """A widget attempt (in `lang`) whose email is verified and whose patient is set."""
    widget = Widget(client, key)
    started = await widget.post("/attempt", json={"lang": lang} if lang else {})
    assert started.status_code == 201, started.text
    widget.token = started.json()["attemptToken"]
    assert (await widget.post("/attempt/send-code", json={"email": email})).status_code == 200
    account_id = await pool.fetchval(
        "SELECT account_id FROM self_scheduling_settings WHERE publishable_key = $1", key
    )
    code = await last_code(pool, account_id)
    checked = await widget.post("/attempt/verify-code", json={"code": code, "email": email})
    assert checked.json()["verified"], checked.text
    person = patient or {"firstName": "Ana", "lastName": "Núñez", "dateOfBirth": "1984-05-06"}
    assert (await widget.post("/attempt/patient", json=person)).status_code in (200, 201)
    return widget


def daytime_zone(at: datetime) -> str:
    """A fixed-offset zone where `at` is around noon: SMS quiet hours never hold a text sent
    then (tests and benchmarks that run on the real clock)."""
    offset = (12 - at.hour + 12) % 24 - 12  # -12..11 hours from UTC
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # Etc signs are inverted


def frozen_clock_at(at: datetime) -> Any:
    """An autouse fixture for a test module, `frozen_clock = frozen_clock_at(NOW)`: the app's
    clock answers `at`; a test moves it through the fixture's value,
    `frozen_clock["now"] = NOW + timedelta(minutes=5)`."""

    @pytest.fixture(autouse=True)
    def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> dict[str, datetime]:
        current = {"now": at}
        monkeypatch.setattr(clock, "now", lambda: current["now"])
        return current

    return frozen_clock


def partner_calls_below_500() -> Any:
    """An autouse fixture for a test module, `never_a_5xx = partner_calls_below_500()`: every
    partner call of the module must answer below 500, whatever the test asserts about it."""

    @pytest.fixture(autouse=True)
    def never_a_5xx(monkeypatch: pytest.MonkeyPatch) -> None:
        original = Partner.request

        async def checked(self: Partner, method: str, path: str, **kw: Any) -> httpx.Response:
            response = await original(self, method, path, **kw)
            assert response.status_code < 500, (method, path, response.text)
            return response

        monkeypatch.setattr(Partner, "request", checked)

    return never_a_5xx


class FakeClock:
    """A clock tests move by hand (`advance`), starting at the real now."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class Limited:
    """An app of its own with tiny limits; `client(ip)` talks to it from that address."""

    def __init__(self, app) -> None:
        self.app = app
        self._clients: list[httpx.AsyncClient] = []

    def client(self, ip: str = "203.0.113.10") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(ip, 40000))
        c = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        self._clients.append(c)
        return c


@asynccontextmanager
async def limited(settings: Settings, **overrides) -> AsyncIterator[Limited]:
    from app.main import create_app  # the app module imports much: only when used

    values = {"rate_limits": "on", "db_pool_min": 1, "db_pool_max": 2, **overrides}
    app = create_app(msgspec.structs.replace(settings, **values))
    async with running(app):
        holder = Limited(app)
        try:
            yield holder
        finally:
            for c in holder._clients:
                await c.aclose()
