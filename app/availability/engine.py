"""Pure slot engine: scheduler configs + busy times + now -> bookable slots.

No I/O, no database, no app imports: only the standard library (``zoneinfo``) and ``msgspec``.
The semantics (grid, filters, DST decisions, ranking) are in ``docs/availability.md``; in short:

* Wall-clock rules/overrides are expanded per local date of the config's IANA zone into a grid
  anchored at each window's start. Grid times resolve to instants at their *first* occurrence;
  wall times that do not exist (spring-forward gap) give no slot.
* A slot lasts ``duration`` of real elapsed time and must end by the window end's instant.
* Filters: blocks, busy (widened by the config's buffers), notice, forward limit, the requested
  range, ``max_per_day`` and the appointment type.

Internally every instant is an ``int`` of seconds since the Unix epoch, so results never depend
on the process time zone or locale. Instants are compared as numbers, never as ``datetime``
objects (comparing two aware datetimes that share a ``tzinfo`` ignores ``fold``).

The only state is process-wide memos: per-zone facts (UTC offset per local day, and the aware
``datetime`` of an instant) and per config object what its rules give (windows per weekday);
they are bounded and never change a result.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from operator import attrgetter
from typing import NamedTuple
from zoneinfo import ZoneInfo

import msgspec

__all__ = [
    "OVERRIDE",
    "RULE",
    "Block",
    "Busy",
    "BusySpan",
    "ConfigStarts",
    "Override",
    "Rule",
    "SchedulerConfig",
    "Slot",
    "SlotGroup",
    "Window",
    "assign_unselectable",
    "ceil_seconds",
    "compute_slots",
    "compute_starts",
    "first_available",
    "group_selectable",
    "lobbie_date_key",
    "local_datetime",
    "nearest_slots",
    "to_slots",
    "to_unix_ms",
    "utc_datetime",
    "zone",
]

RULE = "RULE"
OVERRIDE = "OVERRIDE"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_MILLISECOND = timedelta(milliseconds=1)
_DAY = 86_400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_START = attrgetter("start")
_AFTER_ALL = 1 << 62  # epoch seconds later than any instant a datetime can hold


# --------------------------------------------------------------------------------------------
# Value types
# --------------------------------------------------------------------------------------------


class Window(msgspec.Struct, frozen=True):
    """A wall-clock window inside one local day: ``start <= t < end``.

    ``end`` must be later than ``start`` on the same day; a window with ``end <= start`` is
    empty (so "24:00" / ``time(0, 0)`` as an end is not supported: end at 23:59 at the latest).
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

    ``unavailable=True`` closes the day; otherwise non-empty ``windows`` replace that day's rules
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
    """One practitioner's bookable schedule at one location (``time_zone``: its IANA zone)."""

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

    def span(self) -> BusySpan:
        """The same busy time in epoch seconds (start and counted_at floored, end ceiled)."""
        bs, be, at = self.start, self.end, self.counted_at
        # (a naive datetime's timestamp() would silently use the process time zone)
        if bs.tzinfo is None or be.tzinfo is None:
            raise ValueError("Busy.start and Busy.end must be timezone-aware datetimes")
        if at is not None and at.tzinfo is None:
            raise ValueError("Busy.counted_at must be a timezone-aware datetime")
        # timestamp() is exact for whole seconds and never rounds a fraction to an integer
        return BusySpan(
            self.practitioner_id,
            math.floor(bs.timestamp()),
            math.ceil(be.timestamp()),
            self.scheduler_config_id,
            None if at is None else math.floor(at.timestamp()),
        )


class BusySpan(msgspec.Struct, frozen=True, gc=False):
    """A `Busy` in epoch seconds, as the engine computes with it. A database can hand these
    over directly (no datetimes to build and convert back); `Busy.span()` makes one."""

    practitioner_id: int
    start: int
    end: int
    scheduler_config_id: int | None = None
    counted_at: int | None = None
    # a hold stops blocking at this instant (None: an appointment). Not read by the engine:
    # callers use it to know how long a result stays right.
    expires_at: datetime | None = None


class Slot(msgspec.Struct, frozen=True, gc=False):
    """A bookable slot. ``start``/``end`` are aware datetimes in the config's zone (``fold`` set
    on a repeated hour), so ``isoformat()`` carries the right UTC offset."""

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
# Instants and zones
# --------------------------------------------------------------------------------------------


