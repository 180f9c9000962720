"""/healthz (process up) and /readyz (database reachable, migrations current)."""

from __future__ import annotations

import asyncio

import asyncpg
import msgspec
from litestar import get

from app.core.errors import Problem
from app.core.http import DbPool
from app.core.migrate import is_current
from app.core.openapi import problem_responses


class Health(msgspec.Struct):
    status: str


@get("/healthz", tags=["operations"], summary="The process is up")
async def healthz() -> Health:
    return Health("ok")


@get(
    "/readyz",
    tags=["operations"],
    responses=problem_responses(503),
    summary="Database reachable and migrations current",
)
async def readyz(pool: DbPool) -> Health:
    try:
        async with asyncio.timeout(2), pool.acquire() as conn:
            current = await is_current(conn)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        raise Problem(503, "database_unavailable", "The database cannot be reached.") from None
    if not current:
        raise Problem(503, "migrations_pending", "Database migrations are not current.")
    return Health("ready")
