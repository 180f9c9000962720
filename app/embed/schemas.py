"""Widget API bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.appointments.schemas import Appointment
from app.attempts.schemas import AttemptStatus, AttemptStep
from app.core.schema import Id, Schema
from app.identity.schemas import Code, Email, Phone


class WidgetAddress(Schema):
    line1: str | None
    line2: str | None
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None


class WidgetLocation(Schema):
    id: int
    name: str
    time_zone: str
    address: WidgetAddress | None
    phone: str | None


class WidgetAppointmentType(Schema):
    id: int
    name: str
    duration_minutes: int
    telehealth: bool
    description: str | None


class WidgetPractitioner(Schema):
    id: int
    display_name: str


class WidgetConfig(Schema):
    setting_id: int
    practice_name: str
    verification_method: str | None
    locations: list[WidgetLocation]
    appointment_types: list[WidgetAppointmentType]
    practitioners: list[WidgetPractitioner]
    location_selectable: bool
    location_visible: bool
    fixed_location_id: int | None
    appointment_type_selectable: bool
    appointment_type_visible: bool
    fixed_appointment_type_id: int | None
    are_practitioners_selectable: bool
    theme: dict[str, Any]
    allowed_phone_countries: list[str]


class WidgetAttempt(Schema):
    id: int
    status: AttemptStatus
    is_verified: bool
    missing_verifications: list[str]
    steps: list[AttemptStep]


class AttemptStarted(Schema):
    attempt_token: str
    attempt: WidgetAttempt


class SendCodeIn(Schema):
    email: Email | None = None
    phone: Phone | None = None


class VerifyCodeIn(Schema):
    code: Code
    email: Email | None = None
    phone: Phone | None = None


class CodeSent(Schema):
    sent: bool


class CodeChecked(Schema):
    verified: bool
    missing_verifications: list[str]


class Booked(Schema):
    appointment: Appointment
    manage_token: str
    manage_url: str


class ManagedAppointment(Schema):
    appointment: Appointment
    location: WidgetLocation
    appointment_type: WidgetAppointmentType
    practitioner: WidgetPractitioner
    can_cancel: bool
    can_reschedule: bool
    setting_publishable_key: str | None
    can_ask_earlier: bool = False  # the setting keeps a waitlist (docs/waitlist.md)
    earlier_requested: bool = False  # an earlier-time request is live


class RescheduleIn(Schema):
    start_date_time: datetime
    scheduler_config_id: Id
    practitioner_id: Id


class AppointmentOnly(Schema):
    appointment: Appointment
