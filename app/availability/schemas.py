"""Availability response, in the Lobbie shape."""

from __future__ import annotations

from app.core.schema import Schema


class PractitionerAvailability(Schema):
    practitioner_id: int
    display_name: str
    first_available_slot: int | None


class AvailableSlot(Schema, omit_defaults=True):
    """Selectable practitioners: `practitionerToConfig` maps each practitioner offering this
    time to the scheduler config to book. Otherwise one assigned `practitionerId` and its
    `schedulerConfigId`."""

    start_unix: int
    start_date_time: str
    end_date_time: str
    practitioner_to_config: dict[str, int] | None = None
    practitioner_id: int | None = None
    scheduler_config_id: int | None = None


class Availability(Schema):
    are_practitioners_selectable: bool
    time_zone: str
    practitioners: list[PractitionerAvailability]
    slots_by_date: dict[str, list[AvailableSlot]]
