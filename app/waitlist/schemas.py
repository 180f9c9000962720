"""Waitlist request and response bodies."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

import msgspec
from litestar.openapi import ResponseSpec

from app.appointments.schemas import Appointment
from app.core.schema import Id, Schema
from app.embed.schemas import WidgetAppointmentType, WidgetLocation, WidgetPractitioner

EntryKind = Literal["EARLIER", "WINDOW"]
EntryStatus = Literal["ACTIVE", "CLAIMED", "ENDED", "REMOVED"]
EntrySource = Literal["WIDGET", "MANAGE", "PARTNER"]
OfferStatus = Literal["OPEN", "CLAIMED", "TAKEN", "EXPIRED"]
Lang = Literal["en", "es"]
Instant = Annotated[datetime, msgspec.Meta(tz=True, description="ISO 8601 with an offset")]
PractitionerChoice = Annotated[list[Id], msgspec.Meta(max_length=50)]


class EarlierIn(Schema):
    """Ask for an earlier time than the managed appointment: offers start no sooner than
    `notBefore` (default: now, within the setting's minimum notice)."""

    not_before: Instant | None = None
    lang: Lang | None = None


class WindowIn(Schema):
    """Join the waitlist for a new appointment starting in [windowStart, windowEnd)."""

    appointment_type_id: Id
    location_id: Id
    window_start: Instant
    window_end: Instant
    practitioner_ids: PractitionerChoice | None = None  # absent or empty: any practitioner
    lang: Lang | None = None


class PartnerEntryIn(Schema):
    """A partner adds an entry: with `appointmentId` an earlier-request for that appointment
    (type, location and window end come from it), else a window for a new appointment."""

    self_scheduling_setting_id: Id
    patient_id: Id
    appointment_id: Id | None = None
    appointment_type_id: Id | None = None
    location_id: Id | None = None
    practitioner_ids: PractitionerChoice | None = None
    window_start: Instant | None = None
    window_end: Instant | None = None
    lang: Lang | None = None


class EntryCreated(Schema):
    waitlist_entry_id: int


class Entry(Schema, omit_defaults=True):
    id: int
    self_scheduling_setting_id: int
    patient_id: int
    kind: EntryKind
    appointment_type_id: int
    location_id: int
    practitioner_ids: list[int]
    window_start: datetime
    window_end: datetime
    status: EntryStatus
    source: EntrySource
    created_at: datetime
    appointment_id: int | None = None
    ended_at: datetime | None = None
    end_reason: str | None = None


class EntryPage(Schema):
    entries: list[Entry]
    next_cursor: str | None


class Offer(Schema, omit_defaults=True):
    """What an offer link shows. `status` OPEN until claimed (CLAIMED), booked by someone else
    (TAKEN) or past `expiresAt` (EXPIRED)."""

    status: OfferStatus
    kind: EntryKind
    practice_name: str
    start_date_time: str
    end_date_time: str
    expires_at: datetime
    location: WidgetLocation
    appointment_type: WidgetAppointmentType
    practitioner: WidgetPractitioner
    lang: Lang
    current_start_date_time: str | None = None  # an earlier-request: the time it replaces


class OfferClaimed(Schema, omit_defaults=True):
    """201: a new appointment (with its manage link); 200: the patient's appointment moved."""

    appointment: Appointment
    manage_url: str | None = None


class StatsDay(Schema):
    date: date
    self_scheduling_setting_id: int
    entries: int
    offers_sent: int
    claims: int
    slots_refilled: int
    minutes_gained: int


class Stats(Schema):
    time_zone: str
    days: list[StatsDay]


LIVE_REQUEST = {
    200: ResponseSpec(
        data_container=EntryCreated,
        description="The appointment already had a live earlier-request (its notBefore updated)",
        generate_examples=False,
    )
}
MOVED = {
    200: ResponseSpec(
        data_container=OfferClaimed,
        description="An earlier-request: the patient's appointment moved (same id)",
        generate_examples=False,
    )
}
