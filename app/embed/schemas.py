"""Widget API bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

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
    # where and what this practitioner can be booked for in this setting (their configs)
    location_ids: list[int] = []
    appointment_type_ids: list[int] = []


class BookingHorizon(Schema):
    """When bookable times start and end right now: the setting's minimum notice and forward
    limit (`latestUnix` null: no forward limit)."""

    earliest_unix: int
    latest_unix: int | None


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
    booking_horizon: BookingHorizon


class WidgetHold(Schema):
    """The time the attempt holds (what a reloaded widget resumes with)."""

    appointment_type_id: int
    location_id: int
    practitioner_id: int
    scheduler_config_id: int
    start_date_time: str
    start_unix: int
    end_unix: int
    expires_at: datetime


class WidgetPatientName(Schema):
    id: int
    first_name: str
    last_name: str


class WidgetAttempt(Schema):
    id: int
    status: AttemptStatus
    is_verified: bool
    missing_verifications: list[str]
    steps: list[AttemptStep]
    hold: WidgetHold | None = None
    patient: WidgetPatientName | None = None  # once set: the name the review step shows


class UpcomingAppointment(Schema):
    id: int
    start_date_time: str
    end_date_time: str
    appointment_type_id: int
    appointment_type_name: str
    practitioner_name: str
    location_id: int
    location_name: str
    telehealth: bool
    manage_url: str  # a fresh link: the patient may manage it instead of booking another


class UpcomingAppointments(Schema):
    appointments: list[UpcomingAppointment]


class AttemptStartIn(Schema):
    lang: Literal["en", "es"] | None = None  # the patient's language: every message uses it


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
    # after a wrong code: wrong codes this booking may still try before verification locks
    tries_left: int | None = None


class Booked(Schema):
    appointment: Appointment
    manage_token: str
    manage_url: str
    # the setting keeps a waitlist: `POST /widget/v1/manage/{manageToken}/earlier` may be asked
    # at once (the confirmation step offers it, as the manage page does: docs/waitlist.md)
    can_ask_earlier: bool


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
