"""SQL for partner clients and their account grants."""

from __future__ import annotations

import asyncpg
import msgspec

from app.core.secrets import hash_secret, random_token


async def find_client(conn: asyncpg.Connection | asyncpg.Pool, client_id: str):
    return await conn.fetchrow(
        "SELECT id, client_id, secret_hash, scopes, active FROM partner_clients "
        "WHERE client_id = $1",
        client_id,
    )


class Standing(msgspec.Struct, frozen=True):
    """A client as the database has it now: whether it is active, its scopes, and the accounts
    it holds an active grant on."""

    active: bool
    scopes: frozenset[str]
    accounts: frozenset[int]


async def standings(
    conn: asyncpg.Connection | asyncpg.Pool, client_ids: list[str]
) -> list[Standing | None]:
    """The standing of each client (None: no such client), in one statement: concurrent
    requests share it (app/authentication.py coalesces them)."""
    rows = await conn.fetch(
        """
        SELECT q.i, c.active, c.scopes,
               coalesce(array_agg(g.account_id) FILTER (WHERE g.active), '{}') AS accounts
        FROM unnest($1::text[]) WITH ORDINALITY AS q(client_id, i)
        JOIN partner_clients c ON c.client_id = q.client_id
        LEFT JOIN partner_grants g ON g.client_pk = c.id
        GROUP BY q.i, c.id
        """,
        client_ids,
    )
    found: list[Standing | None] = [None] * len(client_ids)
    for row in rows:
        found[row["i"] - 1] = Standing(
            row["active"], frozenset(row["scopes"]), frozenset(row["accounts"])
        )
    return found


async def create_client(
    conn: asyncpg.Connection,
    name: str,
    scopes: list[str],
    account_ids: list[int],
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
) -> tuple[str, str]:
    """Create a client with grants; returns (client_id, secret). The secret is shown once."""
    client_id = client_id or random_token("cli_", 12)
    secret = client_secret or random_token("sec_", 32)
    pk = await conn.fetchval(
        "INSERT INTO partner_clients (client_id, secret_hash, name, scopes) "
        "VALUES ($1, $2, $3, $4) RETURNING id",
        client_id,
        hash_secret(secret),
        name,
        scopes,
    )
    await conn.executemany(
        "INSERT INTO partner_grants (client_pk, account_id) VALUES ($1, $2)",
        [(pk, account_id) for account_id in account_ids],
    )
    return client_id, secret
