"""The partner patient API's rules: validated names, birth date and contacts; no two patients
of an account with one date of birth share an email or a phone (409 `duplicate_patient`,
naming the existing `patientId`, so an integration can link to it instead)."""

from __future__ import annotations

from datetime import date
from typing import Any

import asyncpg

from app.core.crud import Row
from app.core.db import transaction
from app.core.errors import Problem, invalid
from app.core.phones import mobile_digits
from app.identity.contacts import ContactError, normalize_email, normalize_phone
from app.patients import matching, store
from app.patients import schemas as s


def _clean(values: dict[str, Any], today: date) -> dict[str, Any]:
    clean = dict(values)
    try:
        for field, key in (("firstName", "first_name"), ("lastName", "last_name")):
            if key in clean:
                clean[key] = matching.check_name(clean[key], field)
        if "date_of_birth" in clean:
            clean["date_of_birth"] = matching.check_birth_date(clean["date_of_birth"], today)
        if clean.get("email"):
            clean["email"] = normalize_email(clean["email"])
        if clean.get("mobile_phone"):
            clean["mobile_phone"] = normalize_phone(clean["mobile_phone"], field="mobilePhone")
    except ContactError as exc:
        raise invalid(exc.field, exc.message) from None
    return clean


def _duplicate(patient_id: int) -> Problem:
    return Problem(
        409,
        "duplicate_patient",
        "A patient with this date of birth already has this email or phone.",
        patientId=patient_id,
    )


async def create(pool: asyncpg.Pool, account_id: int, body: s.NewPatient, today: date) -> Row:
    values = _clean({f: getattr(body, f) for f in body.__struct_fields__}, today)
    async with transaction(pool) as conn:
        await store.lock_birth_date(conn, account_id, values["date_of_birth"])
        existing = await store.duplicate_of(
            conn,
            account_id,
            values["date_of_birth"],
            email=values["email"],
            phone=values["mobile_phone"],
        )
        if existing is not None:
            raise _duplicate(existing)
        return await store.create(conn, account_id, values)


async def update(
    pool: asyncpg.Pool, account_id: int, patient_id: int, patch: s.PatientPatch, today: date
) -> Row:
    changes = _clean(patch.changes(), today)
    async with transaction(pool) as conn:
        current = await store.get(conn, account_id, patient_id, lock=True)
        if not changes:
            return current
        merged = {**dict(current), **changes}
        await store.lock_birth_date(conn, account_id, merged["date_of_birth"])
        existing = await store.duplicate_of(
            conn,
            account_id,
            merged["date_of_birth"],
            email=merged["email"],
            phone=merged["mobile_phone"],
            except_id=patient_id,
        )
        if existing is not None:
            raise _duplicate(existing)
        return await store.update(conn, patient_id, changes)


def search_phone(raw: str | None) -> str | None:
    """A `mobilePhone` filter in any accepted form, as stored (E.164)."""
    if raw is None:
        return None
    try:
        return normalize_phone(raw, field="mobilePhone")
    except ContactError as exc:
        raise invalid(exc.field, exc.message) from None


def to_record(row: Row) -> s.PatientRecord:
    return s.PatientRecord(
        id=row["id"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        date_of_birth=row["date_of_birth"],
        email=row["email"],
        mobile_phone=mobile_digits(row["mobile_phone"]),
        gender=row["gender"],
        external_id=row["external_id"],
        created_at=row["created_at"],
    )
