"""Patients (partner API, `scheduling` scope): create (Lobbie `createPatient`), get, exact
search, update. Every call is a PHI access: audited; served `Cache-Control: no-store` like
everything under /partner/v2/."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from litestar import Controller, get, post, put
from litestar.params import QueryParameter

from app.audit.spec import audit
from app.core import clock
from app.core.errors import invalid
from app.core.http import Cursor, DbPool, JSONBody, Limit, PathId
from app.core.pagination import DEFAULT_LIMIT, check_limit, decode_cursor, page
from app.core.schema import NO_NUL
from app.identity.contacts import ContactError, normalize_email
from app.partners.guard import scope
from app.partners.scopes import SCHEDULING
from app.patients import schemas as s
from app.patients import service, store


def _query(name: str, max_length: int) -> QueryParameter:
    return QueryParameter(name=name, max_length=max_length, pattern=NO_NUL)


class PatientController(Controller):
    path = "/patients"
    tags = ["patients"]
    opt = scope(SCHEDULING)

    @post(
        "/",
        operation_id="createPatient",
        opt=audit("patient", "create", "response:id"),
        summary="Create a patient",
        description="409 duplicate_patient (with patientId) when a patient with this date of"
        " birth already has this email or phone.",
    )
    async def create_patient(
        self, pool: DbPool, account_id: PathId, data: JSONBody[s.NewPatient]
    ) -> s.PatientRecord:
        row = await service.create(pool, account_id, data, clock.now().date())
        return service.to_record(row)

    @get(
        "/",
        operation_id="searchPatients",
        opt=audit("patient", "read", "response:patients[].id"),
        summary="Find patients by exact externalId, email, mobilePhone or dateOfBirth",
        description="At least one filter; every filter given must match exactly.",
    )
    async def search_patients(
        self,
        pool: DbPool,
        account_id: PathId,
        external_id: Annotated[str | None, _query("externalId", 200)] = None,
        email: Annotated[str | None, _query("email", 320)] = None,
        mobile_phone: Annotated[str | None, _query("mobilePhone", 40)] = None,
        date_of_birth: Annotated[date | None, QueryParameter(name="dateOfBirth")] = None,
        cursor: Cursor = None,
        limit: Limit = DEFAULT_LIMIT,
    ) -> s.PatientRecordPage:
        if external_id is None and email is None and mobile_phone is None and date_of_birth is None:
            raise invalid("externalId", "give at least one of externalId, email, mobilePhone,"
                          " dateOfBirth")  # fmt: skip
        try:
            email = normalize_email(email) if email is not None else None
        except ContactError as exc:
            raise invalid(exc.field, exc.message) from None
        limit = check_limit(limit)
        rows = await store.search(
            pool,
            account_id,
            external_id=external_id,
            email=email,
            phone=service.search_phone(mobile_phone),
            dob=date_of_birth,
            after_id=decode_cursor(cursor),
            limit=limit,
        )
        rows, next_cursor = page(rows, limit)
        return s.PatientRecordPage([service.to_record(r) for r in rows], next_cursor)

    @get(
        "/{patient_id:int}",
        operation_id="getPatient",
        opt=audit("patient", "read", "path:patient_id"),
        summary="One patient",
        description="404 when absent or another account's.",
    )
    async def get_patient(
        self, pool: DbPool, account_id: PathId, patient_id: PathId
    ) -> s.PatientRecord:
        return service.to_record(await store.get(pool, account_id, patient_id))

    @put(
        "/{patient_id:int}",
        operation_id="updatePatient",
        opt=audit("patient", "update", "path:patient_id"),
        summary="Change a patient's fields",
        description="Only the fields sent change; null clears an optional one. 409"
        " duplicate_patient when the change would duplicate another patient.",
    )
    async def update_patient(
        self, pool: DbPool, account_id: PathId, patient_id: PathId, data: JSONBody[s.PatientPatch]
    ) -> s.PatientRecord:
        row = await service.update(pool, account_id, patient_id, data, clock.now().date())
        return service.to_record(row)
