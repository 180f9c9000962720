"""FHIR ids of the records that have no row of their own (pure).

FHIR ids are `[A-Za-z0-9\\-.]{1,64}`. Ours:

* `PractitionerRole/{practitionerId}-{locationId}`: a practitioner working at a location;
* `Slot/{scheduleId}-{serviceId}-{startEpochSeconds}`: a slot of one scheduler config for one
  appointment type (the type sets its length);
* `Appointment/proposed-{scheduleId}-{serviceId}-{startEpochSeconds}`: what `$find` proposes;
* `Appointment/hold-{attemptId}-{scheduleId}-{serviceId}-{startEpochSeconds}`: a `$hold` (the
  attempt owns the hold, as in the widget; the slot is in the id so that a hold that expired
  can still be booked while the time is free);
* `Appointment/{id}`: a booked appointment.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import msgspec

MAX_ID = 2**63 - 1
# the engine's range: instants between 1970 and 9999
_MAX_EPOCH = 253_402_300_799

_ROLE = re.compile(r"^(\d{1,19})-(\d{1,19})$")
_SLOT = re.compile(r"^(\d{1,19})-(\d{1,19})-(\d{1,12})$")
_PROPOSED = re.compile(r"^proposed-(\d{1,19})-(\d{1,19})-(\d{1,12})$")
_HOLD = re.compile(r"^hold-(\d{1,19})-(\d{1,19})-(\d{1,19})-(\d{1,12})$")
_NUMBER = re.compile(r"^\d{1,19}$")


class SlotKey(msgspec.Struct, frozen=True):
    schedule_id: int
    service_id: int
    start: datetime  # UTC


class RoleKey(msgspec.Struct, frozen=True):
    practitioner_id: int
    location_id: int


def _ok(*numbers: int) -> bool:
    return all(1 <= n <= MAX_ID for n in numbers)


def number(raw: str) -> int | None:
    """A plain numeric id in our range, else None (answered as not found)."""
    if not _NUMBER.match(raw):
        return None
    value = int(raw)
    return value if _ok(value) else None


def role_id(key: RoleKey) -> str:
    return f"{key.practitioner_id}-{key.location_id}"


def parse_role(raw: str) -> RoleKey | None:
    match = _ROLE.match(raw)
    if not match or not _ok(int(match[1]), int(match[2])):
        return None
    return RoleKey(int(match[1]), int(match[2]))


def _slot_text(key: SlotKey) -> str:
    return f"{key.schedule_id}-{key.service_id}-{int(key.start.timestamp())}"


def slot_id(key: SlotKey) -> str:
    return _slot_text(key)


def proposed_id(key: SlotKey) -> str:
    return f"proposed-{_slot_text(key)}"


def _slot_key(match: re.Match[str] | None, first: int = 1) -> SlotKey | None:
    if not match:
        return None
    schedule, service, epoch = (int(match[i]) for i in range(first, first + 3))
    if not _ok(schedule, service) or epoch > _MAX_EPOCH:
        return None
    return SlotKey(schedule, service, datetime.fromtimestamp(epoch, UTC))


def parse_slot(raw: str) -> SlotKey | None:
    return _slot_key(_SLOT.match(raw))


def parse_proposed(raw: str) -> SlotKey | None:
    return _slot_key(_PROPOSED.match(raw))


def hold_id(attempt_id: int, key: SlotKey) -> str:
    return f"hold-{attempt_id}-{_slot_text(key)}"


def parse_hold(raw: str) -> tuple[int, SlotKey] | None:
    match = _HOLD.match(raw)
    key = _slot_key(match, first=2)
    if match is None or key is None or not _ok(int(match[1])):
        return None
    return int(match[1]), key


def reference_id(reference: str, resource_type: str) -> str | None:
    """`Patient/5`, `[base]/Patient/5` or `5` -> "5"; a reference to another type -> None."""
    reference = reference.strip()
    if "/" not in reference:
        return reference or None
    parts = reference.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == resource_type:
        return parts[-1] or None
    if len(parts) >= 4 and parts[-4] == resource_type and parts[-2] == "_history":
        return parts[-3] or None
    return None
