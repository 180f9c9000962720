"""Patient request and response bodies (Lobbie `createPatient`; the rest ours)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from app.core.schema import NO_NUL, UNSET, Patch, Schema, UnsetType

PersonName = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=NO_NUL)]
EmailText = Annotated[str, msgspec.Meta(min_length=3, max_length=320, pattern=NO_NUL)]
PhoneText = Annotated[str, msgspec.Meta(min_length=3, max_length=40, pattern=NO_NUL)]
ExternalId = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NO_NUL)]
Gender = Literal["FEMALE", "MALE", "OTHER", "UNKNOWN"]


class NewPatient(Schema):
    first_name: PersonName
    last_name: PersonName
    date_of_birth: date
    email: EmailText | None = None
    mobile_phone: PhoneText | None = None
    gender: Gender | None = None
    external_id: ExternalId | None = None


class PatientPatch(Patch):
    first_name: PersonName | UnsetType = UNSET
    last_name: PersonName | UnsetType = UNSET
    date_of_birth: date | UnsetType = UNSET
    email: EmailText | UnsetType | None = UNSET
    mobile_phone: PhoneText | UnsetType | None = UNSET
    gender: Gender | UnsetType | None = UNSET
    external_id: ExternalId | UnsetType | None = UNSET


class PatientRecord(Schema):
    """A patient (phones as digits with the country code, like Lobbie's `mobilePhone`)."""

    id: int
    first_name: str
    last_name: str
    date_of_birth: date
    email: str | None
    mobile_phone: str | None
    gender: Gender | None
    external_id: str | None
    created_at: datetime


class PatientRecordPage(Schema):
    patients: list[PatientRecord]
    next_cursor: str | None
