"""Appointment and slot-request bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec

from app.core.schema import UNSET, Id, Patch, Schema, UnsetType
from app.reminders.views import ReminderState

Status = Literal[
    "SCHEDULED", "CANCELLED", "NO_SHOW", "CHECKED_IN", "IN_TREATMENT", "CHECKED_OUT",
    "CONFIRMED", "RESCHEDULED", "VOIDED",
]  # fmt: skip
LIVE_STATUSES = ("SCHEDULED", "NO_SHOW", "CHECKED_IN", "IN_TREATMENT", "CHECKED_OUT", "CONFIRMED")
Note = Annotated[str, msgspec.Meta(max_length=2000, pattern=r"^[^\x00]*$")]


class SlotRequest(Schema):
    """A slot as offered by availability: the body of hold and appointment calls."""

    appointment_type_id: Id
    location_id: Id
    practitioner_id: Id
    scheduler_config_id: Id
    start_date_time: datetime


class Appointment(Schema):
    id: int
    appointment_type_id: int
    location_id: int
    practitioner_id: int
    patient_id: int
    start_date_time: str
    end_date_time: str
    status: str
    telehealth: bool
    form_count: int
    created_at: datetime
    # location-scoped calls: the reminders of the current start and their delivery state
    reminders: list[ReminderState] | UnsetType = UNSET


class Alternative(Schema):
    start_date_time: str
    start_unix: int
    practitioner_id: int
    practitioner_name: str  # the display name: an alternative with someone else says so
    scheduler_config_id: int
    location_id: int


class Hold(Schema):
    hold_id: int
    expires_at: datetime


class AppointmentPatch(Patch):
    status: Status | UnsetType = UNSET
    start_time: datetime | UnsetType = UNSET
    practitioner_id: Id | UnsetType = UNSET
    note: Note | UnsetType | None = UNSET


class AppointmentPage(Schema):
    appointments: list[Appointment]
    next_cursor: str | None
