"""Attempt request and response bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec
from litestar.openapi.datastructures import ResponseSpec

from app.core.schema import Id, Schema

PersonName = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]
Contact = Annotated[str, msgspec.Meta(min_length=3, max_length=320, pattern=r"^[^\x00]*$")]
# the values of machine.State and machine.Step (tests/unit/test_attempt_machine.py keeps them equal)
AttemptStatus = Literal["STARTED", "CODE_SENT", "VERIFIED", "PATIENT_SET", "BOOKED", "ABANDONED"]
StepName = Literal[
    "STARTED", "CODE_SENT", "VERIFIED", "PATIENT_SET", "BOOKED", "ABANDONED",
    "AVAILABILITY_VIEWED", "SLOT_SELECTED",
]  # fmt: skip
# who started the attempt: a partner's API calls, the widget, or the FHIR facade ($hold, $book);
# exactly the values of the database CHECK (tests/api/test_enum_constraints.py)
AttemptSource = Literal["PARTNER", "WIDGET", "FHIR"]


class AttemptIn(Schema):
    self_scheduling_setting_id: Id
    identity_proof_id: Id | None = None


class AttemptProofIn(Schema):
    identity_proof_id: Id


class AttemptStep(Schema):
    step: StepName
    at: datetime


class Attempt(Schema, omit_defaults=True):
    id: int
    self_scheduling_setting_id: int
    is_verified: bool
    status: AttemptStatus
    steps: list[AttemptStep]
    created_at: datetime
    updated_at: datetime
    identity_proof_id: int | None = None
    patient_id: int | None = None
    appointment_id: int | None = None


class AttemptPatientIn(Schema):
    first_name: PersonName
    last_name: PersonName
    date_of_birth: date
    email: Contact | None = None
    phone: Contact | None = None


class Patient(Schema):
    id: int
    first_name: str
    last_name: str
    date_of_birth: date
    email: str | None
    mobile_phone: str | None


# POST .../patient answers 201 when it created the patient, 200 when it matched an existing one
MATCHED_PATIENT = {
    200: ResponseSpec(
        data_container=Patient, description="Matched an existing patient", generate_examples=False
    )
}
