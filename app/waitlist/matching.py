"""Who gets an offer for which opened slot (pure: no I/O).

The rules, in docs/waitlist.md:

* entries are served oldest first (`created`, then id): first come, first offered;
* an entry is offered the earliest open slot that fits it — its type and location (the caller
  groups slots so), its practitioner choice, its window, and for an earlier-request a start
  before its current appointment — and that still has room: a slot is offered to at most
  `offers_per_slot` entries at once (open offers of earlier rounds count);
* an entry holds at most one open offer; an entry is never offered a slot it was already
  offered (a re-offer round goes to the next in line); one patient gets at most
  `per_patient_cap` offers a day (offers of the last 24 hours count).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import msgspec

SlotKey = tuple[int, int]  # (practitioner id, start in epoch seconds)


class Candidate(msgspec.Struct, frozen=True, kw_only=True):
    """An active waitlist entry as matching sees it."""

    entry_id: int
    patient_id: int
    group: tuple[int, int, int]  # (setting id, location id, appointment type id)
    practitioner_ids: frozenset[int]  # empty: any practitioner
    window_start: datetime
    window_end: datetime  # exclusive; for an earlier-request, its appointment's start at most


class OpenSlot(msgspec.Struct, frozen=True, kw_only=True):
    start: datetime
    end: datetime
    practitioner_id: int
    scheduler_config_id: int
    location_id: int

    @property
    def key(self) -> SlotKey:
        return (self.practitioner_id, int(self.start.timestamp()))


class Assignment(msgspec.Struct, frozen=True):
    entry_id: int
    patient_id: int
    slot: OpenSlot


def assign(
    candidates: Iterable[Candidate],
    slots_by_group: Mapping[tuple[int, int, int], list[OpenSlot]],
    *,
    offers_per_slot: Mapping[int, int],  # setting id -> its offersPerSlot
    open_per_slot: Mapping[SlotKey, int],
    entries_with_open_offer: set[int],
    already_offered: set[tuple[int, SlotKey]],  # (entry id, slot)
    offers_today: Mapping[int, int],  # patient id -> offers in the last 24 hours
    per_patient_cap: int,
) -> list[Assignment]:
    """Offers to make, oldest entry first. `candidates` must come oldest first; each group's
    slots in start order."""
    taken = dict(open_per_slot)
    today = dict(offers_today)
    chosen: list[Assignment] = []
    room = {
        group: [s for s in slots if taken.get(s.key, 0) < offers_per_slot[group[0]]]
        for group, slots in slots_by_group.items()
    }
    for entry in candidates:
        slots = room.get(entry.group)
        if not slots:
            if not any(room.values()):
                break  # every slot is fully offered: nobody further down can get one
            continue
        if entry.entry_id in entries_with_open_offer:
            continue
        if today.get(entry.patient_id, 0) >= per_patient_cap:
            continue
        slot = next((s for s in slots if _fits(entry, s, already_offered)), None)
        if slot is None:
            continue
        chosen.append(Assignment(entry.entry_id, entry.patient_id, slot))
        today[entry.patient_id] = today.get(entry.patient_id, 0) + 1
        taken[slot.key] = taken.get(slot.key, 0) + 1
        if taken[slot.key] >= offers_per_slot[entry.group[0]]:
            slots.remove(slot)
    return chosen


def _fits(entry: Candidate, slot: OpenSlot, already_offered: set[tuple[int, SlotKey]]) -> bool:
    return (
        entry.window_start <= slot.start < entry.window_end
        and (not entry.practitioner_ids or slot.practitioner_id in entry.practitioner_ids)
        and (entry.entry_id, slot.key) not in already_offered
    )
