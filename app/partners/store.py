"""SQL for partner clients and their account grants."""

from __future__ import annotations

import asyncpg

from app.core.secrets import hash_secret, random_token


async def find_client(conn: asyncpg.Connection | asyncpg.Pool, client_id: str):
    return await conn.fetchrow(
        "SELECT id, client_id, secret_hash, scopes, active FROM partner_clients "
        "WHERE client_id = $1",
        client_id,
    )


async def client_access(pool: asyncpg.Pool, client_id: str, account_id: int) -> tuple[bool, bool]:
    """(client exists and is active, client holds an active grant on the account)."""
    if not 1 <= account_id <= 2**63 - 1:  # no such bigint id, so no grant on it
        account_id = 0
    row = await pool.fetchrow(
        """
        SELECT c.active AS client_active, coalesce(g.active, false) AS granted
        FROM partner_clients c
        LEFT JOIN partner_grants g ON g.client_pk = c.id AND g.account_id = $2
        WHERE c.client_id = $1
        """,
        client_id,
        account_id,
    )
    if row is None:
        return False, False
    return row["client_active"], row["client_active"] and row["granted"]


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
