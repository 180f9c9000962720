"""Search result -> the Lobbie availability response (shared by partner and widget APIs).

The engine returns slots sorted by (start instant, practitioner, config) and hands out one
datetime object per instant and zone (memoised across calls), so grouping is a single pass and
each instant's `startUnix`, ISO text and date key are computed once per process, not per
request: `_instant` memoises them by object identity.
"""

from __future__ import annotations

from datetime import datetime

from app.availability import engine as e
from app.availability import schemas as s
from app.availability.service import SearchResult, day_load

_Instant = tuple[datetime, int, str, str]  # (the object, unix ms, ISO text, M/d/yyyy key)
_MEMO: dict[int, _Instant] = {}
_MEMO_LIMIT = 100_000


def _instant(dt: datetime) -> _Instant:
    # the memo keeps `dt` alive, so its id cannot be reused while the entry exists
    hit = _MEMO.get(id(dt))
    if hit is None or hit[0] is not dt:
        if len(_MEMO) >= _MEMO_LIMIT:
            _MEMO.clear()
        hit = _MEMO[id(dt)] = (dt, e.to_unix_ms(dt), dt.isoformat(), e.lobbie_date_key(dt.date()))
    return hit


def availability_response(result: SearchResult, names: dict[int, str]) -> s.Availability:
    first: dict[int, int] = {}
    by_date: dict[str, list[s.AvailableSlot]] = {}
    if result.selectable:
        day_key, day_list = "", []
        mapping: dict[str, int] = {}
        start_object = end_object = None
        current: s.AvailableSlot | None = None
        pid_text = {pid: str(pid) for pid in result.practitioner_ids}
        for slot in result.slots:
            if slot.start is not start_object or slot.end is not end_object:
                start_object, end_object = slot.start, slot.end
                _, start_ms, start_iso, key = _instant(start_object)
                end_iso = _instant(end_object)[2]
                if (
                    current is None
                    or start_ms != current.start_unix
                    or end_iso != current.end_date_time
                ):
                    if key != day_key:
                        day_key, day_list = key, by_date.setdefault(key, [])
                    mapping = {}
                    current = s.AvailableSlot(
                        start_unix=start_ms,
                        start_date_time=start_iso,
                        end_date_time=end_iso,
                        practitioner_to_config=mapping,
                    )
                    day_list.append(current)
            pid = slot.practitioner_id
            if pid not in first:
                first[pid] = current.start_unix  # type: ignore[union-attr]
            mapping.setdefault(pid_text[pid], slot.scheduler_config_id)
    else:
        for slot in result.slots:
            if slot.practitioner_id not in first:
                first[slot.practitioner_id] = _instant(slot.start)[1]
        load = day_load(result.busy, result.time_zone)
        for slot in e.assign_unselectable(result.slots, load):
            _, start_ms, start_iso, key = _instant(slot.start)
            by_date.setdefault(key, []).append(
                s.AvailableSlot(
                    start_unix=start_ms,
                    start_date_time=start_iso,
                    end_date_time=_instant(slot.end)[2],
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
