"""Search result -> the Lobbie availability response (shared by partner and widget APIs)."""

from __future__ import annotations

from app.availability import engine as e
from app.availability import schemas as s
from app.availability.service import SearchResult, day_load


def availability_response(result: SearchResult, names: dict[int, str]) -> s.Availability:
    first = e.first_available(result.slots)
    practitioners = [
        s.PractitionerAvailability(
            practitioner_id=pid,
            display_name=names.get(pid, ""),
            first_available_slot=e.to_unix_ms(first[pid]) if pid in first else None,
        )
        for pid in result.practitioner_ids
    ]
    by_date: dict[str, list[s.AvailableSlot]] = {}
    if result.selectable:
        for key, groups in e.group_selectable(result.slots).items():
            by_date[key] = [
                s.AvailableSlot(
                    start_unix=e.to_unix_ms(g.start),
                    start_date_time=g.start.isoformat(),
                    end_date_time=g.end.isoformat(),
                    practitioner_to_config={str(p): c for p, c in g.practitioner_to_config.items()},
                )
                for g in groups
            ]
    else:
        load = day_load(result.busy, result.time_zone)
        for slot in e.assign_unselectable(result.slots, load):
            by_date.setdefault(e.lobbie_date_key(slot.start.date()), []).append(
                s.AvailableSlot(
                    start_unix=e.to_unix_ms(slot.start),
                    start_date_time=slot.start.isoformat(),
                    end_date_time=slot.end.isoformat(),
                    practitioner_id=slot.practitioner_id,
                    scheduler_config_id=slot.scheduler_config_id,
                )
            )
    return s.Availability(
        are_practitioners_selectable=result.selectable,
        time_zone=result.time_zone,
        practitioners=practitioners,
        slots_by_date=by_date,
    )
