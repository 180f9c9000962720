"""Generic outbox mechanics shared by every table of "things to deliver" (notifications now,
webhook deliveries later): the retry schedule and the claim of due rows.

A claim marks rows leased (`claimed` status, `attempts + 1`, `next_attempt_at = now + lease`)
in one short transaction with `FOR UPDATE SKIP LOCKED`, so several workers never take the same
row. The worker then talks to the outside world with no transaction open. A worker that dies
after claiming leaves its rows leased; once the lease runs out they are due again and another
worker claims them. So delivery is at least once: a worker killed between the provider
accepting a message and the row being marked sent causes at most one resend per lease expiry.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from datetime import datetime

import asyncpg

_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_STATUS = re.compile(r"^[A-Z_]+$")
_MAX_EXPONENT = 62


def next_delay(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1 = the first try): capped
    exponential backoff with full jitter, uniform in [0, min(cap, base * 2**(attempt-1))]."""
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if base <= 0 or cap <= 0:
        raise ValueError("base and cap must be positive")
    ceiling = min(cap, base * 2.0 ** min(attempt - 1, _MAX_EXPONENT))
    return rng.uniform(0.0, ceiling)


def _claim_sql(table: str, ready: Sequence[str], claimed: str) -> str:
    # identifiers and statuses come from code; checked anyway because they are inlined (the
    # literal status list lets PostgreSQL use a partial index on exactly those statuses)
    if not _IDENTIFIER.fullmatch(table):
        raise ValueError(f"not a table name: {table!r}")
    statuses = (*ready, claimed)
    if not all(_STATUS.fullmatch(s) for s in statuses):
        raise ValueError("statuses must be upper-case words")
    listed = ", ".join(f"'{s}'" for s in dict.fromkeys(statuses))
    return f"""
        WITH due AS (
            SELECT id FROM {table}
            WHERE status IN ({listed}) AND next_attempt_at <= coalesce($1, now())
            ORDER BY next_attempt_at, id
            LIMIT $2
            FOR UPDATE SKIP LOCKED
        )
        UPDATE {table} AS t
        SET status = '{claimed}',
            attempts = t.attempts + 1,
            next_attempt_at = coalesce($1, now()) + make_interval(secs => $3),
            updated_at = now()
        FROM due
        WHERE t.id = due.id
        RETURNING t.*
    """  # noqa: S608 - fixed identifiers, checked above


async def claim_due(
    conn: asyncpg.Connection,
    table: str,
    *,
    limit: int,
    lease_seconds: float,
    now: datetime | None = None,
    ready: Sequence[str] = ("QUEUED",),
    claimed: str = "SENDING",
) -> list[asyncpg.Record]:
    """Lease up to `limit` due rows of `table` and return them (already updated).

    Due: status in `ready` (waiting) or `claimed` (a lease that ran out), and
    `next_attempt_at <= now`. `now` defaults to the database clock. Run it in its own short
    transaction so the lease is visible to other workers as soon as it returns.
    """
    if limit < 1:
        return []
    rows = await conn.fetch(_claim_sql(table, ready, claimed), now, limit, float(lease_seconds))
    return sorted(rows, key=lambda r: r["id"])
