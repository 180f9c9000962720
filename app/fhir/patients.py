"""The patient of a `$book`: a Patient the EHR names by id, or one it describes.

A described patient (name, birthDate, telecom) is reused only when a patient of the account
has exactly that date of birth, those names (case- and accent-insensitive) and one of those
contacts; the existing record is never changed and nothing about it is revealed beyond what
the caller sent. Otherwise a new patient is created. A partner with the `scheduling` scope
may already search and create patients, so this adds no reach."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from app.core.db import transaction
from app.core.errors import Problem, invalid, not_found
from app.fhir import ids
from app.fhir import store as fs
from app.fhir.schemas import AppointmentIn, PatientIn
from app.identity.contacts import ContactError, normalize_email, normalize_phone
from app.patients import matching
from app.patients import store as patient_store


def named_patient(appointment: AppointmentIn | None) -> str | None:
    """The id of a Patient participant of the appointment resource, if any."""
    for participant in appointment.participant if appointment else []:
        reference = participant.actor.reference if participant.actor else None
        if reference and ids.reference_id(reference, "Patient") and "/" in reference:
            return ids.reference_id(reference, "Patient")
    return None


async def resolve(
    pool: asyncpg.Pool,
    account_id: int,
    resource: PatientIn | None,
    participant_id: str | None,
    now: datetime,
) -> int:
    raw_id = (resource.id if resource else None) or participant_id
    if raw_id is not None:
        number = ids.number(raw_id)
        found = (
            await fs.patients(
                pool,
                account_id,
                ids=[number],
                birth_date=None,
                email=None,
                phone=None,
                offset=0,
                limit=1,
            )
            if number is not None
            else None
        )
        if not found or not found.rows:
            raise not_found("patient")
        return number  # type: ignore[return-value]
    if resource is None:
        raise Problem(
            422,
            "patient_not_set",
            "Name the patient: a patient-resource parameter or a Patient participant.",
        )
    return await _match_or_create(pool, account_id, resource, now)


def _described(resource: PatientIn, today: date) -> tuple[str, str, date, str | None, str | None]:
    name = resource.name[0] if resource.name else None
    given = " ".join(name.given) if name else ""
    first = matching.check_name(given, "patient-resource.name.given")
    last = matching.check_name(
        (name.family if name else None) or "", "patient-resource.name.family"
    )
    if resource.birth_date is None:
        raise invalid("patient-resource.birthDate", "is required")
    try:
        dob = date.fromisoformat(resource.birth_date)
    except ValueError:
        raise invalid("patient-resource.birthDate", "must be a date such as 1980-01-31") from None
    dob = matching.check_birth_date(dob, today)
    email = phone = None
    try:
        for point in resource.telecom:
            if point.system == "email" and point.value and email is None:
                email = normalize_email(point.value, field="patient-resource.telecom")
            elif point.system in ("sms", "phone") and point.value and phone is None:
                phone = normalize_phone(point.value, field="patient-resource.telecom")
    except ContactError as error:
        raise invalid(error.field, error.message) from None
    return first, last, dob, email, phone


async def _match_or_create(
    pool: asyncpg.Pool, account_id: int, resource: PatientIn, now: datetime
) -> int:
    first, last, dob, email, phone = _described(resource, now.date())
    async with transaction(pool) as conn:
        if email or phone:
            for row in await patient_store.candidates(
                conn, account_id, dob, email=email, phone=phone
            ):
                if matching.same_person(first, last, row["first_name"], row["last_name"]):
                    return row["id"]
        created = await patient_store.insert(
            conn, account_id, first_name=first, last_name=last, dob=dob, email=email, phone=phone
        )
        return created["id"]
