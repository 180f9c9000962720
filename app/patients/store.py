"""SQL for patients."""

from __future__ import annotations

from datetime import date

import asyncpg

from app.core.crud import Row
from app.core.errors import not_found


async def candidates(
    conn: asyncpg.Connection,
    account_id: int,
    dob: date,
    *,
    email: str | None,
    phone: str | None,
) -> list[Row]:
    """Patients of the account with this date of birth holding any of the contacts (never
    one created from unverified contacts)."""
    return await conn.fetch(
        """
        SELECT * FROM patients
         WHERE account_id = $1 AND date_of_birth = $2 AND contacts_verified
           AND (($3::text IS NOT NULL AND lower(email) = lower($3))
             OR ($4::text IS NOT NULL AND mobile_phone = $4))
         ORDER BY id
        """,
        account_id,
        dob,
        email,
        phone,
    )


async def insert(
    conn: asyncpg.Connection,
    account_id: int,
    *,
    first_name: str,
    last_name: str,
    dob: date,
    email: str | None,
    phone: str | None,
    contacts_verified: bool = True,
) -> Row:
    return await conn.fetchrow(
        "INSERT INTO patients (account_id, first_name, last_name, date_of_birth, email,"
        " mobile_phone, contacts_verified) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *",
        account_id,
        first_name,
        last_name,
        dob,
        email,
        phone,
        contacts_verified,
    )


async def fill_missing_contacts(
    conn: asyncpg.Connection, patient_id: int, email: str | None, phone: str | None
) -> Row:
    """A verified contact the record lacks is added; an existing one is never overwritten."""
    return await conn.fetchrow(
        "UPDATE patients SET email = coalesce(email, $2),"
        " mobile_phone = coalesce(mobile_phone, $3), updated_at = now()"
        " WHERE id = $1 RETURNING *",
        patient_id,
        email,
        phone,
    )


async def set_locale(conn: asyncpg.Connection, patient_id: int, locale: str) -> None:
    """The language of the patient's latest widget booking: their messages use it."""
    await conn.execute("UPDATE patients SET locale = $2 WHERE id = $1", patient_id, locale)


# --- the partner patient API (POST/GET/PUT /patients)


async def lock_birth_date(conn: asyncpg.Connection, account_id: int, dob: date) -> None:
    """Serialise creating or changing an account's patients born that day, so two concurrent
    calls cannot both pass the duplicate check."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended("
        "'slotproof:patient:' || $1::bigint::text || ':' || $2::date::text, 0))",
        account_id,
        dob,
    )


async def duplicate_of(
    conn: asyncpg.Connection,
    account_id: int,
    dob: date,
    *,
    email: str | None,
    phone: str | None,
    except_id: int | None = None,
) -> int | None:
    """The id of another patient with this date of birth holding the email or the phone."""
    return await conn.fetchval(
        """
        SELECT id FROM patients
         WHERE account_id = $1 AND date_of_birth = $2 AND id IS DISTINCT FROM $5
           AND (($3::text IS NOT NULL AND lower(email) = lower($3))
             OR ($4::text IS NOT NULL AND mobile_phone = $4))
         ORDER BY id LIMIT 1
        """,
        account_id,
        dob,
        email,
        phone,
        except_id,
    )


_COLUMNS = ("first_name", "last_name", "date_of_birth", "email", "mobile_phone", "gender",
            "external_id")  # fmt: skip


async def create(conn: asyncpg.Connection, account_id: int, values: dict[str, object]) -> Row:
    return await conn.fetchrow(
        "INSERT INTO patients (account_id, first_name, last_name, date_of_birth, email,"
        " mobile_phone, gender, external_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        " RETURNING *",
        account_id,
        *(values.get(column) for column in _COLUMNS),
    )


_GET = "SELECT * FROM patients WHERE account_id = $1 AND id = $2"
_GET_FOR_UPDATE = _GET + " FOR UPDATE"


async def get(
    conn: asyncpg.Connection | asyncpg.Pool, account_id: int, patient_id: int, *, lock: bool = False
) -> Row:
    row = await conn.fetchrow(
        _GET_FOR_UPDATE if lock else _GET,
        account_id,
        patient_id,
    )
    if row is None:
        raise not_found("patient")
    return row


async def update(conn: asyncpg.Connection, patient_id: int, values: dict[str, object]) -> Row:
    sets = ", ".join(f"{column} = ${i}" for i, column in enumerate(values, start=2))
    assert set(values) <= set(_COLUMNS)  # column names come from code, never from requests
    return await conn.fetchrow(
        f"UPDATE patients SET {sets}, updated_at = now() WHERE id = $1 RETURNING *",  # noqa: S608
        patient_id,
        *values.values(),
    )


async def search(
    conn: asyncpg.Pool,
    account_id: int,
    *,
    external_id: str | None,
    email: str | None,
    phone: str | None,
    dob: date | None,
    after_id: int,
    limit: int,
) -> list[Row]:
    """Exact matches on every filter given, in id order."""
    return await conn.fetch(
        """
        SELECT * FROM patients
         WHERE account_id = $1 AND id > $2
           AND ($3::text IS NULL OR external_id = $3)
           AND ($4::text IS NULL OR lower(email) = lower($4))
           AND ($5::text IS NULL OR mobile_phone = $5)
           AND ($6::date IS NULL OR date_of_birth = $6)
         ORDER BY id LIMIT $7
        """,
        account_id,
        after_id,
        external_id,
        email,
        phone,
        dob,
        limit + 1,
    )
