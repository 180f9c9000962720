"""Request and response bodies for self-scheduling settings and scheduler configs.

Shapes only: the rules that need more than a type (wall-clock times, overlaps, origins,
references to other records) are in `app.selfscheduling.validation`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec

from app.core.schema import UNSET, Id, IdList, Name, Patch, Schema, ShortText, UnsetType

VerificationMethod = Literal["EMAIL", "SMS", "EMAIL_AND_SMS"]
LimitUnit = Literal["HOURS", "DAYS", "WEEKS", "MONTHS"]

# Enums are matched case-insensitively on input (contract) and answered upper-case.
VerificationMethodIn = Annotated[
    str,
    msgspec.Meta(
        max_length=20,
        description="EMAIL | SMS | EMAIL_AND_SMS (case-insensitive); null = no identity proof",
        examples=["EMAIL"],
    ),
]
LimitUnitIn = Annotated[
    str,
    msgspec.Meta(
        max_length=10,
        description="HOURS | DAYS | WEEKS | MONTHS (case-insensitive)",
        examples=["DAYS"],
    ),
]
BookingLimit = Annotated[int, msgspec.Meta(ge=0, le=10_000)]
Country = Annotated[
    str,
    msgspec.Meta(
        min_length=2,
        max_length=2,
        description="ISO 3166-1 alpha-2 code (case-insensitive on input)",
        examples=["US"],
    ),
]
CountryList = Annotated[list[Country], msgspec.Meta(max_length=250)]
Origin = Annotated[
    str,
    msgspec.Meta(
        max_length=300,
        description="scheme://host[:port] with no path, e.g. https://clinic.example.com",
        examples=["https://clinic.example.com"],
    ),
]
OriginList = Annotated[list[Origin], msgspec.Meta(max_length=50)]

WallTime = Annotated[
    str,
    msgspec.Meta(
        max_length=8,
        description="wall-clock time HH:MM (00:00-23:59) in the location's time zone",
        examples=["09:00"],
    ),
]
Weekday = Annotated[int, msgspec.Meta(ge=0, le=6, description="0 = Monday ... 6 = Sunday")]
Instant = Annotated[
    datetime,
    msgspec.Meta(tz=True, description="ISO 8601 instant with an offset"),
]
SlotInterval = Annotated[int, msgspec.Meta(ge=5, le=240)]
BufferMinutes = Annotated[int, msgspec.Meta(ge=0, le=240)]
MaxPerDay = Annotated[int, msgspec.Meta(ge=1, le=1000)]
TypeIdList = Annotated[list[Id], msgspec.Meta(min_length=1, max_length=500)]


# ------------------------------------------------------------------ scheduler configs


class Window(Schema):
    start: WallTime
    end: WallTime


class Rule(Schema):
    """A weekly window: every `weekday`, from `start` to `end` (end later than start)."""

    weekday: Weekday
    start: WallTime
    end: WallTime


class Override(Schema):
    """Replaces the weekly rules on one local date: either `unavailable: true` (closed) or
    non-empty `windows` (open only then), never both."""

    date: date
    unavailable: bool = False
    windows: Annotated[list[Window], msgspec.Meta(max_length=48)] = []


class Block(Schema):
    """Absolute time off, `start` inclusive to `end` exclusive."""

    start: Instant
    end: Instant
    reason: ShortText | None = None


Rules = Annotated[list[Rule], msgspec.Meta(max_length=200)]
Overrides = Annotated[list[Override], msgspec.Meta(max_length=1000)]
Blocks = Annotated[list[Block], msgspec.Meta(max_length=1000)]


class SchedulerConfigIn(Schema):
    practitioner_id: Id
    location_id: Id
    appointment_type_ids: TypeIdList
    slot_interval_minutes: SlotInterval
    buffer_before_minutes: BufferMinutes = 0
    buffer_after_minutes: BufferMinutes = 0
    max_per_day: MaxPerDay | None = None
    rules: Rules = []
    overrides: Overrides = []
    blocks: Blocks = []


class SchedulerConfigPatch(Patch):
    """Lists (`rules`, `overrides`, `blocks`, `appointmentTypeIds`) are replaced whole."""

    practitioner_id: Id | UnsetType = UNSET
    location_id: Id | UnsetType = UNSET
    appointment_type_ids: TypeIdList | UnsetType = UNSET
    slot_interval_minutes: SlotInterval | UnsetType = UNSET
    buffer_before_minutes: BufferMinutes | UnsetType = UNSET
    buffer_after_minutes: BufferMinutes | UnsetType = UNSET
    max_per_day: MaxPerDay | UnsetType | None = UNSET
    rules: Rules | UnsetType = UNSET
    overrides: Overrides | UnsetType = UNSET
    blocks: Blocks | UnsetType = UNSET


class SchedulerConfig(Schema, omit_defaults=True, kw_only=True):
    """`maxPerDay` is omitted when there is no daily cap."""

    id: int
    practitioner_id: int
    location_id: int
    appointment_type_ids: list[int]
    slot_interval_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    max_per_day: int | None = None
    rules: list[Rule]
    overrides: list[Override]
    blocks: list[Block]


class SchedulerConfigList(Schema):
    scheduler_configs: list[SchedulerConfig]


# ------------------------------------------------------------------ settings


class Theme(Schema, omit_defaults=True):
    """Widget look; every member optional, absent ones use the widget's defaults."""

    primary_color: Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$")] | None = None
    font_family: (
        Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9 ,'-]+$")]
        | None
    ) = None
    corner_radius: Annotated[int, msgspec.Meta(ge=0, le=32)] | None = None
    logo_url: Annotated[str, msgspec.Meta(max_length=2000, description="https URL")] | None = None


