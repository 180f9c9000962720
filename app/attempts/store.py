"""Every SQL statement of self-scheduling attempts and their steps."""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from app.attempts.machine import State, Step
from app.core.errors import not_found

Conn = asyncpg.Connection | asyncpg.Pool


class Attempt(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    account_id: int
    setting_id: int
    identity_proof_id: int | None
    patient_id: int | None
    appointment_id: int | None
    location_id: int | None
    status: State
    source: str
    locale: str
    created_at: datetime
    updated_at: datetime
    last_activity_at: datetime


class StepRecord(msgspec.Struct, frozen=True):
    step: Step
    at: datetime


_COLUMNS = (
    "id, account_id, setting_id, identity_proof_id, patient_id, appointment_id, location_id,"
    " status, source, locale, created_at, updated_at, last_activity_at"
)


def _attempt(row: asyncpg.Record) -> Attempt:
    values = {k: row[k] for k in Attempt.__struct_fields__}
    values["status"] = State(values["status"])
    return Attempt(**values)


async def create(
    conn: asyncpg.Connection,
    account_id: int,
    setting_id: int,
    *,
    now: datetime,
    source: str = "PARTNER",
    token_hash: str | None = None,
    locale: str = "en",
) -> Attempt:
    row = await conn.fetchrow(
        f"INSERT INTO self_scheduling_attempts (account_id, setting_id, status, source,"  # noqa: S608
        f" token_hash, locale, created_at, updated_at, last_activity_at)"
        f" VALUES ($1, $2, 'STARTED', $3, $4, $6, $5, $5, $5) RETURNING {_COLUMNS}",
        account_id,
        setting_id,
        source,
        token_hash,
        now,
        locale,
    )
    await add_step(conn, row["id"], account_id, Step.STARTED, now)
    return _attempt(row)


async def get(conn: Conn, account_id: int, attempt_id: int, *, for_update: bool = False) -> Attempt:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM self_scheduling_attempts"  # noqa: S608
        f" WHERE account_id = $1 AND id = $2{lock}",
        account_id,
        attempt_id,
    )
    if row is None:
        raise not_found("attempt")
    return _attempt(row)


async def by_token_hash(conn: Conn, token_hash: str, *, for_update: bool = False) -> Attempt | None:
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM self_scheduling_attempts WHERE token_hash = $1{lock}",  # noqa: S608
        token_hash,
    )
    return None if row is None else _attempt(row)


async def by_proof(conn: asyncpg.Connection, proof_id: int) -> Attempt | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM self_scheduling_attempts"  # noqa: S608
        " WHERE identity_proof_id = $1 FOR UPDATE",
        proof_id,
    )
    return None if row is None else _attempt(row)


async def update(conn: asyncpg.Connection, attempt: Attempt, now: datetime, **values) -> Attempt:
    """Set columns (status, patient_id, identity_proof_id, ...) and touch the activity time."""
    columns = list(values)
    sets = ", ".join(f"{c} = ${i}" for i, c in enumerate(columns, start=3))
    sets = f"{sets}, " if sets else ""
    row = await conn.fetchrow(
        f"UPDATE self_scheduling_attempts SET {sets}updated_at = $2, last_activity_at = $2"  # noqa: S608
        f" WHERE id = $1 RETURNING {_COLUMNS}",
        attempt.id,
        now,
        *[str(v) if isinstance(v, State) else v for v in values.values()],
    )
    return _attempt(row)


async def add_step(
    conn: asyncpg.Connection, attempt_id: int, account_id: int, step: Step, at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO attempt_steps (attempt_id, account_id, step, at) VALUES ($1, $2, $3, $4)",
        attempt_id,
        account_id,
        step.value,
        at,
    )


async def steps(conn: Conn, attempt_ids: list[int]) -> dict[int, list[StepRecord]]:
    rows = await conn.fetch(
        "SELECT attempt_id, step, at FROM attempt_steps WHERE attempt_id = ANY($1::bigint[])"
        " ORDER BY attempt_id, id",
        attempt_ids,
    )
    out: dict[int, list[StepRecord]] = {i: [] for i in attempt_ids}
    for r in rows:
        out[r["attempt_id"]].append(StepRecord(Step(r["step"]), r["at"]))
    return out


async def proof_bound_elsewhere(conn: asyncpg.Connection, proof_id: int, attempt_id: int) -> bool:
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM self_scheduling_attempts"
        " WHERE identity_proof_id = $1 AND id <> $2)",
        proof_id,
        attempt_id,
    )


async def idle_since(conn: asyncpg.Connection, cutoff: datetime, limit: int) -> list[Attempt]:
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM self_scheduling_attempts"  # noqa: S608
        " WHERE status NOT IN ('BOOKED', 'ABANDONED') AND last_activity_at < $1"
        " ORDER BY last_activity_at LIMIT $2 FOR UPDATE SKIP LOCKED",
        cutoff,
        limit,
    )
    return [_attempt(r) for r in rows]


async def has_step(conn: Conn, attempt_id: int, step: Step) -> bool:
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM attempt_steps WHERE attempt_id = $1 AND step = $2)",
        attempt_id,
        step.value,
    )
