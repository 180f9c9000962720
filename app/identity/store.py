"""Every SQL statement of identity proofs, codes and failures (asyncpg).

Times are passed in (`now`) rather than taken from PostgreSQL's now(), so one injectable clock
(`clock()` below; tests replace it) governs expiry, rate limits and lockouts alike. Every
proof query filters on account_id: another account's proof reads as absent (404).
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from app.core import clock as core_clock
from app.core.errors import not_found
from app.identity import policy
from app.identity.policy import Channel, Method


def clock() -> datetime:
    """The identity clock (aware UTC): the app clock. Tests monkeypatch either to move time."""
    return core_clock.now()


class Proof(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    account_id: int
    verification_method: Method
    verified_email: str | None
    verified_phone: str | None
    failed_attempts: int
    created_at: datetime
    expires_at: datetime

    @property
    def missing_verifications(self) -> list[str]:
        return policy.missing_verifications(
            self.verification_method,
            email_verified=self.verified_email is not None,
            phone_verified=self.verified_phone is not None,
        )

    @property
    def is_verified(self) -> bool:
        return not self.missing_verifications

    def expired(self, now: datetime) -> bool:
        return policy.is_expired(self.expires_at, now)


_PROOF_COLUMNS = (
    "id, account_id, verification_method, verified_email, verified_phone, failed_attempts, "
    "created_at, expires_at"
)


def _proof(row: asyncpg.Record) -> Proof:
    return Proof(
        id=row["id"],
        account_id=row["account_id"],
        verification_method=Method(row["verification_method"]),
        verified_email=row["verified_email"],
        verified_phone=row["verified_phone"],
        failed_attempts=row["failed_attempts"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )


# --- proofs ----------------------------------------------------------------------------------


async def create_proof(
    conn: asyncpg.Connection | asyncpg.Pool,
    account_id: int,
    method: Method,
    token_hash: str,
    now: datetime,
) -> Proof:
    row = await conn.fetchrow(
        f"INSERT INTO identity_proofs (account_id, verification_method, token_hash, "  # noqa: S608
        f"created_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING {_PROOF_COLUMNS}",
        account_id,
        method.value,
        token_hash,
        now,
        policy.proof_expiry(now),
    )
    return _proof(row)


async def get_proof(
    conn: asyncpg.Connection | asyncpg.Pool,
    account_id: int,
    proof_id: int,
    *,
    for_update: bool = False,
) -> Proof:
    """The proof, or 404 when absent or another account's. `for_update` locks the row until
    the transaction ends: sends and verifies of one proof run one after another."""
    lock = " FOR UPDATE" if for_update else ""
    row = await conn.fetchrow(
        f"SELECT {_PROOF_COLUMNS} FROM identity_proofs "  # noqa: S608 - fixed identifiers
        f"WHERE account_id = $1 AND id = $2{lock}",
        account_id,
        proof_id,
    )
    if row is None:
        raise not_found("identity proof")
    return _proof(row)


async def proof_by_token(
    conn: asyncpg.Connection | asyncpg.Pool,
    account_id: int,
    token: str,
    *,
    secret_key: str,
    now: datetime | None = None,
) -> Proof | None:
    """The unexpired proof of this account whose token this is (the widget's
    `X-Identity-Token`), else None. Only the token's HMAC is stored, hence `secret_key`."""
    row = await conn.fetchrow(
        f"SELECT {_PROOF_COLUMNS} FROM identity_proofs "  # noqa: S608 - fixed identifiers
        "WHERE token_hash = $1 AND account_id = $2 AND expires_at > $3",
        policy.token_digest(secret_key, token),
        account_id,
        now or clock(),
    )
    return None if row is None else _proof(row)


async def account_name(conn: asyncpg.Connection | asyncpg.Pool, account_id: int) -> str:
    return await conn.fetchval("SELECT name FROM accounts WHERE id = $1", account_id)


