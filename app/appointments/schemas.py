"""Appointment and slot-request bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from app.core.schema import UNSET, Id, Patch, Schema, UnsetType
from app.reminders.views import ReminderState

Status = Literal[
    "SCHEDULED", "CANCELLED", "NO_SHOW", "CHECKED_IN", "IN_TREATMENT", "CHECKED_OUT",
    "CONFIRMED", "RESCHEDULED", "VOIDED",
]  # fmt: skip
LIVE_STATUSES = ("SCHEDULED", "NO_SHOW", "CHECKED_IN", "IN_TREATMENT", "CHECKED_OUT", "CONFIRMED")
Note = Annotated[str, msgspec.Meta(max_length=2000, pattern=r"^[^\x00]*$")]
Reason = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=500,
        pattern=r"^[^\x00]*$",
        description="Why the status changes; shown on its statusHistory entry (and kept as a"
        " cancellation's reason). The practice's own record: not sent to the patient, not in"
        " webhook events.",
    ),
]
# how an appointment was made: through a self-scheduling attempt (widget or partner), directly
# by a partner or staff (POST /location/{locationId}/appointment), through the FHIR facade's
# $book, or by a patient claiming a waitlist offer. Exactly the values of the database CHECK
# `appointments_source_check` (tests/api/test_enum_constraints.py): a new way of booking adds
# its value in both, with a migration (then `make openapi-snapshot`)
Source = Literal["SELF_SCHEDULING", "PARTNER", "FHIR", "WAITLIST"]
SortBy = Literal["START_TIME", "CREATED_DATE"]
SortDir = Literal["ASC", "DESC"]


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
    status: Status
    telehealth: bool
    form_count: int
    created_at: datetime


class StatusChange(Schema):
    status: Status
    at: datetime
    by: Annotated[str, msgspec.Meta(description="`partner`, `patient` or `staff`")]
    reason: Annotated[
        str | None, msgspec.Meta(description="The reason given with the change, if any.")
    ] = None


class LocationAppointment(Schema):
    """Lobbie's shape of a location-scoped appointment (times in the location's offset), plus
    our additive `telehealth`, `formCount`, `source` and `statusHistory`."""

    id: int
    appointment_type_id: int
    location_id: int
    patient_id: int
    practitioner_id: int
    start_time: str
    end_time: str
    duration_minutes: int
    note: str | None
    status: Status
    created_at: datetime
    updated_at: datetime
    telehealth: bool
    form_count: int
    source: Source
    status_history: list[StatusChange]
    # the reminders of the current start and their delivery state
    reminders: list[ReminderState]


class LocationAppointmentIn(Schema):
    """A booking made by a partner or staff outside the widget (Lobbie `createAppointment`):
    `startTime` (or `startDateTime`) with an offset; without `schedulerConfigId` the
    practitioner's config at this location offering the type is used."""

    patient_id: Id
    appointment_type_id: Id
    practitioner_id: Id
    start_time: datetime | None = None
    start_date_time: datetime | None = None
    scheduler_config_id: Id | None = None
    note: Note | None = None
    override_availability: bool = False


class LocationAppointmentPage(Schema):
    appointments: list[LocationAppointment]
    next_cursor: str | None


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
    """The fields sent change. `reason` goes with a `status`; `notifyPatient: false` changes
    without a message to the patient (the history and the webhook events are the same)."""

    status: Status | UnsetType = UNSET
    start_time: datetime | UnsetType = UNSET
    practitioner_id: Id | UnsetType = UNSET
    note: Note | UnsetType | None = UNSET
    reason: Reason | None = None
    notify_patient: Annotated[
        bool,
        msgspec.Meta(
            description="Send the patient the change (a move or a cancellation) with a working"
            " manage link; false leaves telling them to the practice."
        ),
    ] = True

    def changes(self) -> dict[str, Any]:
        """The appointment's fields to change (not how: `reason`, `notifyPatient`)."""
        return {
            field: value
            for field, value in super().changes().items()
            if field not in ("reason", "notify_patient")
        }