class WidgetIn(Schema):
    allowed_origins: OriginList = []
    theme: Theme | None = None


class WidgetPatch(Patch):
    allowed_origins: OriginList | UnsetType = UNSET
    theme: Theme | UnsetType | None = UNSET


class Widget(Schema):
    publishable_key: str
    allowed_origins: list[str]
    theme: Theme


SmsBudget = Annotated[
    int,
    msgspec.Meta(
        ge=0,
        le=100_000,
        description="verification texts this setting may send per UTC day; past it sends are"
        " 429 budget_exhausted and one budget.exhausted event is emitted",
    ),
]


class ReminderSpec(Schema):
    """One reminder: `offsetMinutes` before the start (30 minutes to 14 days), by `channel`."""

    offset_minutes: Annotated[int, msgspec.Meta(ge=30, le=20160)]
    channel: Literal["EMAIL", "SMS"]


Reminders = Annotated[
    list[ReminderSpec],
    msgspec.Meta(
        max_length=3,
        description="at most 3, each (offsetMinutes, channel) once; [] sends none; default "
        "[{1440, SMS}, {4320, EMAIL}], each where the patient has that contact",
    ),
]


class Waitlist(Schema):
    """Earlier-slot offers (docs/waitlist.md): when time opens, the oldest matching waitlist
    entries, up to `offersPerSlot`, get an offer valid `offerMinutes`."""

    enabled: bool = False
    offer_minutes: Annotated[int, msgspec.Meta(ge=5, le=1440)] = 30
    offers_per_slot: Annotated[int, msgspec.Meta(ge=1, le=20)] = 3


class SettingIn(Schema):
    """A new setting. `locationSelectable` defaults to true, or to false when
    `fixedLocationId` is given (likewise for appointment types)."""

    name: Name
    active: bool = True
    verification_method: VerificationMethodIn | None = None
    location_ids: IdList = []
    location_selectable: bool | UnsetType = UNSET
    location_visible: bool = True
    fixed_location_id: Id | None = None
    appointment_type_ids: IdList = []
    appointment_type_selectable: bool | UnsetType = UNSET
    appointment_type_visible: bool = True
    fixed_appointment_type_id: Id | None = None
    practitioner_ids: IdList = []
    are_practitioners_selectable: bool = True
    forward_booking_limit: BookingLimit = 60
    forward_booking_limit_active: bool = True
    forward_booking_limit_unit: LimitUnitIn = "DAYS"
    afterward_booking_limit: BookingLimit = 0
    afterward_booking_limit_active: bool = False
    afterward_booking_limit_unit: LimitUnitIn = "HOURS"
    allowed_phone_countries: CountryList = msgspec.field(default_factory=lambda: ["US", "CA"])
    sms_budget_per_day: SmsBudget = 200
    reminders: Reminders | UnsetType = UNSET
    widget: WidgetIn | None = None
    waitlist: Waitlist | None = None


class SettingPatch(Patch):
    """Only the members present change; `widget.theme` is replaced whole."""

    name: Name | UnsetType = UNSET
    active: bool | UnsetType = UNSET
    verification_method: VerificationMethodIn | UnsetType | None = UNSET
    location_ids: IdList | UnsetType = UNSET
    location_selectable: bool | UnsetType = UNSET
    location_visible: bool | UnsetType = UNSET
    fixed_location_id: Id | UnsetType | None = UNSET
    appointment_type_ids: IdList | UnsetType = UNSET
    appointment_type_selectable: bool | UnsetType = UNSET
    appointment_type_visible: bool | UnsetType = UNSET
    fixed_appointment_type_id: Id | UnsetType | None = UNSET
    practitioner_ids: IdList | UnsetType = UNSET
    are_practitioners_selectable: bool | UnsetType = UNSET
    forward_booking_limit: BookingLimit | UnsetType = UNSET
    forward_booking_limit_active: bool | UnsetType = UNSET
    forward_booking_limit_unit: LimitUnitIn | UnsetType = UNSET
    afterward_booking_limit: BookingLimit | UnsetType = UNSET
    afterward_booking_limit_active: bool | UnsetType = UNSET
    afterward_booking_limit_unit: LimitUnitIn | UnsetType = UNSET
    allowed_phone_countries: CountryList | UnsetType = UNSET
    sms_budget_per_day: SmsBudget | UnsetType = UNSET
    reminders: Reminders | UnsetType = UNSET
    widget: WidgetPatch | UnsetType = UNSET
    waitlist: Waitlist | UnsetType = UNSET  # replaced whole; absent members take defaults


class Setting(Schema, omit_defaults=True, kw_only=True):
    """`fixedLocationId` / `fixedAppointmentTypeId` are omitted when not set;
    `verificationMethod` is always present (null = no identity proof)."""

    id: int
    name: str
    active: bool
    verification_method: VerificationMethod | None
    location_ids: list[int]
    location_selectable: bool
    location_visible: bool
    fixed_location_id: int | None = None
    appointment_type_ids: list[int]
    appointment_type_selectable: bool
    appointment_type_visible: bool
    fixed_appointment_type_id: int | None = None
    practitioner_ids: list[int]
    are_practitioners_selectable: bool
    forward_booking_limit: int
    forward_booking_limit_active: bool
    forward_booking_limit_unit: LimitUnit
    afterward_booking_limit: int
    afterward_booking_limit_active: bool
    afterward_booking_limit_unit: LimitUnit
    allowed_phone_countries: list[str]
    sms_budget_per_day: int
    reminders: list[ReminderSpec]
    scheduler_configs: list[SchedulerConfig]
    widget: Widget
    waitlist: Waitlist


class SettingPage(Schema):
    settings: list[Setting]
    next_cursor: str | None
