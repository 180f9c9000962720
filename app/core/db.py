"""The asyncpg pool: JSON codecs, fail-fast timeouts, and a transaction helper every store uses.

PostgreSQL away (restarting, failed over, unreachable) must cost a request seconds, not a hang:

* a new connection must be established within `connect_timeout` (asyncpg's default is 60 s);
* `pool.acquire()` (and `pool.fetch*`/`execute`, which acquire) waits at most
  `acquire_timeout` for a connection; either failure is raised as `DatabaseUnavailable`, which
  `app.core.errors` answers as 503 `database_unavailable` with `Retry-After`;
* a connection the server dropped (restart, failover, idle kill) is closed by asyncpg and
  replaced on the next acquire, and a connection that fails its reset on release is terminated,
  so the pool heals by itself once PostgreSQL is back: no restart of the app.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec

_json_encode = msgspec.json.Encoder().encode
_json_decode = msgspec.json.Decoder().decode


async def _init_connection(conn: asyncpg.Connection) -> None:
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename,
            schema="pg_catalog",
            encoder=lambda v: _json_encode(v).decode(),
            decoder=_json_decode,
            format="text",
        )


class DatabaseUnavailable(ConnectionError):
    """No database connection could be had in time (PostgreSQL down, unreachable, or the pool
    exhausted for longer than the acquire timeout). An OSError, so `except OSError` sites that
    already treat connection trouble as transient keep working."""


class LeanConnection(asyncpg.Connection):
    """No reset query when a connection goes back to the pool: asyncpg's default (unlock all
    advisory locks, close cursors, unlisten, reset settings) is one more round trip on every
    release, and this app keeps no session state: its advisory locks are transaction-scoped,
    settings are `SET LOCAL` or per-connection `server_settings`, no LISTEN, no held cursors.
    asyncpg still rolls back a transaction left open (a cancelled request)."""

    def get_reset_query(self) -> str:
        return ""


class ResilientPool(asyncpg.Pool):
    """asyncpg's pool with a default acquire timeout, and connection failures while acquiring
    (refused, reset, timed out) raised as `DatabaseUnavailable`."""

    __slots__ = ("_acquire_timeout",)

    def __init__(self, *args: Any, acquire_timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None):  # type: ignore[override]
        return super().acquire(timeout=self._acquire_timeout if timeout is None else timeout)

    async def _acquire(self, timeout):  # noqa: ASYNC109 - asyncpg's own signature
        try:
            return await super()._acquire(timeout)
        except OSError as exc:  # ConnectionRefusedError, ConnectionResetError, TimeoutError...
            if isinstance(exc, DatabaseUnavailable):
                raise
            raise DatabaseUnavailable(f"no database connection: {type(exc).__name__}") from exc


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    connect_timeout: float = 5.0,
    acquire_timeout: float = 5.0,
) -> asyncpg.Pool:
    pool = ResilientPool(
        dsn,
        acquire_timeout=acquire_timeout,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=300.0,
        setup=None,
        init=_init_connection,
        loop=None,
        connection_class=LeanConnection,
        record_class=asyncpg.Record,
        # connect kwargs
        timeout=connect_timeout,
        command_timeout=30,
        server_settings={"application_name": "slotproof", "timezone": "UTC"},
    )
    return await pool


@asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with pool.acquire() as conn, conn.transaction():
        yield conn
