"""Pure slot engine: scheduler configs + busy times + now -> bookable slots.

No I/O, no database, no app imports: only the standard library (``zoneinfo``) and ``msgspec``.
The semantics (grid, filters, DST decisions, ranking) are described in ``docs/availability.md``;
the short version:

* Wall-clock rules/overrides are expanded per local date of the config's IANA zone into a grid
  anchored at each window's start. Grid times are resolved to instants at their *first*
  occurrence; wall times that do not exist (spring-forward gap) give no slot.
* A slot lasts ``duration`` of real elapsed time and must end by the window end's instant.
* Filters: blocks, busy (widened by the config's buffers), notice, forward limit, the requested
  range, ``max_per_day`` and the appointment type.

Internally every instant is an ``int`` of seconds since the Unix epoch (UTC), so the result never
depends on the process time zone or locale. Instants are compared by value, never as ``datetime``
objects (same-``tzinfo`` comparisons of aware datetimes ignore ``fold``).
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import msgspec

__all__ = [
    "OVERRIDE",
    "RULE",
    "Block",
    "Busy",
    "Override",
    "Rule",
    "SchedulerConfig",
    "Slot",
    "SlotGroup",
    "Window",
    "assign_unselectable",
    "compute_slots",
    "first_available",
    "group_selectable",
    "lobbie_date_key",
    "nearest_slots",
    "to_unix_ms",
    "zone",
]

RULE = "RULE"
OVERRIDE = "OVERRIDE"

_UTC = UTC
_EPOCH = datetime(1970, 1, 1, tzinfo=_UTC)
_SECOND = timedelta(seconds=1)
_MILLISECOND = timedelta(milliseconds=1)
_DAY = 86_400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


# --------------------------------------------------------------------------------------------
# Value types
# --------------------------------------------------------------------------------------------


class Window(msgspec.Struct, frozen=True):
    """A wall-clock window inside one local day: ``start <= t < end``.

    ``end`` must be later than ``start`` on the same day; a window with ``end <= start`` is
    empty (so "24:00"/``time(0, 0)`` as an end is not supported: use 23:59 at the latest).
    Seconds are honoured, microseconds ignored.
    """

    start: time
    end: time


class Rule(msgspec.Struct, frozen=True):
    """A weekly wall-clock window. ``weekday``: 0=Mon .. 6=Sun (``date.weekday()``)."""

    weekday: int
    start: time
    end: time


class Override(msgspec.Struct, frozen=True):
    """Replaces the rules of one local date.

    ``unavailable=True`` closes the day. Otherwise non-empty ``windows`` replace that day's rules
    (slots say ``generated_from="OVERRIDE"``). An override with neither is ignored. Several
    overrides for one date: any ``unavailable`` closes it, else their windows are combined.
    """

    date: date
    unavailable: bool = False
    windows: tuple[Window, ...] = ()


class Block(msgspec.Struct, frozen=True):
    """An absolute time-off range ``[start, end)`` (aware datetimes)."""

    start: datetime
    end: datetime


class SchedulerConfig(msgspec.Struct, frozen=True):
    """One practitioner's bookable schedule at one location."""

    id: int
    practitioner_id: int
    location_id: int
    time_zone: str
    appointment_type_ids: tuple[int, ...]
    slot_interval_minutes: int
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    max_per_day: int | None = None
    rules: tuple[Rule, ...] = ()
    overrides: tuple[Override, ...] = ()
    blocks: tuple[Block, ...] = ()


class Busy(msgspec.Struct, frozen=True):
    """A live appointment or unexpired hold of a practitioner (at ANY location), its range
    ALREADY widened by its own buffers."""

    practitioner_id: int
    start: datetime
    end: datetime
    # counts toward that config's max_per_day on the local day (config zone) of `counted_at`
    scheduler_config_id: int | None = None
    # the appointment's real start; None = does not count toward max_per_day
    counted_at: datetime | None = None


class Slot(msgspec.Struct, frozen=True, gc=False):
    """A bookable slot. ``start``/``end`` are aware datetimes in the config's zone (``fold`` set
    on the repeated hour), so ``isoformat()`` carries the right UTC offset."""

    start: datetime
    end: datetime
    practitioner_id: int
    scheduler_config_id: int
    location_id: int
    generated_from: str  # "RULE" | "OVERRIDE"


