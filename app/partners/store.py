"""SQL for partner clients and their account grants."""

from __future__ import annotations

import hmac

import asyncpg
import msgspec

from app.core.secrets import hash_secret, keyed_hash, random_token


async def find_client(conn: asyncpg.Connection | asyncpg.Pool, client_id: str):
    return await conn.fetchrow(
        "SELECT id, client_id, secret_hash, scopes, active, api_key_hash FROM partner_clients "
        "WHERE client_id = $1",
        client_id,
    )


class Standing(msgspec.Struct, frozen=True):
    """A client as the database has it now: whether it is active, its scopes, and the accounts
    it holds an active grant on."""

    active: bool
    scopes: frozenset[str]
    accounts: frozenset[int]
    api_key_hash: str | None = None  # checked only with SLOTPROOF_REQUIRE_API_KEY


def standings_sql(param: int) -> str:
    """A scalar subquery: the standings of the client ids in `$param` (text[]) as JSON text, rows
    `[index, active, scopes, api_key_hash, accounts]` (index 1-based; NULL when none is found).
    A separate fragment so one statement may carry it with other reads (app/authentication.py)."""
    return f"""(
        SELECT json_agg(json_build_array(q.i, c.active, c.scopes, c.api_key_hash, coalesce(
                   (SELECT array_agg(g.account_id) FROM partner_grants g
                     WHERE g.client_pk = c.id AND g.active), '{{}}')))::text
          FROM unnest(${param}::text[]) WITH ORDINALITY AS q(client_id, i)
          JOIN partner_clients c ON c.client_id = q.client_id)"""  # noqa: S608 - parameter numbers only


_StandingRow = tuple[int, bool, frozenset[str], str | None, frozenset[int]]
_standing_rows = msgspec.json.Decoder(list[_StandingRow])


def decode_standings(raw: str | None, count: int) -> list[Standing | None]:
    """`standings_sql`'s value -> one standing per asked client id, None for an unknown one."""
    found: list[Standing | None] = [None] * count
    for i, active, scopes, api_key_hash, accounts in _standing_rows.decode(raw or "[]"):
        found[i - 1] = Standing(active, scopes, accounts, api_key_hash)
    return found


async def standings(
    conn: asyncpg.Connection | asyncpg.Pool, client_ids: list[str]
) -> list[Standing | None]:
    """The standing of each client (None: no such client), in one statement: concurrent
    requests share it (app/authentication.py coalesces them)."""
    raw = await conn.fetchval(f"SELECT {standings_sql(1)}", client_ids)
    return decode_standings(raw, len(client_ids))


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


def api_key_hash(secret_key: str, api_key: str) -> str:
    return keyed_hash(secret_key, "partner-api-key", api_key)


def api_key_matches(secret_key: str, stored_hash: str | None, sent: str) -> bool:
    """Whether the `x-api-key` sent is the client's (constant time; no key stored: never)."""
    if not stored_hash or not sent:
        return False
    return hmac.compare_digest(stored_hash, api_key_hash(secret_key, sent))


async def new_api_key(conn: asyncpg.Connection, secret_key: str, client_id: str) -> str:
    """A new `x-api-key` for the client (replacing any previous one); shown once."""
    api_key = random_token("key_", 24)
    await conn.execute(
        "UPDATE partner_clients SET api_key_hash = $2 WHERE client_id = $1",
        client_id,
        api_key_hash(secret_key, api_key),
    )
    return api_key