async def mark_verified(
    conn: asyncpg.Connection, proof: Proof, channel: Channel, contact: str
) -> Proof:
    column = "verified_email" if channel is Channel.EMAIL else "verified_phone"
    row = await conn.fetchrow(
        f"UPDATE identity_proofs SET {column} = $3 "  # noqa: S608 - column chosen above
        f"WHERE account_id = $1 AND id = $2 RETURNING {_PROOF_COLUMNS}",
        proof.account_id,
        proof.id,
        contact,
    )
    return _proof(row)


# --- per-contact serialisation ---------------------------------------------------------------


async def lock_contact(conn: asyncpg.Connection, contact_hash: str) -> None:
    """Transaction-scoped advisory lock on one contact: concurrent sends or verifies for the
    same contact (even through different proofs or accounts) count their limits one at a time.
    Always taken after the proof's row lock, so the lock order is fixed."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('slotproof.identity-contact:' || $1, 0))",
        contact_hash,
    )


# --- codes (and the send log) ----------------------------------------------------------------


async def sends_since(
    conn: asyncpg.Connection, contact_hash: str, since: datetime
) -> list[datetime]:
    rows = await conn.fetch(
        "SELECT created_at FROM identity_codes WHERE contact_hash = $1 AND created_at > $2",
        contact_hash,
        since,
    )
    return [r["created_at"] for r in rows]


async def invalidate_live_codes(
    conn: asyncpg.Connection, proof_id: int, channel: Channel, now: datetime
) -> None:
    await conn.execute(
        "UPDATE identity_codes SET invalidated_at = $3 "
        "WHERE proof_id = $1 AND channel = $2 AND consumed_at IS NULL AND invalidated_at IS NULL",
        proof_id,
        channel.value,
        now,
    )


async def insert_code(
    conn: asyncpg.Connection,
    *,
    proof_id: int,
    channel: Channel,
    contact_hash: str,
    code_hash: str,
    now: datetime,
    expires_at: datetime,
    prefix_hash: str | None = None,
    client_hash: str | None = None,
) -> int:
    return await conn.fetchval(
        "INSERT INTO identity_codes (proof_id, channel, contact_hash, code_hash, created_at, "
        "expires_at, prefix_hash, client_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " RETURNING id",
        proof_id,
        channel.value,
        contact_hash,
        code_hash,
        now,
        expires_at,
        prefix_hash,
        client_hash,
    )


async def code_sent(conn: asyncpg.Connection, proof_id: int) -> bool:
    """Has this proof ever had a code sent (to any contact, on any channel)?"""
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM identity_codes WHERE proof_id = $1)", proof_id
    )


async def setting_sms_budget(conn: asyncpg.Connection, proof_id: int) -> tuple[int, int] | None:
    """(setting id, its SMS budget per day) of the attempt this proof is bound to, if any."""
    row = await conn.fetchrow(
        "SELECT s.id, s.sms_budget_per_day FROM self_scheduling_attempts a"
        " JOIN self_scheduling_settings s ON s.id = a.setting_id"
        " WHERE a.identity_proof_id = $1",
        proof_id,
    )
    return (row["id"], row["sms_budget_per_day"]) if row else None


async def live_code(
    conn: asyncpg.Connection, proof_id: int, channel: Channel, contact_hash: str, now: datetime
) -> asyncpg.Record | None:
    """The newest unconsumed, unsuperseded, unexpired code for this proof, channel and contact
    (there is at most one: a send supersedes older ones)."""
    return await conn.fetchrow(
        "SELECT id, code_hash, created_at FROM identity_codes "
        "WHERE proof_id = $1 AND channel = $2 AND contact_hash = $3 AND consumed_at IS NULL "
        "AND invalidated_at IS NULL AND expires_at > $4 ORDER BY id DESC LIMIT 1",
        proof_id,
        channel.value,
        contact_hash,
        now,
    )


async def consume_code(conn: asyncpg.Connection, code_id: int, now: datetime) -> bool:
    """Single use, decided by PostgreSQL: of concurrent consumers exactly one gets the row."""
    consumed = await conn.fetchval(
        "UPDATE identity_codes SET consumed_at = $2 "
        "WHERE id = $1 AND consumed_at IS NULL AND invalidated_at IS NULL AND expires_at > $2 "
        "RETURNING id",
        code_id,
        now,
    )
    return consumed is not None


# --- failures --------------------------------------------------------------------------------


async def failures_since(
    conn: asyncpg.Connection, account_id: int, contact_hash: str, since: datetime
) -> list[datetime]:
    """Times of the wrong codes counted against this contact in this account after `since`."""
    rows = await conn.fetch(
        "SELECT at FROM identity_failures WHERE account_id = $1 AND contact_hash = $2 AND at > $3",
        account_id,
        contact_hash,
        since,
    )
    return [r["at"] for r in rows]


async def last_verified(
    conn: asyncpg.Connection, account_id: int, contact_hash: str
) -> datetime | None:
    """When a right code for this contact was last used in this account (it lifts a lockout)."""
    return await conn.fetchval(
        "SELECT max(c.consumed_at) FROM identity_codes c"
        " JOIN identity_proofs p ON p.id = c.proof_id"
        " WHERE c.contact_hash = $1 AND p.account_id = $2",
        contact_hash,
        account_id,
    )


async def code_sent_to(conn: asyncpg.Connection, proof_id: int, contact_hash: str) -> bool:
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM identity_codes WHERE proof_id = $1 AND contact_hash = $2)",
        proof_id,
        contact_hash,
    )


async def failed_since(
    conn: asyncpg.Connection, proof_id: int, contact_hash: str, since: datetime
) -> bool:
    """Was a wrong code for this contact tried on this proof at or after `since`?"""
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM identity_failures"
        " WHERE proof_id = $1 AND contact_hash = $2 AND at >= $3)",
        proof_id,
        contact_hash,
        since,
    )


async def record_failure(
    conn: asyncpg.Connection,
    proof: Proof,
    contact_hash: str,
    now: datetime,
    *,
    against_contact: bool,
) -> int:
    """Count one unsuccessful verify against the proof and, when `against_contact`, against
    the contact in the proof's account; returns the proof's new failure count (the increment
    is a single UPDATE on the locked row)."""
    if against_contact:
        await conn.execute(
            "INSERT INTO identity_failures (contact_hash, proof_id, account_id, at)"
            " VALUES ($1, $2, $3, $4)",
            contact_hash,
            proof.id,
            proof.account_id,
            now,
        )
    return await conn.fetchval(
        "UPDATE identity_proofs SET failed_attempts = failed_attempts + 1 "
        "WHERE account_id = $1 AND id = $2 RETURNING failed_attempts",
        proof.account_id,
        proof.id,
    )


# --- patients --------------------------------------------------------------------------------


async def matching_patients(
    conn: asyncpg.Connection | asyncpg.Pool,
    account_id: int,
    *,
    email: str | None,
    phone: str | None,
    limit: int = 2,
) -> list[int]:
    """Ids of patients of the account with every given contact (email case-insensitive,
    mobile phone as E.164), never one created from unverified contacts; at most `limit`,
    enough to tell none / one / several."""
    where, args = ["account_id = $1", "contacts_verified"], [account_id]
    if email is not None:
        args.append(email)
        where.append(f"lower(email) = lower(${len(args)})")
    if phone is not None:
        args.append(phone)
        where.append(f"mobile_phone = ${len(args)}")
    if len(args) == 1:
        raise ValueError("matching needs at least one verified contact")
    args.append(limit)
    rows = await conn.fetch(
        f"SELECT id FROM patients WHERE {' AND '.join(where)} "  # noqa: S608 - fixed fragments
        f"ORDER BY id LIMIT ${len(args)}",
        *args,
    )
    return [r["id"] for r in rows]
