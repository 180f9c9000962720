"""Request and response bodies for locations, practitioners and appointment types."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from app.core.schema import NO_NUL, UNSET, LongText, Name, Patch, Schema, ShortText, UnsetType

Npi = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{10}$")]
Minutes = Annotated[int, msgspec.Meta(ge=5, le=720)]
FormCount = Annotated[int, msgspec.Meta(ge=0, le=100)]
Phone = Annotated[str, msgspec.Meta(min_length=3, max_length=32, pattern=NO_NUL)]
LocationSortBy = Literal["NAME", "CREATED_DATE"]
SortDir = Literal["ASC", "DESC"]


class Address(Schema, omit_defaults=True):
    """Lobbie's address fields."""

    address1: ShortText | None = None
    address2: ShortText | None = None
    city: ShortText | None = None
    state: ShortText | None = None
    postal_code: ShortText | None = None
    country: ShortText | None = None


class AddressIn(Address, omit_defaults=True):
    """Lobbie's names, or `line1`/`line2` for `address1`/`address2`."""

    line1: ShortText | None = None
    line2: ShortText | None = None


class LocationIn(Schema):
    name: Name
    time_zone: ShortText
    store_id: ShortText | None = None
    active: bool = True
    address: AddressIn | None = None
    phone_number: Phone | None = None
    phone: Annotated[Phone | None, msgspec.Meta(description="Same as phoneNumber")] = None


class LocationPatch(Patch):
    name: Name | UnsetType = UNSET
    time_zone: ShortText | UnsetType = UNSET
    store_id: ShortText | UnsetType | None = UNSET
    active: bool | UnsetType = UNSET
    address: AddressIn | UnsetType | None = UNSET
    phone_number: Phone | UnsetType | None = UNSET
    phone: Phone | UnsetType | None = UNSET


class Location(Schema):
    id: int
    name: str
    store_id: str | None
    active: bool
    time_zone: str
    address: Address | None
    phone_number: Annotated[str | None, msgspec.Meta(description="Digits: 2025550123")]
    phone: Annotated[str | None, msgspec.Meta(description="As it was written")]
    created_at: datetime
    updated_at: datetime


class LocationPage(Schema):
    locations: list[Location]
    next_cursor: str | None


class PractitionerIn(Schema):
    first_name: Name
    last_name: Name
    display_name: Name | None = None
    credentials: ShortText | None = None
    npi: Npi | None = None
    active: bool = True


class PractitionerPatch(Patch):
    first_name: Name | UnsetType = UNSET
    last_name: Name | UnsetType = UNSET
    display_name: Name | UnsetType = UNSET
    credentials: ShortText | UnsetType | None = UNSET
    npi: Npi | UnsetType | None = UNSET
    active: bool | UnsetType = UNSET


class Practitioner(Schema):
    id: int
    first_name: str
    last_name: str
    display_name: str
    credentials: str | None
    npi: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class PractitionerPage(Schema):
    practitioners: list[Practitioner]
    next_cursor: str | None


class AppointmentTypeIn(Schema):
    name: Name
    duration_minutes: Minutes
    telehealth: bool = False
    description: LongText | None = None
    form_count: FormCount = 0
    color: ShortText | None = None
    active: bool = True


class AppointmentTypePatch(Patch):
    name: Name | UnsetType = UNSET
    duration_minutes: Minutes | UnsetType = UNSET
    telehealth: bool | UnsetType = UNSET
    description: LongText | UnsetType | None = UNSET
    form_count: FormCount | UnsetType = UNSET
    color: ShortText | UnsetType | None = UNSET
    active: bool | UnsetType = UNSET


class AppointmentType(Schema):
    id: int
    name: str
    duration_minutes: int
    telehealth: bool
    description: str | None
    form_count: int
    color: str | None
    active: bool
    created_at: datetime
    updated_at: datetime


class AppointmentTypePage(Schema):
    appointment_types: list[AppointmentType]
    next_cursor: str | None