_CACHE_LIMIT = 200_000  # entries per zone memo before it is dropped and rebuilt
# id(datetime) -> (that datetime, epoch seconds) for every datetime the engine made, so the
# shaping helpers need not recompute timestamps (slow for ZoneInfo datetimes). The stored
# object keeps its id from being reused; a hit is only trusted if it `is` the same object.
_STAMPS: dict[int, tuple[datetime, int]] = {}


def _require_aware(dt: datetime, name: str) -> None:
    if not isinstance(dt, datetime) or dt.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")


def _floor_s(dt: datetime) -> int:
    return (dt - _EPOCH) // _SECOND


def _ceil_s(dt: datetime) -> int:
    return -((_EPOCH - dt) // _SECOND)


def ceil_seconds(dt: datetime) -> int:
    """Epoch seconds of an aware datetime, rounded up."""
    return _ceil_s(dt)


def utc_datetime(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def local_datetime(time_zone: str, ts: int) -> datetime:
    """The aware datetime of epoch second ``ts`` in ``time_zone`` (memoised, shared)."""
    return _zone_memo(time_zone).dt(ts)


def to_unix_ms(dt: datetime) -> int:
    """Milliseconds since the Unix epoch of an aware datetime (the API's ``…Unix`` fields)."""
    hit = _STAMPS.get(id(dt))
    if hit is not None and hit[0] is dt:  # a datetime made by the engine (whole seconds)
        return hit[1] * 1000
    _require_aware(dt, "dt")
    return (dt - _EPOCH) // _MILLISECOND


@lru_cache(maxsize=512)
def zone(key: str) -> ZoneInfo:
    """Cached ``ZoneInfo`` (raises ``zoneinfo.ZoneInfoNotFoundError`` for an unknown key)."""
    return ZoneInfo(key)


class _Zone:
    """Memoised facts about one IANA zone, shared by every call in the process."""

    __slots__ = ("days", "dts", "zi")

    def __init__(self, zi: ZoneInfo) -> None:
        self.zi = zi
        # local ordinal -> (naive local midnight in epoch seconds, whole-day offset or None)
        self.days: dict[int, tuple[int, int | None]] = {}
        # epoch seconds -> aware datetime in this zone; equal instants share one object
        self.dts: dict[int, datetime] = {}

    def trim(self) -> None:
        if len(self.dts) > _CACHE_LIMIT:
            self.dts = {}
        if len(self.days) > _CACHE_LIMIT:
            self.days = {}
        if len(_STAMPS) > 4 * _CACHE_LIMIT:
            _STAMPS.clear()

    def dt(self, ts: int) -> datetime:
        value = self.dts.get(ts)
        if value is None:
            value = self.dts[ts] = datetime.fromtimestamp(ts, self.zi)
            _STAMPS[id(value)] = (value, ts)
        return value

    def _offset(self, d: date, sec: int, fold: int) -> int:
        dt = datetime(
            d.year, d.month, d.day, sec // 3600, (sec // 60) % 60, sec % 60,
            tzinfo=self.zi, fold=fold,
        )  # fmt: skip
        return dt.utcoffset() // _SECOND  # type: ignore[operator]

    def day(self, ordinal: int) -> tuple[int, int | None]:
        """Naive local midnight (epoch seconds) and the day's UTC offset, or ``None`` when the
        offset changes during that local day (a transition day: wall times resolved exactly).
        Assumes no zone has two offset changes cancelling out within one local day."""
        got = self.days.get(ordinal)
        if got is None:
            a = self._offset(date.fromordinal(ordinal), 0, 0)
            b = self._offset(date.fromordinal(ordinal + 1), 0, 0)
            got = self.days[ordinal] = ((ordinal - _EPOCH_ORDINAL) * _DAY, a if a == b else None)
        return got

    def resolve_start(self, d: date, naive: int, sec: int) -> int | None:
        """First occurrence of a wall time; ``None`` if it falls in a spring-forward gap."""
        off0 = self._offset(d, sec, 0)
        off1 = self._offset(d, sec, 1)
        if off0 < off1:  # PEP 495: inside a gap, fold=0 uses the earlier (smaller) offset
            return None
        return naive - off0

    def resolve_end(self, d: date, naive: int, sec: int) -> int:
        """The earliest instant whose wall clock reads ``>= sec``: the first occurrence of an
        ambiguous time, or the instant of the jump for a time inside a gap."""
        off0 = self._offset(d, sec, 0)
        off1 = self._offset(d, sec, 1)
        if off0 >= off1:
            return naive - off0
        lo, hi = naive - off1, naive - off0  # lo is before the jump, hi at or after it
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if datetime.fromtimestamp(mid, self.zi).utcoffset() // _SECOND == off0:  # type: ignore[operator]
                lo = mid
            else:
                hi = mid
        return hi


_ZONES: dict[str, _Zone] = {}


def _zone_memo(key: str) -> _Zone:
    z = _ZONES.get(key)
    if z is None:
        z = _ZONES.setdefault(key, _Zone(zone(key)))
    z.trim()
    return z


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


_Windows = tuple[tuple[int, int], ...]


# a day's windows, and whether their grid points cannot interleave (each window's last possible
# start precedes the next window's start): those are walked in order with no de-duplication
_Day = tuple[_Windows, bool]


class _Derived(NamedTuple):
    """What a config's rules give, whatever the request: per visit length (s), its days
    (weekday -> `_Day`, local ordinal of an override -> `_Day`; see `_windows_of`)."""

    config: SchedulerConfig
    days: dict[int, tuple[dict[int, _Day], dict[int, _Day]]]


# id(config) -> what its rules give: configs are immutable and usually reused across calls
# (the availability cache keeps them), so their rules are turned into windows once
_DERIVED: dict[int, _Derived] = {}


def _days(config: SchedulerConfig, dur: int) -> tuple[dict[int, _Day], dict[int, _Day]]:
    derived = _DERIVED.get(id(config))
    if derived is None or derived.config is not config:
        if len(_DERIVED) > 10_000:
            _DERIVED.clear()
        derived = _DERIVED[id(config)] = _Derived(config, {})
    found = derived.days.get(dur)
    if found is None:
        by_weekday, overrides = _windows_of(config)
        found = derived.days[dur] = (
            {k: (wins, _simple(wins, dur)) for k, wins in by_weekday.items()},
            {k: (wins, _simple(wins, dur)) for k, wins in overrides.items()},
        )
    return found


def _simple(wins: _Windows, dur: int) -> bool:
    return all(wins[j][1] - dur < wins[j + 1][0] for j in range(len(wins) - 1))


def _windows_of(config: SchedulerConfig) -> tuple[dict[int, _Windows], dict[int, _Windows]]:
    """(weekday -> windows, local ordinal -> override windows), as sorted wall-second pairs.
    A closed date maps to ``()``."""
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
    overrides.update(dict.fromkeys(closed, ()))
    return {k: tuple(sorted(v)) for k, v in by_weekday.items()}, overrides


class ConfigStarts(msgspec.Struct, frozen=True, gc=False):
    """One config's bookable starts, in epoch seconds and ascending order. ``runs`` says where
    the source changes: ``(source, end index)`` pairs covering ``starts`` in order."""

    config: SchedulerConfig
    starts: list[int]
    runs: list[tuple[str, int]]


def compute_starts(
    configs: Iterable[SchedulerConfig],
    *,
    duration_minutes: int,
    busy: Iterable[Busy | BusySpan],
    now: datetime,
    min_notice: timedelta,
    max_ahead: timedelta | None,
    range_start: datetime,
    range_end: datetime,
    appointment_type_id: int | None = None,
) -> list[ConfigStarts]:
    """The bookable starts of ``configs`` in ``[range_start, range_end)`` as plain integers, one
    ``ConfigStarts`` per config used (in (practitioner_id, id) order; a config id given twice is
    used once). No per-slot objects: ``compute_slots`` and the response shaping build what they
    need from these. Same rules and errors as ``compute_slots``."""
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

    busy_by_pid: dict[int, list[BusySpan]] = {c.practitioner_id: [] for c in chosen}
    counted: dict[int, list[int]] = {c.id: [] for c in chosen if c.max_per_day is not None}
    spans_of = busy_by_pid.get
    for b in busy:  # the hottest loop of a search: kept to the bare minimum
        if type(b) is not BusySpan:
            b = b.span()
        mine = spans_of(b.practitioner_id)
        if mine is not None and b.end > b.start:
            mine.append(b)
        if counted and b.counted_at is not None and b.scheduler_config_id in counted:
            counted[b.scheduler_config_id].append(b.counted_at)
    for mine in busy_by_pid.values():
        mine.sort(key=_START)  # the grid walk needs forbidden intervals in start order
    found = []
    for c in chosen:
        found.append(_config_slots(
            c, _zone_memo(c.time_zone), dur, lo, hi,
            busy_by_pid[c.practitioner_id], counted.get(c.id, ()),
        ))  # fmt: skip
    return found


def compute_slots(
    configs: Iterable[SchedulerConfig],
    *,
    duration_minutes: int,
    busy: Iterable[Busy | BusySpan],
    now: datetime,
    min_notice: timedelta,
    max_ahead: timedelta | None,
    range_start: datetime,
    range_end: datetime,
    appointment_type_id: int | None = None,
) -> list[Slot]:
    """Every bookable slot of ``configs`` whose start is in ``[range_start, range_end)``.

    Sorted by (start instant, practitioner_id, scheduler_config_id), without duplicates (a
    config id given twice is used once; overlapping windows yield each start once). ``busy``
    may hold items of any practitioner; only those of the configs' practitioners are used.
    Raises ``ValueError`` for naive datetimes or a non-positive duration/interval.
    """
    per_config = compute_starts(
        configs, duration_minutes=duration_minutes, busy=busy, now=now, min_notice=min_notice,
        max_ahead=max_ahead, range_start=range_start, range_end=range_end,
        appointment_type_id=appointment_type_id,
    )  # fmt: skip
    return to_slots(per_config, duration_minutes)


def to_slots(per_config: list[ConfigStarts], duration_minutes: int) -> list[Slot]:
    """``compute_starts`` output as ``Slot``s in (start, practitioner_id, config id) order."""
    dur = duration_minutes * 60
    out: list[Slot] = []
    for found in per_config:
        _emit(found, _zone_memo(found.config.time_zone), dur, out)
    if len(per_config) <= 1:
        return out  # one config's slots are already in start order
    # configs come in (practitioner_id, id) order, so a stable sort by start instant gives
    # (start, practitioner_id, scheduler_config_id) order without comparing datetimes
    order = sorted(range(len(out)), key=[s for f in per_config for s in f.starts].__getitem__)
    return [out[i] for i in order]


def _config_slots(
    c: SchedulerConfig,
    z: _Zone,
    dur: int,
    lo: int,
    hi: int,
    busy: list[BusySpan],
    counted: Iterable[int],
) -> ConfigStarts:
    """One config's starts in ``[lo, hi]``, in order (``busy``: its practitioner's non-empty
    busy times, in start order)."""
    pending: list[int] = []
    runs: list[tuple[str, int]] = []
    if c.max_per_day is not None and c.max_per_day <= 0:
        return ConfigStarts(c, pending, runs)
    step = c.slot_interval_minutes * 60
    bb = c.buffer_before_minutes * 60
    ba = c.buffer_after_minutes * 60

    # Forbidden starts as closed integer intervals. A start s is excluded by
    #   busy  [p0, p1): p0 < s + dur + ba and s - bb < p1  <=>  p0 - dur - ba < s < p1 + bb
    #   block [b0, b1): b0 < s + dur      and s < b1       <=>  b0 - dur      < s < b1
    # The grid walk below needs them only sorted by start (`busy` is): an interval nested in or
    # overlapping an earlier one is skipped or jumped past in turn. Merging them (a Python loop
    # over every busy time) is left to the days that look them up by bisection.
    f_starts = [b.start - (dur + ba - 1) for b in busy]
    f_ends = [b.end + (bb - 1) for b in busy]
    if c.blocks:
        forbidden = list(zip(f_starts, f_ends, strict=True))
        for blk in c.blocks:
            _require_aware(blk.start, "Block.start")
            _require_aware(blk.end, "Block.end")
            b0, b1 = _floor_s(blk.start), _ceil_s(blk.end)
            if b1 > b0:
                forbidden.append((b0 - dur + 1, b1 - 1))
        forbidden.sort()
        f_starts = [a for a, _ in forbidden]
        f_ends = [b for _, b in forbidden]
    n_forbidden = len(f_starts)
    # a sentinel after the last interval: the walk needs no bounds checks
    f_starts.append(_AFTER_ALL)
    f_ends.append(_AFTER_ALL)
    merged: tuple[list[int], list[int]] | None = None

    full_days: set[int] = set()
    if c.max_per_day is not None:
        per_day: dict[int, int] = {}
        for at in counted:
            o = z.dt(at).toordinal()
            per_day[o] = per_day.get(o, 0) + 1
        full_days = {o for o, n in per_day.items() if n >= c.max_per_day}

    by_weekday, overrides = _days(c, dur)
    source = RULE
    push = pending.extend
    get_override, get_rule, get_day = overrides.get, by_weekday.get, z.days.get
    i = 0  # forbidden-interval cursor; grid walks only move forward in time

    # One local day of slack each side (defensive: around a fall-back local dates are not
    # monotonic in time); slots outside [lo, hi] are clipped anyway.
    for ordinal in range(z.dt(lo).toordinal() - 1, z.dt(hi).toordinal() + 2):
        if ordinal in full_days:
            continue
        day = get_override(ordinal)
        if day is None:
            day = get_rule((ordinal - 1) % 7)  # date(1, 1, 1) (ordinal 1) is a Monday
            if day is None:
                continue
            day_source = RULE
        else:
            day_source = OVERRIDE
        wins, simple = day
        if not wins:
            continue
        if day_source is not source:
            if pending:
                runs.append((source, len(pending)))
            source = day_source
        naive_midnight, off = get_day(ordinal) or z.day(ordinal)

        if off is not None and simple:  # one UTC offset all day: plain arithmetic
            base = naive_midnight - off
            for ws, we in wins:
                s = base + ws
                if s < lo:
                    s += -((s - lo) // step) * step  # first grid point >= lo
                last = base + we - dur
                if last > hi:
                    last = hi
                # Walk the grid s, s + step, .. last, skipping the forbidden intervals.
                while s <= last:
                    while f_ends[i] < s:
                        i += 1  # interval i lies entirely before s
                    if f_starts[i] <= s:  # forbidden: jump past it
                        s += ((f_ends[i] - s) // step + 1) * step
                        continue
                    stop = last if f_starts[i] > last else f_starts[i] - 1
                    end = s + ((stop - s) // step + 1) * step
                    push(range(s, end, step))
                    s = end
            continue

        if off is not None:  # overlapping windows: de-duplicate their grid points
            base = naive_midnight - off
            found = {
                s
                for ws, we in wins
                for s in range(base + ws, min(base + we - dur, hi) + 1, step)
                if s >= lo
            }
        else:  # a UTC offset change happens on this local day: resolve each wall time exactly
            d = date.fromordinal(ordinal)
            found = set()
            for ws, we in wins:
                w_end = z.resolve_end(d, naive_midnight + we, we)
                sec = ws
                while sec < we:
                    s = z.resolve_start(d, naive_midnight + sec, sec)
                    if s is not None:
                        if s + dur > w_end:
                            break  # first-occurrence starts increase with wall time
                        if lo <= s <= hi:
                            found.add(s)
                    sec += step
        if merged is None:
            merged = _merge(list(zip(f_starts[:n_forbidden], f_ends[:n_forbidden], strict=True)))
        m_starts, m_ends = merged
        for s in sorted(found):  # explicit candidates: check each against forbidden intervals
            j = bisect_right(m_starts, s) - 1
            if j < 0 or s > m_ends[j]:
                pending.append(s)
    if pending and (not runs or runs[-1][1] < len(pending)):
        runs.append((source, len(pending)))
    return ConfigStarts(c, pending, runs)


def _emit(found: ConfigStarts, z: _Zone, dur: int, out: list[Slot]) -> None:
    c = found.config
    pid, cid, loc, dts, starts = c.practitioner_id, c.id, c.location_id, z.dts, found.starts
    begin = 0
    for source, end in found.runs:
        run = starts[begin:end]
        begin = end
        try:
            out.extend([Slot(dts[s], dts[s + dur], pid, cid, loc, source) for s in run])
        except KeyError:  # some datetimes are not memoised yet
            dt = z.dt
            out.extend([Slot(dt(s), dt(s + dur), pid, cid, loc, source) for s in run])


# --------------------------------------------------------------------------------------------
# Response shaping helpers (pure)
# --------------------------------------------------------------------------------------------


def lobbie_date_key(d: date) -> str:
    """Lobbie's ``M/d/yyyy`` date key without zero padding: ``date(2026, 3, 9)`` -> "3/9/2026"."""
    return f"{d.month}/{d.day}/{d.year}"


def _ts_of(dt: datetime) -> int:
    """Epoch seconds of an aware datetime; one the engine made comes from ``_STAMPS``."""
    hit = _STAMPS.get(id(dt))
    if hit is not None and hit[0] is dt:
        return hit[1]
    if dt.tzinfo is None:
        raise ValueError("slot times must be timezone-aware datetimes")
    return math.floor(dt.timestamp())


def _start_runs(slots: Iterable[Slot]) -> list[tuple[int, list[Slot]]]:
    """Slots grouped by start instant, in start order; each run keeps the input order.
    Engine output is already in order, and consecutive equal starts share one object."""
    runs: list[tuple[int, list[Slot]]] = []
    run: list[Slot] = []
    last_object: datetime | None = None
    last = None
    in_order = True
    for slot in slots:
        if slot.start is not last_object:
            last_object = slot.start
            ts = _ts_of(last_object)
            if ts != last:
                in_order = in_order and (last is None or ts > last)
                last = ts
                run = []
                runs.append((ts, run))
        run.append(slot)
    if not in_order:
        merged: dict[int, list[Slot]] = {}
        for ts, part in runs:
            merged.setdefault(ts, []).extend(part)
        runs = sorted(merged.items())
    return runs


def group_selectable(slots: Iterable[Slot]) -> dict[str, list[SlotGroup]]:
    """Shape for selectable practitioners: date key (``lobbie_date_key`` of the start's local
    date, in the slot's own zone) -> one ``SlotGroup`` per distinct (start, end) instant pair, in
    time order, mapping each practitioner (ascending) to the config to book. A practitioner
    offering the same time through several configs maps to the lowest config id. Days without
    slots are absent; keys are in chronological order."""
    out: dict[str, list[SlotGroup]] = {}
    day: date | None = None
    groups: list[SlotGroup] = []
    for _start, run in _start_runs(slots):
        by_end: dict[int, SlotGroup] = {}
        end_object: datetime | None = None
        mapping: dict[int, int] = {}
        for slot in run:
            if slot.end is not end_object:
                end_object = slot.end
                end = _ts_of(end_object)
                group = by_end.get(end)
                if group is None:
                    group = by_end[end] = SlotGroup(slot.start, slot.end, {})
                mapping = group.practitioner_to_config
            pid, cid = slot.practitioner_id, slot.scheduler_config_id
            if pid not in mapping or cid < mapping[pid]:
                mapping[pid] = cid
        if run[0].start.date() != day:
            day = run[0].start.date()
            groups = out.setdefault(lobbie_date_key(day), [])
        for end in sorted(by_end) if len(by_end) > 1 else by_end:
            group = by_end[end]
            mapping = group.practitioner_to_config
            if len(mapping) > 1 and list(mapping) != sorted(mapping):
                group.practitioner_to_config = dict(sorted(mapping.items()))
            groups.append(group)
    return out


def assign_unselectable(
    slots: Iterable[Slot], day_load: Mapping[tuple[int, date], int]
) -> list[Slot]:
    """Shape for non-selectable practitioners: one slot per start instant, in time order.

    Among the slots sharing a start the winner has, in order: the fewest bookings of its
    practitioner on that local day (``day_load[(practitioner_id, slot.start.date())]``, missing
    = 0), then the lowest practitioner id, then the lowest scheduler config id. ``day_load`` is
    not updated while assigning: it reflects existing bookings only.
    """

    def rank(slot: Slot) -> tuple[int, int, int]:
        pid = slot.practitioner_id
        load = day_load.get((pid, slot.start.date()), 0) if day_load else 0
        return load, pid, slot.scheduler_config_id

    return [run[0] if len(run) == 1 else min(run, key=rank) for _ts, run in _start_runs(slots)]


def first_available(slots: Iterable[Slot]) -> dict[int, datetime]:
    """practitioner_id -> start of that practitioner's earliest slot (keys ascending)."""
    earliest: dict[int, datetime] = {}
    for _ts, run in _start_runs(slots):
        for slot in run:
            if slot.practitioner_id not in earliest:
                earliest[slot.practitioner_id] = slot.start
    return {pid: earliest[pid] for pid in sorted(earliest)}


def nearest_slots(slots: Iterable[Slot], target: datetime, limit: int = 3) -> list[Slot]:
    """Up to ``limit`` slots whose start is closest to ``target`` (ties: earlier first), returned
    in start order — e.g. the ``alternatives`` of a ``slot_unavailable`` conflict."""
    _require_aware(target, "target")
    t = _floor_s(target)
    rows = [
        (ts, slot.practitioner_id, slot.scheduler_config_id, slot)
        for ts, run in _start_runs(slots)
        for slot in run
    ]
    rows.sort(key=lambda r: r[:3])
    picked = sorted(range(len(rows)), key=lambda k: (abs(rows[k][0] - t), k))[: max(limit, 0)]
    return [rows[k][3] for k in sorted(picked)]