class SlotGroup(msgspec.Struct):
    """One selectable time: every practitioner offering it, mapped to the config to book."""

    start: datetime
    end: datetime
    practitioner_to_config: dict[int, int]


# --------------------------------------------------------------------------------------------
# Instant helpers
# --------------------------------------------------------------------------------------------


def _require_aware(dt: datetime, name: str) -> None:
    if not isinstance(dt, datetime) or dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def _floor_s(dt: datetime) -> int:
    return (dt - _EPOCH) // _SECOND


def _ceil_s(dt: datetime) -> int:
    return -((_EPOCH - dt) // _SECOND)


def _ts(dt: datetime) -> int:
    """Whole seconds since the epoch (slots are always on whole seconds)."""
    return (dt - _EPOCH) // _SECOND


def to_unix_ms(dt: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware datetime (the API's ``…Unix`` fields)."""
    _require_aware(dt, "dt")
    return (dt - _EPOCH) // _MILLISECOND


@lru_cache(maxsize=512)
def zone(key: str) -> ZoneInfo:
    """Cached ``ZoneInfo`` (raises ``zoneinfo.ZoneInfoNotFoundError`` for an unknown key)."""
    return ZoneInfo(key)


class _Zone:
    """Per-call helper for one IANA zone: per-day offsets and a datetime cache."""

    __slots__ = ("days", "dts", "zi")

    def __init__(self, zi: ZoneInfo) -> None:
        self.zi = zi
        # ordinal -> (naive local midnight in epoch seconds, whole-day offset or None)
        self.days: dict[int, tuple[int, int | None]] = {}
        # epoch seconds -> aware datetime in this zone (shared by every config of the zone)
        self.dts: dict[int, datetime] = {}

    def _offset(self, d: date, sec: int, fold: int) -> int:
        dt = datetime(
            d.year,
            d.month,
            d.day,
            sec // 3600,
            (sec // 60) % 60,
            sec % 60,
            tzinfo=self.zi,
            fold=fold,
        )
        return dt.utcoffset() // _SECOND  # type: ignore[operator]

    def _offset_at(self, ts: int) -> int:
        return datetime.fromtimestamp(ts, self.zi).utcoffset() // _SECOND  # type: ignore[operator]

    def day(self, ordinal: int) -> tuple[int, int | None]:
        """Naive local midnight (epoch seconds) and the day's offset, or ``None`` when the
        offset changes during that local day (a transition day: resolve wall times exactly)."""
        got = self.days.get(ordinal)
        if got is None:
            a = self._offset(date.fromordinal(ordinal), 0, 0)
            b = self._offset(date.fromordinal(ordinal + 1), 0, 0)
            got = ((ordinal - _EPOCH_ORDINAL) * _DAY, a if a == b else None)
            self.days[ordinal] = got
        return got

    def local_ordinal(self, ts: int) -> int:
        return datetime.fromtimestamp(ts, self.zi).toordinal()

    def resolve_start(self, d: date, naive: int, sec: int) -> int | None:
        """First occurrence of a wall time; ``None`` if it falls in a spring-forward gap."""
        off0 = self._offset(d, sec, 0)
        off1 = self._offset(d, sec, 1)
        if off0 < off1:  # PEP 495: in a gap fold=0 uses the earlier (smaller) offset
            return None
        return naive - off0

    def resolve_end(self, d: date, naive: int, sec: int) -> int:
        """The earliest instant whose wall clock reads ``>= sec``: the first occurrence of an
        ambiguous time, or the instant of the jump for a time inside a gap."""
        off0 = self._offset(d, sec, 0)
        off1 = self._offset(d, sec, 1)
        if off0 >= off1:
            return naive - off0
        lo, hi = naive - off1, naive - off0  # lo is before the jump, hi is at or after it
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._offset_at(mid) == off0:
                lo = mid
            else:
                hi = mid
        return hi


# --------------------------------------------------------------------------------------------
# compute_slots
# --------------------------------------------------------------------------------------------


def _wall_seconds(t: time) -> int:
    return t.hour * 3600 + t.minute * 60 + t.second


def _merge(intervals: list[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Merge closed integer intervals ``[a, b]`` into sorted disjoint start/end lists."""
    intervals.sort()
    starts: list[int] = []
    ends: list[int] = []
    for a, b in intervals:
        if b < a:
            continue
        if ends and a <= ends[-1] + 1:
            if b > ends[-1]:
                ends[-1] = b
        else:
            starts.append(a)
            ends.append(b)
    return starts, ends


def _day_windows(
    config: SchedulerConfig,
) -> tuple[dict[int, tuple[tuple[int, int], ...]], dict[int, tuple[tuple[int, int], ...]]]:
    """(weekday -> windows, ordinal -> override windows); windows as wall seconds, sorted."""
    by_weekday: dict[int, set[tuple[int, int]]] = {}
    for r in config.rules:
        ws, we = _wall_seconds(r.start), _wall_seconds(r.end)
        if we > ws:
            by_weekday.setdefault(r.weekday, set()).add((ws, we))
    closed: set[int] = set()
    by_date: dict[int, set[tuple[int, int]]] = {}
    for o in config.overrides:
        ordinal = o.date.toordinal()
        if o.unavailable:
            closed.add(ordinal)
        elif o.windows:
            wins = by_date.setdefault(ordinal, set())
            for w in o.windows:
                ws, we = _wall_seconds(w.start), _wall_seconds(w.end)
                if we > ws:
                    wins.add((ws, we))
    overrides = {o: tuple(sorted(w)) for o, w in by_date.items()}
    overrides.update({o: () for o in closed})
    return {k: tuple(sorted(v)) for k, v in by_weekday.items()}, overrides


def compute_slots(
    configs: Iterable[SchedulerConfig],
    *,
    duration_minutes: int,
    busy: Iterable[Busy],
    now: datetime,
    min_notice: timedelta,
    max_ahead: timedelta | None,
    range_start: datetime,
    range_end: datetime,
    appointment_type_id: int | None = None,
) -> list[Slot]:
    """Every bookable slot of ``configs`` whose start is in ``[range_start, range_end)``.

    Sorted by (start instant, practitioner_id, scheduler_config_id), without duplicates (a
    config id given twice is used once; overlapping windows yield each start once).
    ``busy`` may contain items of any practitioner; only those of the configs' practitioners
    are used. Raises ``ValueError`` for naive datetimes or a non-positive duration/interval.
    """
    if duration_minutes <= 0:
        raise ValueError("duration_minutes must be positive")
    for name, value in (("now", now), ("range_start", range_start), ("range_end", range_end)):
        _require_aware(value, name)
    dur = duration_minutes * 60

    lo = max(_ceil_s(range_start), _ceil_s(now + min_notice))  # earliest allowed start
    hi = _ceil_s(range_end) - 1  # latest allowed start (inclusive)
    if max_ahead is not None:
        hi = min(hi, _floor_s(now + max_ahead))
    if lo > hi:
        return []

    chosen: list[SchedulerConfig] = []
    seen: set[int] = set()
    for c in sorted(configs, key=lambda c: (c.practitioner_id, c.id)):
        if c.id in seen:
            continue
        seen.add(c.id)
        if c.slot_interval_minutes <= 0:
            raise ValueError(f"scheduler config {c.id}: slot_interval_minutes must be positive")
        if appointment_type_id is not None and appointment_type_id not in c.appointment_type_ids:
            continue
        chosen.append(c)
    if not chosen:
        return []

    pids = {c.practitioner_id for c in chosen}
    capped = {c.id for c in chosen if c.max_per_day is not None}
    busy_by_pid: dict[int, list[tuple[int, int]]] = {p: [] for p in pids}
    counted: dict[int, list[datetime]] = {}
    floor, ceil = math.floor, math.ceil
    for b in busy:
        if b.practitioner_id in pids:
            if b.start.utcoffset() is None or b.end.utcoffset() is None:
                raise ValueError("Busy.start and Busy.end must be timezone-aware datetimes")
            s, e = floor(b.start.timestamp()), ceil(b.end.timestamp())
            if e > s:
                busy_by_pid[b.practitioner_id].append((s, e))
        if b.counted_at is not None and b.scheduler_config_id in capped:
            _require_aware(b.counted_at, "Busy.counted_at")
            counted.setdefault(b.scheduler_config_id, []).append(b.counted_at)

    # Every offered start is encoded as one int key: ts * m + config_index * 2 + is_override.
    # Configs are indexed in (practitioner_id, id) order, so sorting the keys sorts the slots by
    # (start, practitioner_id, scheduler_config_id), and equal keys are duplicates.
    m = 2 * len(chosen)
    keys: list[int] = []
    zones: dict[str, _Zone] = {}
    infos: list[tuple[int, int, int, str, _Zone]] = []
    for index, c in enumerate(chosen):
        z = zones.get(c.time_zone)
        if z is None:
            z = zones[c.time_zone] = _Zone(zone(c.time_zone))
        for source in (RULE, OVERRIDE):
            infos.append((c.practitioner_id, c.id, c.location_id, source, z))
        _config_keys(c, z, dur, lo, hi, busy_by_pid[c.practitioner_id], counted, keys, m, index)

    keys.sort()
    out: list[Slot] = []
    append = out.append
    fromtimestamp = datetime.fromtimestamp
    previous = None
    for key in keys:
        if key == previous:
            continue
        previous = key
        s, r = divmod(key, m)
        pid, cid, loc, source, z = infos[r]
        dts = z.dts
        start = dts.get(s)
        if start is None:
            start = dts[s] = fromtimestamp(s, z.zi)
        end = dts.get(s + dur)
        if end is None:
            end = dts[s + dur] = fromtimestamp(s + dur, z.zi)
        append(Slot(start, end, pid, cid, loc, source))
    return out


def _config_keys(
    c: SchedulerConfig,
    z: _Zone,
    dur: int,
    lo: int,
    hi: int,
    busy: list[tuple[int, int]],
    counted: Mapping[int, list[datetime]],
    keys: list[int],
    m: int,
    index: int,
) -> None:
    """Append the keys of every offered start of one config (see ``compute_slots``)."""
    if c.max_per_day is not None and c.max_per_day <= 0:
        return
    step = c.slot_interval_minutes * 60
    bb = c.buffer_before_minutes * 60
    ba = c.buffer_after_minutes * 60

    # Forbidden starts as closed integer intervals. A start s is excluded by
    #   busy  [p0, p1): p0 < s + dur + ba and s - bb < p1  <=>  p0 - dur - ba < s < p1 + bb
    #   block [b0, b1): b0 < s + dur      and s < b1       <=>  b0 - dur      < s < b1
    forbidden = [(p0 - dur - ba + 1, p1 + bb - 1) for p0, p1 in busy]
    for blk in c.blocks:
        _require_aware(blk.start, "Block.start")
        _require_aware(blk.end, "Block.end")
        b0, b1 = _floor_s(blk.start), _ceil_s(blk.end)
        if b1 > b0:
            forbidden.append((b0 - dur + 1, b1 - 1))
    f_starts, f_ends = _merge(forbidden)
    n_forbidden = len(f_starts)

    full_days: set[int] = set()
    if c.max_per_day is not None:
        per_day: dict[int, int] = {}
        for at in counted.get(c.id, ()):
            o = at.astimezone(z.zi).toordinal()
            per_day[o] = per_day.get(o, 0) + 1
        full_days = {o for o, n in per_day.items() if n >= c.max_per_day}

    by_weekday, overrides = _day_windows(c)
    mstep = m * step
    extend = keys.extend

    for ordinal in range(z.local_ordinal(lo), z.local_ordinal(hi) + 1):
        if ordinal in full_days:
            continue
        wins = overrides.get(ordinal)
        if wins is None:
            wins = by_weekday.get((ordinal - 1) % 7)  # date(1, 1, 1) (ordinal 1) is a Monday
            r = 2 * index
        else:
            r = 2 * index + 1
        if not wins:
            continue
        naive_midnight, off = z.day(ordinal)

        if off is None:  # a UTC offset change happens on this local day: resolve exactly
            d = date.fromordinal(ordinal)
            for ws, we in wins:
                w_end = z.resolve_end(d, naive_midnight + we, we)
                sec = ws
                while sec < we:
                    s = z.resolve_start(d, naive_midnight + sec, sec)
                    if s is not None:
                        if s + dur > w_end:
                            break  # first-occurrence starts increase with wall time
                        i = bisect_right(f_starts, s) - 1
                        if lo <= s <= hi and not (i >= 0 and s <= f_ends[i]):
                            keys.append(s * m + r)
                    sec += step
            continue

        base = naive_midnight - off  # the whole local day has one offset
        for ws, we in wins:
            s = base + ws
            if s < lo:
                s += -((s - lo) // step) * step  # first grid point >= lo
            last = min(base + we - dur, hi)
            # Walk the grid s, s + step, .. last, skipping the forbidden intervals.
            i = bisect_left(f_ends, s)
            while s <= last:
                while i < n_forbidden and f_ends[i] < s:
                    i += 1  # interval i lies entirely before s
                if i < n_forbidden and f_starts[i] <= s:  # s is forbidden: jump past interval i
                    s += ((f_ends[i] - s) // step + 1) * step
                    continue
                stop = last if i == n_forbidden else min(last, f_starts[i] - 1)
                count = (stop - s) // step + 1
                extend(range(s * m + r, (s + (count - 1) * step) * m + r + 1, mstep))
                s += count * step


# --------------------------------------------------------------------------------------------
# Response shaping helpers (pure)
# --------------------------------------------------------------------------------------------


def lobbie_date_key(d: date) -> str:
    """Lobbie's ``M/d/yyyy`` date key without zero padding: ``date(2026, 3, 9)`` -> "3/9/2026"."""
    return f"{d.month}/{d.day}/{d.year}"


def _order(slots: Iterable[Slot]) -> list[tuple[int, int, int, int, Slot]]:
    return sorted(
        ((_ts(s.start), _ts(s.end), s.practitioner_id, s.scheduler_config_id, s) for s in slots),
        key=lambda t: t[:4],
    )


def group_selectable(slots: Iterable[Slot]) -> dict[str, list[SlotGroup]]:
    """Selectable-practitioner shape: date key (local date of the slot start, in the slot's
    zone) -> one ``SlotGroup`` per distinct (start, end) instant pair, in time order, mapping
    each practitioner to the config to book. A practitioner offering the same time through
    several configs maps to the lowest config id. Days without slots are absent."""
    out: dict[str, list[SlotGroup]] = {}
    last_key: tuple[int, int] | None = None
    group: SlotGroup | None = None
    for s_ts, e_ts, pid, cid, slot in _order(slots):
        if group is None or (s_ts, e_ts) != last_key:
            last_key = (s_ts, e_ts)
            group = SlotGroup(slot.start, slot.end, {})
            out.setdefault(lobbie_date_key(slot.start.date()), []).append(group)
        group.practitioner_to_config.setdefault(pid, cid)
    return out


def assign_unselectable(
    slots: Iterable[Slot], day_load: Mapping[tuple[int, date], int]
) -> list[Slot]:
    """Non-selectable shape: one slot per start instant, in time order.

    Ranking among the slots sharing a start: fewest bookings of the practitioner on that local
    day (``day_load[(practitioner_id, slot.start.date())]``, missing = 0), then the lowest
    practitioner id, then the lowest scheduler config id. ``day_load`` is not updated as slots
    are assigned: it reflects existing bookings only.
    """
    best: dict[int, tuple[int, int, int, Slot]] = {}
    for s_ts, _e, pid, cid, slot in _order(slots):
        rank = (day_load.get((pid, slot.start.date()), 0), pid, cid)
        cur = best.get(s_ts)
        if cur is None or rank < cur[:3]:
            best[s_ts] = (*rank, slot)
    return [best[ts][3] for ts in sorted(best)]


def first_available(slots: Iterable[Slot]) -> dict[int, datetime]:
    """practitioner_id -> start of that practitioner's earliest slot (keys in ascending order)."""
    earliest: dict[int, tuple[int, datetime]] = {}
    for slot in slots:
        ts = _ts(slot.start)
        cur = earliest.get(slot.practitioner_id)
        if cur is None or ts < cur[0]:
            earliest[slot.practitioner_id] = (ts, slot.start)
    return {pid: earliest[pid][1] for pid in sorted(earliest)}


def nearest_slots(slots: Iterable[Slot], target: datetime, limit: int = 3) -> list[Slot]:
    """Up to ``limit`` slots whose start is closest to ``target`` (ties: earlier first), in time
    order — for the ``alternatives`` of a ``slot_unavailable`` conflict."""
    _require_aware(target, "target")
    t = _floor_s(target)
    ranked = sorted(
        slots,
        key=lambda s: (
            abs(_ts(s.start) - t),
            _ts(s.start),
            s.practitioner_id,
            s.scheduler_config_id,
        ),
    )[: max(limit, 0)]
    return sorted(ranked, key=lambda s: (_ts(s.start), s.practitioner_id, s.scheduler_config_id))
