"""Claims that die with their claimer: PostgreSQL session-level advisory locks, all held on one
dedicated connection per process.

A process killed mid-request (SIGKILL, OOM, a lost host) closes that connection, and PostgreSQL
releases every lock the session held at once; a process that exits normally releases its locks
as its requests finish. So "is anybody still working on this?" is answered by the database, not
by a lease that must guess how long work may take.

The locks are taken with `pg_try_advisory_lock` (never waiting) and are re-entrant within a
session, so this process's own claims are also remembered here: a second request of this process
for a key the first still holds is refused without asking PostgreSQL.

If the dedicated connection breaks (PostgreSQL restarted or failed over), the locks are gone with
it: claims then in flight can be taken over by a retry elsewhere (the database's constraints
still refuse a double booking). The next claim reconnects.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging

import asyncpg

log = logging.getLogger("slotproof.claims")


def lock_key(*parts: str) -> int:
    """A signed 64-bit advisory lock key for a claim (a hash of its parts)."""
    digest = hashlib.sha256("\x00".join(("slotproof:claim", *parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class ClaimLocks:
    def __init__(self, dsn: str, connect_timeout: float) -> None:
        self.dsn = dsn
        self.connect_timeout = connect_timeout
        self._conn: asyncpg.Connection | None = None
        self._serial = asyncio.Lock()  # one connection: one statement at a time
        self._held: set[int] = set()

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.dsn, timeout=self.connect_timeout)
        return self._conn

    async def try_claim(self, key: int) -> bool:
        """True when this caller now holds `key`; False when a live claimer holds it."""
        if key in self._held:
            return False
        self._held.add(key)  # before any await: a concurrent twin of this process loses
        try:
            async with self._serial:
                conn = await self._connection()
                won = await conn.fetchval("SELECT pg_try_advisory_lock($1)", key)
        except BaseException:
            self._held.discard(key)
            raise
        if not won:
            self._held.discard(key)
        return bool(won)

    async def release(self, key: int) -> None:
        self._held.discard(key)
        try:
            async with self._serial:
                if self._conn is not None and not self._conn.is_closed():
                    await self._conn.execute("SELECT pg_advisory_unlock($1)", key)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            # the connection is gone, and the lock with it
            log.warning("could not release a claim lock: %s", type(exc).__name__)

    async def aclose(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None
