"""Every SQL statement of the analytics calls. Nothing here reads patients, proofs' contacts,
names or dates of birth."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import msgspec

from app.analytics.funnel import FUNNEL_STEPS, GroupAggregate

Conn = asyncpg.Connection | asyncpg.Pool

# group key of an attempt, by `groupBy` (fixed SQL, never from the request)
_GROUP_KEYS = {
    "day": "to_char(a.created_at AT TIME ZONE acc.time_zone, 'YYYY-MM-DD')",
    "setting": "a.setting_id",
    "location": "a.location_id",
    "total": "NULL::bigint",
}
_T = [f"t{i}" for i in range(len(FUNNEL_STEPS))]


def _funnel_sql(group_by: str) -> str:
    key = _GROUP_KEYS[group_by]
    firsts = ",\n".join(
        f"min(s.at) FILTER (WHERE s.step = '{step}') AS {t}"
        for step, t in zip(FUNNEL_STEPS, _T, strict=True)
    )
    reached = ", ".join(f"count({t}) AS r{i}" for i, t in enumerate(_T))
    pct = "percentile_cont(ARRAY[0.5, 0.9]::float8[]) WITHIN GROUP (ORDER BY extract(epoch FROM {a} - {b}))"
    from_previous = ",\n".join(
        pct.format(a=_T[i], b=_T[i - 1]) + f" FILTER (WHERE {_T[i]} >= {_T[i - 1]}) AS p{i}"
        for i in range(1, len(_T))
    )
    booked = _T[-1]
    to_booking = ",\n".join(
        pct.format(a=booked, b=_T[i]) + f" FILTER (WHERE {booked} >= {_T[i]}) AS b{i}"
        for i in range(len(_T) - 1)
    )
    return f"""
WITH per_attempt AS (
    SELECT a.id, {key} AS key,
           {firsts},
           bool_or(s.step = 'ABANDONED') AS abandoned
    FROM self_scheduling_attempts a
    JOIN accounts acc ON acc.id = a.account_id
    LEFT JOIN attempt_steps s ON s.attempt_id = a.id
    WHERE a.account_id = $1 AND a.created_at >= $2 AND a.created_at < $3
      AND ($4::bigint IS NULL OR a.setting_id = $4)
    GROUP BY a.id, 2
)
SELECT key, count(*) AS attempts, count(*) FILTER (WHERE abandoned) AS abandoned,
       {reached},
       {from_previous},
       {to_booking}
FROM per_attempt
GROUP BY key
"""  # noqa: S608 - fixed identifiers and step names only


_FUNNEL_SQL = {group_by: _funnel_sql(group_by) for group_by in _GROUP_KEYS}


def _pair(value: list[float] | None) -> tuple[float, float] | None:
    return None if value is None else (value[0], value[1])


def _aggregate(row: asyncpg.Record) -> GroupAggregate:
    n = len(FUNNEL_STEPS)
    return GroupAggregate(
        key=row["key"],
        attempts=row["attempts"],
        abandoned=row["abandoned"],
        reached=tuple(row[f"r{i}"] for i in range(n)),
        from_previous=(None, *(_pair(row[f"p{i}"]) for i in range(1, n))),
        to_booking=(*(_pair(row[f"b{i}"]) for i in range(n - 1)), None),
    )


async def funnel(
    conn: Conn,
    account_id: int,
    start: datetime,
    end: datetime,
    *,
    group_by: str,
    setting_id: int | None = None,
) -> list[GroupAggregate]:
    """One query: the funnel aggregates of the attempts created in [start, end)."""
    rows = await conn.fetch(_FUNNEL_SQL[group_by], account_id, start, end, setting_id)
    return [_aggregate(r) for r in rows]


async def account_zone(conn: Conn, account_id: int) -> str:
    return await conn.fetchval("SELECT time_zone FROM accounts WHERE id = $1", account_id) or "UTC"


# --- attempt records -------------------------------------------------------------------------


class AttemptRow(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    setting_id: int
    location_id: int | None
    status: str
    source: str
    is_verified: bool
    created_at: datetime
    updated_at: datetime


class StepRow(msgspec.Struct, frozen=True):
    step: str
    at: datetime


async def attempts_page(
    conn: Conn,
    account_id: int,
    *,
    after_id: int,
    limit: int,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    setting_id: int | None = None,
    status: str | None = None,
) -> list[AttemptRow]:
    """Up to `limit` attempts after `after_id` (id order). `is_verified` comes from the
    recorded history (a VERIFIED step, or a setting that verifies nothing), so erasing a
    proof's contacts later does not change it."""
    args: list[Any] = [account_id, after_id]
    where = ["a.account_id = $1", "a.id > $2"]
    for column, op, value in (
        ("a.created_at", ">=", created_from),
        ("a.created_at", "<", created_to),
        ("a.setting_id", "=", setting_id),
        ("a.status", "=", status),
    ):
        if value is not None:
            args.append(value)
            where.append(f"{column} {op} ${len(args)}")
    args.append(limit)
    rows = await conn.fetch(
        f"""
        SELECT a.id, a.setting_id, a.location_id, a.status, a.source, a.created_at, a.updated_at,
               (st.verification_method IS NULL OR EXISTS (
                    SELECT 1 FROM attempt_steps v
                    WHERE v.attempt_id = a.id AND v.step = 'VERIFIED')) AS is_verified
        FROM self_scheduling_attempts a
        JOIN self_scheduling_settings st ON st.id = a.setting_id
        WHERE {" AND ".join(where)}
        ORDER BY a.id
        LIMIT ${len(args)}
        """,  # noqa: S608 - fixed columns; values are bound
        *args,
    )
    return [AttemptRow(**dict(r)) for r in rows]


async def steps_of(conn: Conn, attempt_ids: list[int]) -> dict[int, list[StepRow]]:
    rows = await conn.fetch(
        "SELECT attempt_id, step, at FROM attempt_steps WHERE attempt_id = ANY($1::bigint[])"
        " ORDER BY attempt_id, id",
        attempt_ids,
    )
    out: dict[int, list[StepRow]] = {i: [] for i in attempt_ids}
    for r in rows:
        out[r["attempt_id"]].append(StepRow(r["step"], r["at"]))
    return out


async def setting_name(conn: Conn, account_id: int, setting_id: int) -> str | None:
    return await conn.fetchval(
        "SELECT name FROM self_scheduling_settings WHERE account_id = $1 AND id = $2",
        account_id,
        setting_id,
    )
