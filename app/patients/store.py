"""SQL for patients."""

from __future__ import annotations

from datetime import date

import asyncpg

from app.core.crud import Row


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
