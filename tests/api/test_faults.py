"""Faults survived: PostgreSQL going away under load, SIGTERM during traffic, a worker killed
mid-delivery.

PostgreSQL is reached through a TCP proxy owned by the test, so an outage is real (sockets
reset, connections refused, or accepted and never answered) while the server itself stays up
for the test's own checks. Each test works in a scratch database of its own.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from app.config import Settings
from app.core import clock
from app.core.db import create_pool, transaction
from app.core.migrate import migrate
from app.main import create_app
from app.notifications.outbox import enqueue
from app.partners.scopes import ALL_SCOPES
from app.partners.store import create_client
from tests.builders import build_practice
from tests.conftest import TEST_SECRET_KEY
from tests.fakes.providers import (
    FROM_EMAIL,
    MESSAGING_SERVICE,
    PUBLIC_URL,
    SENDGRID_KEY,
    TWILIO_SID,
    TWILIO_TOKEN,
    FakeProviders,
)
from tests.support import Partner, make_account, make_partner, running, scratch_database

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # Monday, 07:00 in New York
NEW_YORK = ZoneInfo("America/New_York")
PATIENT = {
    "firstName": "Olga",
    "lastName": "Outage",
    "dateOfBirth": "1970-01-01",
    "email": "olga.outage@example.com",
}


# --------------------------------------------------------------------------- the proxy


def _target(dsn: str) -> tuple[str, str, int]:
    """("tcp", host, port) or ("unix", socket path, 0) of a PostgreSQL DSN."""
    parts = urlsplit(dsn)
    query = dict(parse_qsl(parts.query))
    host = query.get("host") or parts.hostname or "127.0.0.1"
    port = int(query.get("port") or parts.port or 5432)
    if host.startswith("/"):
        return "unix", f"{host}/.s.PGSQL.{port}", 0
    return "tcp", host, port


def _through(dsn: str, port: int) -> str:
    """The same DSN reaching the server through 127.0.0.1:port."""
    parts = urlsplit(dsn)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{port}" if userinfo else f"127.0.0.1:{port}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k not in ("host", "port")])
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


class PgProxy:
    """Forwards 127.0.0.1:<port> to PostgreSQL until cut.

    cut("refuse"): every open connection is reset and the port stops listening (what clients
    see while a server restarts). cut("blackhole"): open connections are reset, new ones are
    accepted and never answered (a network partition / an overloaded host).
    restore(): forwarding again, on the same port."""

    def __init__(self, dsn: str) -> None:
        self.kind, self.host, self.target_port = _target(dsn)
        self.dsn = dsn
        self.port = 0
        self.mode = "up"
        self.accepted = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self._release = asyncio.Event()

    @property
    def proxied_dsn(self) -> str:
        return _through(self.dsn, self.port)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.kind == "unix":
            return await asyncio.open_unix_connection(self.host)
        return await asyncio.open_connection(self.host, self.target_port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self._links.add(writer)
        if self.mode == "blackhole":
            await self._release.wait()  # hold the connection open, answer nothing
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await self._open_upstream()
        except OSError:
            writer.transport.abort()
            return
        self._links.add(up_writer)
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )
        self._links.discard(writer)
        self._links.discard(up_writer)

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (OSError, RuntimeError):
            pass
        finally:
            writer.transport.abort()

    async def cut(self, mode: str = "refuse") -> None:
        assert mode in ("refuse", "blackhole")
        self.mode = mode
        self._release = asyncio.Event()
        if mode == "refuse" and self._server is not None:
            self._server.close()
            self._server = None
        for link in list(self._links):
            link.transport.abort()
        self._links.clear()
        await asyncio.sleep(0.05)  # let the event loops on both sides see the resets

    async def restore(self) -> None:
        self._release.set()
        self.mode = "up"
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.close()
        for link in list(self._links):
            link.transport.abort()


def test_proxy_dsn_rewriting():
    assert _target("postgresql://postgres@127.0.0.1:5432/db") == ("tcp", "127.0.0.1", 5432)
    assert _target("postgresql://postgres:@/db?host=/tmp/pg") == (
        "unix",
        "/tmp/pg/.s.PGSQL.5432",
        0,
    )
    assert (
        _through("postgresql://u:p@db.internal:6543/x", 7777) == "postgresql://u:p@127.0.0.1:7777/x"
    )
    assert (
        _through("postgresql://postgres:@/db?host=/tmp/pg", 7)
        == "postgresql://postgres:@127.0.0.1:7/db"
    )


# --------------------------------------------------------------------------- PostgreSQL down


def _weekday_slots() -> list[str]:
    """Every 30-minute start 09:00-11:30 New York, weekdays from Monday 9 March 2026 on."""
    slots = []
    day = datetime(2026, 3, 9, tzinfo=NEW_YORK)
    while len(slots) < 200:
        if day.weekday() < 5:
            for minutes in range(0, 180, 30):
                start = day.replace(hour=9) + timedelta(minutes=minutes)
                slots.append(start.isoformat())
        day += timedelta(days=1)
    return slots


SLOTS = _weekday_slots()


class Booker:
    """Books one slot after another through the partner API: attempt, patient, appointment."""

    def __init__(self, partner: Partner, practice) -> None:
        self.p = partner
        self.practice = practice
        self.next_slot = 0
        self.acknowledged: list[int] = []  # appointment ids answered 201
        self.statuses: Counter[int] = Counter()
        self.codes: Counter[str] = Counter()

    def _seen(self, r: httpx.Response) -> httpx.Response:
        self.statuses[r.status_code] += 1
        if r.status_code >= 400:
            self.codes[r.json()["code"]] += 1
        return r

    async def book(self) -> httpx.Response:
        start = SLOTS[self.next_slot]
        self.next_slot += 1
        r = self._seen(
            await self.p.post(
                "/self-scheduling/attempt",
                json={"selfSchedulingSettingId": self.practice.setting_id},
            )
        )
        if r.status_code != 201:
            return r
        base = f"/self-scheduling/attempt/{r.json()['id']}"
        r = self._seen(await self.p.post(f"{base}/patient", json=PATIENT))
        if r.status_code not in (200, 201):
            return r
        r = self._seen(
            await self.p.post(
                f"{base}/appointment",
                json={
                    "appointmentTypeId": self.practice.appointment_type_id,
                    "locationId": self.practice.location_ids[0],
                    "practitionerId": self.practice.practitioner_ids[0],
                    "schedulerConfigId": self.practice.config_ids[0],
                    "startDateTime": start,
                },
            )
        )
        if r.status_code == 201:
            self.acknowledged.append(r.json()["id"])
        return r

    async def load(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.book()
            await asyncio.sleep(0.02)


def assert_database_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    body = r.json()
    assert body["code"] == "database_unavailable"
    assert int(r.headers["retry-after"]) > 0
    assert body["requestId"] == r.headers["x-request-id"]
    assert r.headers["x-content-type-options"] == "nosniff"  # security headers on errors too


async def quickly(request) -> httpx.Response:
    """A guard against hangs (the point is the status; the bound is generous)."""
    return await asyncio.wait_for(request, 15)


@asynccontextmanager
async def outage_app(admin_database_url: str) -> AsyncIterator[tuple]:
    async with scratch_database(admin_database_url) as dsn:
        await migrate(dsn)
        proxy = PgProxy(dsn)
        await proxy.start()
        settings = Settings(
            database_url=proxy.proxied_dsn,
            secret_key=TEST_SECRET_KEY,
            delivery="console",
            token_rate_limit_per_minute=10_000,
            db_pool_min=1,
            db_pool_max=4,
            db_connect_timeout_seconds=2.0,
            db_acquire_timeout_seconds=2.0,
            in_process_worker=False,
        )
        application = create_app(settings)
        direct = await create_pool(dsn, min_size=1, max_size=3)
        try:
            async with running(application):
                transport = httpx.ASGITransport(app=application)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://testserver"
                ) as http:
                    yield application, http, proxy, direct
        finally:
            await proxy.close()
            await direct.close()


async def _wait_until_blocked_on_a_lock(direct: asyncpg.Pool, database: str) -> None:
    for _ in range(100):
        waiting = await direct.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1"
            " AND application_name = 'slotproof' AND wait_event_type = 'Lock'",
            database,
        )
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the request never reached the database")


async def _recovers(http: httpx.AsyncClient) -> int:
    """Requests until /readyz answers 200 again (the pool reconnects by itself)."""
    for tries in range(1, 41):
        r = await quickly(http.get("/readyz"))
        if r.status_code == 200:
            return tries
        assert_database_unavailable(r)
        await asyncio.sleep(0.25)
    raise AssertionError("the service did not recover after PostgreSQL came back")


async def test_postgres_outage_fails_fast_with_503_and_recovers_without_losing_bookings(
    admin_database_url, monkeypatch
):
    monkeypatch.setattr(clock, "now", lambda: NOW)
    async with outage_app(admin_database_url) as (application, http, proxy, direct):
        pool_before = application.state.pool
        database = await direct.fetchval("SELECT current_database()")
        partner = await make_partner(http, direct)
        practice = await build_practice(partner, method=None)
        booker = Booker(partner, practice)
        for _ in range(3):
            assert (await booker.book()).status_code == 201

        # 1. the server goes away while a query is running: that request answers 503
        async with direct.acquire() as locker:
            locking = locker.transaction()
            await locking.start()
            await locker.execute("LOCK TABLE locations IN ACCESS EXCLUSIVE MODE")
            blocked = asyncio.create_task(partner.get("/location"))
            await _wait_until_blocked_on_a_lock(direct, database)
            await proxy.cut("refuse")
            assert_database_unavailable(await quickly(blocked))
            await locking.rollback()

        # 2. while it is away, everything needing it fails fast with 503; the rest works
        assert_database_unavailable(await quickly(http.get("/readyz")))
        assert_database_unavailable(await quickly(partner.get("/location")))
        assert_database_unavailable(await quickly(partner.get("/self-scheduling/setting")))
        assert_database_unavailable(
            await quickly(
                partner.post(
                    "/self-scheduling/attempt",
                    json={"selfSchedulingSettingId": practice.setting_id},
                    headers={"Idempotency-Key": secrets.token_hex(8)},
                )
            )
        )
        assert_database_unavailable(await quickly(booker.book()))
        assert (await http.get("/healthz")).status_code == 200  # the process is fine
        assert (await http.get("/no/such/route")).status_code == 404

        # 3. back: the same app (no restart) serves again, at once
        await proxy.restore()
        assert await _recovers(http) <= 3
        assert (await partner.get("/location")).status_code == 200
        for _ in range(2):
            assert (await booker.book()).status_code == 201

        # 4. under steady booking load, connections accepted but never answered this time
        stop = asyncio.Event()
        load = asyncio.create_task(booker.load(stop))
        await asyncio.sleep(1.0)
        booked_before_cut = len(booker.acknowledged)
        await proxy.cut("blackhole")
        assert_database_unavailable(await quickly(http.get("/readyz")))
        assert_database_unavailable(await quickly(partner.get("/location")))
        await asyncio.sleep(1.0)
        await proxy.restore()
        assert await _recovers(http) <= 3
        for _ in range(100):  # the load goes on booking by itself
            if len(booker.acknowledged) >= booked_before_cut + 3:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await quickly(load)
        assert len(booker.acknowledged) >= booked_before_cut + 3

        # the outage was seen as 503s only: never a 500, never an answer lost in a hang
        assert set(booker.statuses) <= {200, 201, 503}, booker.statuses
        assert booker.statuses[503] >= 1 and set(booker.codes) == {"database_unavailable"}
        # every booking acknowledged with 201 is in the database, exactly once
        stored = await direct.fetch(
            "SELECT id, status FROM appointments WHERE id = ANY($1::bigint[])",
            booker.acknowledged,
        )
        assert sorted(r["id"] for r in stored) == sorted(booker.acknowledged)
        assert {r["status"] for r in stored} == {"SCHEDULED"}
        assert len(set(booker.acknowledged)) == len(booker.acknowledged)
        assert application.state.pool is pool_before


async def test_database_errors_map_to_503_not_500(monkeypatch, partner: Partner):
    """Each way asyncpg reports the server gone is a 503 problem, wherever it surfaces."""
    from app.core.db import DatabaseUnavailable

    raised = [
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        DatabaseUnavailable("no database connection: ConnectionRefusedError"),
    ]
    for error in raised:

        async def failing(self, *args, _error=error):
            raise _error

        monkeypatch.setattr(asyncpg.Pool, "_acquire", failing)  # under ResilientPool's
        r = await partner.get("/location")
        monkeypatch.undo()
        assert_database_unavailable(r)


async def test_socket_errors_outside_the_driver_stay_500():
    """An OSError from anything but asyncpg (a bug, another service) is not dressed up as a
    database outage."""
    from litestar import Litestar, get

    from app.core.errors import EXCEPTION_HANDLERS

    @get("/boom", sync_to_thread=False)
    def boom() -> None:
        raise ConnectionRefusedError("some other service")

    application = Litestar([boom], exception_handlers=EXCEPTION_HANDLERS)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://t"
    ) as http:
        r = await http.get("/boom")
    assert r.status_code == 500 and r.json()["code"] == "internal_error"


# --------------------------------------------------------------------------- SIGTERM during traffic


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _wait_http(url: str, proc: asyncio.subprocess.Process, seconds: float = 60) -> None:
    async with httpx.AsyncClient() as http:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert proc.returncode is None, "the process exited"
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{url} never answered 200")


async def test_sigterm_drains_in_flight_requests_then_exits_0(admin_database_url, tmp_path):
    async with scratch_database(admin_database_url) as dsn:
        await migrate(dsn)
        direct = await asyncpg.create_pool(
            dsn, min_size=1, max_size=3, server_settings={"application_name": "test"}
        )
        try:
            account = await make_account(direct)
            async with direct.acquire() as conn:
                client_id, secret = await create_client(conn, "drain", list(ALL_SCOPES), [account])
            port = _free_port()
            env = {
                **os.environ,
                "DATABASE_URL": dsn,
                "SLOTPROOF_SECRET_KEY": TEST_SECRET_KEY,
                "SLOTPROOF_DELIVERY": "file",
                "SLOTPROOF_OUTBOX_DIR": str(tmp_path),
            }
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "app.cli", "serve", "--port", str(port),
                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            base = f"http://127.0.0.1:{port}"
            try:
                await _wait_http(f"{base}/readyz", proc)
                async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                    token = (
                        await http.post(
                            "/oauth2/token",
                            data={
                                "grant_type": "client_credentials",
                                "client_id": client_id,
                                "client_secret": secret,
                            },
                        )
                    ).json()["access_token"]
                    database = await direct.fetchval("SELECT current_database()")
                    # a slow request: its INSERT waits on a lock the test holds
                    async with direct.acquire() as locker:
                        locking = locker.transaction()
                        await locking.start()
                        await locker.execute("LOCK TABLE locations IN ACCESS EXCLUSIVE MODE")
                        in_flight = asyncio.create_task(
                            http.post(
                                f"/partner/v2/account/{account}/location",
                                json={"name": "Drained", "timeZone": "America/New_York"},
                                headers={"Authorization": f"Bearer {token}"},
                            )
                        )
                        await _wait_until_blocked_on_a_lock(direct, database)
                        proc.send_signal(signal.SIGTERM)
                        # it stops taking connections but keeps serving the one in flight
                        async with httpx.AsyncClient(timeout=2) as fresh:
                            for _ in range(50):
                                try:
                                    await fresh.get(f"{base}/healthz")
                                except httpx.TransportError:
                                    break
                                await asyncio.sleep(0.1)
                            else:
                                raise AssertionError("still accepting after SIGTERM")
                        assert proc.returncode is None and not in_flight.done()
                        await locking.rollback()
                    finished = await asyncio.wait_for(in_flight, 30)
                assert finished.status_code == 201, finished.text
                location_id = finished.json()["id"]
                _, err = await asyncio.wait_for(proc.communicate(), 60)
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()
            assert proc.returncode == 0, err.decode()[-3000:]
            assert b"Traceback" not in err
            # the database is consistent and holds the drained request's row; no session left
            name = await direct.fetchval("SELECT name FROM locations WHERE id = $1", location_id)
            assert name == "Drained"
            for _ in range(50):
                left = await direct.fetchval(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = $1 AND application_name = 'slotproof'",
                    database,
                )
                if left == 0:
                    break
                await asyncio.sleep(0.1)
            assert left == 0
        finally:
            await direct.close()


# --------------------------------------------------------------------------- worker killed


class SlowProviders(FakeProviders):
    """FakeProviders whose first `slow` requests are answered after `delay` seconds."""

    def __init__(self, delay: float, slow: int = 1) -> None:
        super().__init__()
        self.delay = delay
        self.slow = slow

    def _next_answer(self, provider: str):
        answer = super()._next_answer(provider)
        with self._lock:
            slow, self.slow = self.slow > 0, self.slow - 1
        if slow:
            self._closing.wait(self.delay)
        return answer


def _worker_env(dsn: str, fake: FakeProviders) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": dsn,
        "SLOTPROOF_SECRET_KEY": TEST_SECRET_KEY,
        "SLOTPROOF_PUBLIC_URL": PUBLIC_URL,
        "SLOTPROOF_DELIVERY": "providers",
        "TWILIO_ACCOUNT_SID": TWILIO_SID,
        "TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "TWILIO_MESSAGING_SERVICE_SID": MESSAGING_SERVICE,
        "SENDGRID_API_KEY": SENDGRID_KEY,
        "SENDGRID_FROM_EMAIL": FROM_EMAIL,
        "SLOTPROOF_TWILIO_API_URL": fake.url,
        "SLOTPROOF_SENDGRID_API_URL": fake.url,
        # the shortest lease allowed: 10 s, >= 3 x the provider timeout
        "SLOTPROOF_DELIVERY_LEASE": "10",
        "SLOTPROOF_PROVIDER_TIMEOUT": "3",
    }


async def _start_worker(env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "app.cli", "worker",
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip


async def _until(check, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@asynccontextmanager
async def worker_world(admin_database_url: str, fake: FakeProviders):
    async with scratch_database(admin_database_url) as dsn:
        await migrate(dsn)
        pool = await create_pool(dsn, min_size=1, max_size=3)
        try:
            yield dsn, pool
        finally:
            await pool.close()
            fake.close()


async def _queue_sms(pool: asyncpg.Pool, to: str) -> int:
    account = await make_account(pool)
    async with transaction(pool) as conn:
        return await enqueue(
            conn,
            account_id=account,
            channel="SMS",
            to=to,
            purpose="verification_code",
            params={"practice": "Riverside Family Health", "code": "314159"},
        )


async def test_worker_killed_mid_send_is_resent_once_by_another(admin_database_url):
    """kill -9 while the provider is answering: the row stays leased (SENDING); when the lease
    runs out another worker sends it again. Delivered, with at most one duplicate (the
    documented at-least-once trade-off: the first send may have reached the provider)."""
    fake = SlowProviders(delay=2.0)
    async with worker_world(admin_database_url, fake) as (dsn, pool):
        to = f"+1415555{secrets.randbelow(10**4):04d}"
        notification_id = await _queue_sms(pool, to)
        env = _worker_env(dsn, fake)

        first = await _start_worker(env)
        try:
            await _until(lambda: asyncio.sleep(0, fake.to(to)), 60, "the first send")
            first.kill()  # SIGKILL, mid-send: no cleanup of any kind
            await first.wait()
        finally:
            if first.returncode is None:
                first.kill()
                await first.wait()
        row = await pool.fetchrow("SELECT * FROM notifications WHERE id = $1", notification_id)
        assert (row["status"], row["attempts"]) == ("SENDING", 1)  # leased, not lost

        second = await _start_worker(env)
        try:

            async def sent():
                return await pool.fetchrow(
                    "SELECT * FROM notifications WHERE id = $1 AND status = 'SENT'",
                    notification_id,
                )

            row = await _until(sent, 60, "the resend after the lease ran out")
        finally:
            second.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(second.communicate(), 30)
        assert second.returncode == 0, err.decode()[-3000:]
        requests = fake.to(to)
        assert len(requests) == 2  # the killed send and exactly one resend
        assert requests[1].accepted
        assert row["attempts"] == 2
        assert row["provider_message_id"] == requests[1].answer["json"]["sid"]
        assert "code" not in row["params"]
        assert "314159" not in err.decode() and to not in err.decode()


async def test_worker_sigterm_mid_send_finishes_the_send_and_exits_0(admin_database_url):
    fake = SlowProviders(delay=2.0)
    async with worker_world(admin_database_url, fake) as (dsn, pool):
        to = f"+1415555{secrets.randbelow(10**4):04d}"
        notification_id = await _queue_sms(pool, to)
        proc = await _start_worker(_worker_env(dsn, fake))
        try:
            await _until(lambda: asyncio.sleep(0, fake.to(to)), 60, "the send")
            proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 30)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, err.decode()[-3000:]
        row = await pool.fetchrow("SELECT * FROM notifications WHERE id = $1", notification_id)
        assert (row["status"], row["attempts"]) == ("SENT", 1)
        assert len(fake.to(to)) == 1 and fake.to(to)[0].accepted
