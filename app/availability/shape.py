"""Search result -> the Lobbie availability response (shared by partner and widget APIs).

The engine returns slots sorted by (start instant, practitioner, config) and hands out one
datetime object per instant and zone, so grouping is a single pass, and each instant's
`startUnix` and ISO text are computed once (cached by object identity while the slots live).
"""

from __future__ import annotations

from datetime import datetime

from app.availability import engine as e
from app.availability import schemas as s
from app.availability.service import SearchResult, day_load


class _Instants:
    def __init__(self) -> None:
        self._seen: dict[int, tuple[datetime, int, str]] = {}

    def __call__(self, dt: datetime) -> tuple[int, str]:
        hit = self._seen.get(id(dt))
        if hit is None or hit[0] is not dt:
            hit = self._seen[id(dt)] = (dt, e.to_unix_ms(dt), dt.isoformat())
        return hit[1], hit[2]


def availability_response(result: SearchResult, names: dict[int, str]) -> s.Availability:
    instant = _Instants()
    first: dict[int, int] = {}
    by_date: dict[str, list[s.AvailableSlot]] = {}
    if result.selectable:
        day_key, day_list = "", []
        current: s.AvailableSlot | None = None
        pid_text = {pid: str(pid) for pid in result.practitioner_ids}
        for slot in result.slots:
            start_ms, start_iso = instant(slot.start)
            end_iso = instant(slot.end)[1]
            first.setdefault(slot.practitioner_id, start_ms)
            if (
                current is None
                or start_ms != current.start_unix
                or end_iso != current.end_date_time
            ):
                key = e.lobbie_date_key(slot.start.date())
                if key != day_key:
                    day_key, day_list = key, by_date.setdefault(key, [])
                current = s.AvailableSlot(
                    start_unix=start_ms,
                    start_date_time=start_iso,
                    end_date_time=end_iso,
                    practitioner_to_config={},
                )
                day_list.append(current)
            current.practitioner_to_config.setdefault(  # type: ignore[union-attr]
                pid_text[slot.practitioner_id], slot.scheduler_config_id
            )
    else:
        for slot in result.slots:
            first.setdefault(slot.practitioner_id, instant(slot.start)[0])
        load = day_load(result.busy, result.time_zone)
        for slot in e.assign_unselectable(result.slots, load):
            start_ms, start_iso = instant(slot.start)
            by_date.setdefault(e.lobbie_date_key(slot.start.date()), []).append(
                s.AvailableSlot(
                    start_unix=start_ms,
                    start_date_time=start_iso,
                    end_date_time=instant(slot.end)[1],
                    practitioner_id=slot.practitioner_id,
                    scheduler_config_id=slot.scheduler_config_id,
                )
            )
    practitioners = [
        s.PractitionerAvailability(
            practitioner_id=pid,
            display_name=names.get(pid, ""),
            first_available_slot=first.get(pid),
        )
        for pid in result.practitioner_ids
    ]
    return s.Availability(
        are_practitioners_selectable=result.selectable,
        time_zone=result.time_zone,
        practitioners=practitioners,
        slots_by_date=by_date,
    )
