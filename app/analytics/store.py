"""Every SQL statement of the analytics calls. Nothing here reads patients, proofs' contacts,
names or dates of birth."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import asyncpg
import msgspec

from app.analytics.funnel import FUNNEL_STEPS, GroupAggregate

Conn = asyncpg.Connection | asyncpg.Pool

# group key of an attempt, by `groupBy` (fixed SQL, never from the request). Days are bucketed
# by the account's local midnights, computed by the caller ($5): a binary search per row instead
# of a time zone conversion per row.
_GROUP_KEYS = {
    "day": "width_bucket(f.created_at, $5::timestamptz[])",
    "setting": "f.setting_id",
    "location": "f.location_id",
    "total": "NULL::bigint",
}
_REACHED = [
    "started_at",
    "availability_viewed_at",
    "slot_selected_at",
    "code_sent_at",
    "verified_at",
    "patient_set_at",
    "booked_at",
]
_FROM_PREVIOUS = [
    None,
    "wait_availability_viewed",
    "wait_slot_selected",
    "wait_code_sent",
    "wait_verified",
    "wait_patient_set",
    "wait_booked",
]
_TO_BOOKING = [
    "booking_from_started",
    "booking_from_availability_viewed",
    "booking_from_slot_selected",
    "booking_from_code_sent",
    "booking_from_verified",
    "booking_from_patient_set",
    None,
]
assert len(_REACHED) == len(_FROM_PREVIOUS) == len(_TO_BOOKING) == len(FUNNEL_STEPS)
_PCT = "percentile_cont(ARRAY[0.5, 0.9]::float8[]) WITHIN GROUP (ORDER BY f.{column}) AS {alias}"


def _funnel_sql(group_by: str) -> str:
    """Per group: attempts, abandoned, reached per step (r0..r6: the attempts that recorded
    that step or any later one), [median, p90] seconds from the
    previous step (p1..p6) and to booking (b0..b5), over attempt_funnel (one row per attempt,
    kept by triggers; the seconds are its generated columns)."""
    columns = [
        f"{_GROUP_KEYS[group_by]} AS key",
        "count(*) AS attempts",
        "count(f.abandoned_at) AS abandoned",
        # monotone by construction: an attempt that reached a step reached every earlier one
        # (a proof verified before its attempt existed counts as CODE_SENT and VERIFIED)
        *(
            f"count(coalesce({', '.join(f'f.{c}' for c in _REACHED[i:])})) AS r{i}"
            for i in range(len(_REACHED))
        ),
        *(_PCT.format(column=c, alias=f"p{i}") for i, c in enumerate(_FROM_PREVIOUS) if c),
        *(_PCT.format(column=c, alias=f"b{i}") for i, c in enumerate(_TO_BOOKING) if c),
    ]
    select = ",\n       ".join(columns)
    return f"""
SELECT {select}
FROM attempt_funnel f
WHERE f.account_id = $1 AND f.created_at >= $2 AND f.created_at < $3
  AND ($4::bigint IS NULL OR f.setting_id = $4)
GROUP BY 1
"""  # noqa: S608 - fixed identifiers only


FUNNEL_WORK_MEM = "64MB"
_FUNNEL_SQL = {group_by: _funnel_sql(group_by) for group_by in _GROUP_KEYS}


def _pair(value: list[float] | None) -> tuple[float, float] | None:
    return None if value is None else (value[0], value[1])


def _aggregate(row: asyncpg.Record, key: str | int | None) -> GroupAggregate:
    n = len(FUNNEL_STEPS)
    return GroupAggregate(
        key=key,
        attempts=row["attempts"],
        abandoned=row["abandoned"],
        reached=tuple(row[f"r{i}"] for i in range(n)),
        from_previous=(None, *(_pair(row[f"p{i}"]) for i in range(1, n))),
        to_booking=(*(_pair(row[f"b{i}"]) for i in range(n - 1)), None),
    )


async def funnel(
    pool: asyncpg.Pool,
    account_id: int,
    start: datetime,
    end: datetime,
    *,
    group_by: str,
    setting_id: int | None = None,
    days: Sequence[date] = (),
    midnights: Sequence[datetime] = (),
) -> list[GroupAggregate]:
    """One query: the funnel aggregates of the attempts created in [start, end). Grouped by
    day, `days[i]` is the local date that starts at `midnights[i - 1]` (days[0] before
    midnights[0]); the caller computes both in the account's zone."""
    args: list[Any] = [account_id, start, end, setting_id]
    if group_by == "day":
        if len(days) != len(midnights) + 1:
            raise ValueError("days must be one longer than midnights")
        args.append(list(midnights))
    async with pool.acquire() as conn, conn.transaction():
        # the ordered-set aggregates sort the range's rows by group: keep that sort in memory
        await conn.execute(f"SET LOCAL work_mem = '{FUNNEL_WORK_MEM}'")
        rows = await conn.fetch(_FUNNEL_SQL[group_by], *args)
    out = []
    for row in rows:
        key = row["key"]
        if group_by == "day":
            key = days[key].isoformat()
        out.append(_aggregate(row, key))
    return out


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
