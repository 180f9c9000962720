"""Every SQL statement of the audit trail. audit_log is append-only: a trigger refuses UPDATE,
DELETE and TRUNCATE (migrations/0010_audit_and_retention.sql)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg
import msgspec

Conn = asyncpg.Connection | asyncpg.Pool


class Entry(msgspec.Struct, frozen=True, kw_only=True):
    actor: str
    action: str
    resource_type: str
    resource_id: str | None
    account_id: int | None
    request_id: str | None
    client_request_id: str | None
    outcome: str


async def insert(conn: Conn, entry: Entry, at: datetime) -> None:
    await conn.execute(
        "INSERT INTO audit_log (at, actor, action, resource_type, resource_id, account_id,"
        " request_id, client_request_id, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        at,
        entry.actor,
        entry.action,
        entry.resource_type,
        entry.resource_id,
        entry.account_id,
        entry.request_id,
        entry.client_request_id,
        entry.outcome,
    )


async def list_page(
    conn: Conn,
    account_id: int,
    *,
    after_id: int,
    limit: int,
    start: datetime | None = None,
    end: datetime | None = None,
    **equal: Any,
) -> list[asyncpg.Record]:
    """Up to `limit` rows after `after_id` in id order; `equal` filters on columns (fixed
    names from the handler: resource_type, resource_id, actor, action, outcome)."""
    args: list[Any] = [account_id, after_id]
    where = ["account_id = $1", "id > $2"]
    for column, op, value in (("at", ">=", start), ("at", "<", end)):
        if value is not None:
            args.append(value)
            where.append(f"{column} {op} ${len(args)}")
    for column, value in equal.items():
        if column not in ("resource_type", "resource_id", "actor", "action", "outcome"):
            raise ValueError(f"cannot filter audit_log on {column}")
        if value is not None:
            args.append(value)
            where.append(f"{column} = ${len(args)}")
    args.append(limit)
    return await conn.fetch(
        f"SELECT * FROM audit_log WHERE {' AND '.join(where)} ORDER BY id LIMIT ${len(args)}",  # noqa: S608
        *args,
    )
