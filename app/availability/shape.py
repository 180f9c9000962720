"""A plan -> the Lobbie availability response as JSON bytes, assembled from encoded pieces.

No per-slot Python objects: the engine's integer starts are grouped per start instant and each
slot object is written straight to bytes. The part that only depends on the instant (`startUnix`,
`startDateTime`, `endDateTime` and its local date) is encoded once per process and instant
(`_heads`), the practitioner -> config object once per set of configs offering a time
(`_offers`). The slots of one local date form a
`DayPiece`; the response is the pieces of the requested days, cut to the requested range at
the two ends, plus a header. The answer cache (answer.py) keeps pieces per location-day.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time

import msgspec

from app.availability import engine as e
from app.availability import schemas as s
from app.availability.limits import lead_seconds
from app.availability.plan import MARGIN_SECONDS, NEVER, Plan, Scope

_encode = msgspec.json.Encoder().encode
_MEMO_LIMIT = 200_000
# (zone, duration s) -> start -> b'{"startUnix":..,"startDateTime":"..","endDateTime":".."'
_heads: dict[tuple[str, int], dict[int, bytes]] = {}
_date_keys: dict[int, bytes] = {}
_midnights: dict[tuple[str, int], int] = {}
# the configs' (practitioner, id) pairs -> mask -> b',"practitionerToConfig":{..}}'
_offers: dict[tuple[tuple[int, int], ...], dict[int, bytes]] = {}


@dataclass(slots=True, eq=False)
class DayPiece:
    """The slots of one local date (the location's zone) of one query scope."""

    ordinal: int  # date.toordinal() of the local date
    starts: list[int]  # epoch seconds of its times, ascending
    chunks: list[bytes]  # the encoded slot object of each time
    masks: list[int]  # which configs offer each time: bit i = `pids[i]`'s config
    pids: tuple[int, ...]  # the practitioner of each config bit
    body: bytes = b""  # b'"M/d/yyyy":[...]' for the whole day; b"" when it has no slot
    stable_until: datetime = NEVER  # time cannot change the day before this instant
    window: tuple[int, int] = (0, 0)  # epoch seconds of the busy time the day depends on

    @property
    def size(self) -> int:
        return 2 * len(self.body) + 64 * len(self.starts) + 200


def _heads_of(time_zone: str, dur: int, starts: list[int]) -> dict[int, bytes]:
    """The encoded heads of these starts (and of others encoded before)."""
    heads = _heads.get((time_zone, dur))
    if heads is None or len(heads) > _MEMO_LIMIT:
        heads = _heads[time_zone, dur] = {}
    for start in [start for start in starts if start not in heads]:
        begin = e.local_datetime(time_zone, start)
        end = e.local_datetime(time_zone, start + dur)
        heads[start] = b'{"startUnix":%d,"startDateTime":"%s","endDateTime":"%s"' % (
            start * 1000,
            begin.isoformat().encode(),
            end.isoformat().encode(),
        )
    return heads


def _ordinal(time_zone: str, start: int) -> int:
    """The local date of an instant, as date.toordinal()."""
    return e.local_datetime(time_zone, start).toordinal()


def date_key(ordinal: int) -> bytes:
    got = _date_keys.get(ordinal)
    if got is None:
        if len(_date_keys) > _MEMO_LIMIT:
            _date_keys.clear()
        got = _date_keys[ordinal] = b'"%s"' % e.lobbie_date_key(date.fromordinal(ordinal)).encode()
    return got


def midnight(time_zone: str, ordinal: int) -> int:
    """Epoch seconds of the first instant of a local date."""
    key = (time_zone, ordinal)
    got = _midnights.get(key)
    if got is None:
        if len(_midnights) > _MEMO_LIMIT:
            _midnights.clear()
        got = _midnights[key] = int(
            datetime.combine(
                date.fromordinal(ordinal), time(0), tzinfo=e.zone(time_zone)
            ).timestamp()
        )  # fold=0: the first occurrence; inside a gap, the instant of the jump
    return got


def _masks(found: Plan) -> tuple[list[int], list[int]]:
    """Every start of the plan, ascending, and which configs offer each (bit i: per_config[i])."""
    by_start: dict[int, int] = {}
    for i, part in enumerate(found.per_config):
        bit, get = 1 << i, by_start.get
        if not by_start:
            by_start = dict.fromkeys(part.starts, bit)
            continue
        for start in part.starts:
            by_start[start] = get(start, 0) | bit
    starts = sorted(by_start)
    return starts, [by_start[s] for s in starts]


def days_of(found: Plan, ordinals: list[int] | None = None) -> list[DayPiece]:
    """The plan's slots per local date, in date order: the dates `ordinals` (each one, with or
    without slots; slots of other dates are left out) or, when None, every date with a slot."""
    scope = found.scope
    keep_empty = ordinals is not None
    zone, dur = scope.time_zone, scope.duration_minutes * 60
    starts, masks = _masks(found)
    configs = [part.config for part in found.per_config]
    pids = tuple(c.practitioner_id for c in configs)
    heads = _heads_of(zone, dur, starts)
    if scope.selectable:
        offers = _selectable_offers(configs, masks)
        chunks = [heads[start] + offers[mask] for start, mask in zip(starts, masks, strict=True)]
    else:
        chunks = _assigned(found, configs, heads, starts, masks)
    if ordinals is None:
        if not starts:
            return []
        ordinals = list(range(_ordinal(zone, starts[0]), _ordinal(zone, starts[-1]) + 1))
    beyond: dict[int, int] = {}  # local ordinal -> its first start the forward limit cut off
    for start in found.beyond:
        beyond.setdefault(_ordinal(zone, start), start)
    leads = lead_seconds(*scope.notice), lead_seconds(*scope.forward)
    days = []
    last = end = None
    for ordinal in ordinals:  # ascending: each day's end is the next one's beginning
        begin = end if ordinal - 1 == last else midnight(zone, ordinal)
        end, last = midnight(zone, ordinal + 1), ordinal
        i = bisect_left(starts, begin)
        j = bisect_left(starts, end, i)
        if i == j and not keep_empty:
            continue
        day = DayPiece(ordinal, starts[i:j], chunks[i:j], masks[i:j], pids)
        _finish(day, (begin, end), beyond.get(ordinal), found.holds, leads)
        days.append(day)
    return days


def _selectable_offers(configs: list[e.SchedulerConfig], masks: list[int]) -> dict[int, bytes]:
    """mask -> b',"practitionerToConfig":{..}}': each practitioner offering the time with its
    lowest config (configs are in (practitioner, id) order)."""
    key = tuple((c.practitioner_id, c.id) for c in configs)
    offers = _offers.get(key)
    if offers is None or len(offers) > 4_096:
        if len(_offers) > 1_000:
            _offers.clear()
        offers = _offers[key] = {}
    for mask in set(masks).difference(offers):
        pairs, seen = [], set()
        for i, (pid, cid) in enumerate(key):
            if mask >> i & 1 and pid not in seen:
                seen.add(pid)
                pairs.append(b'"%d":%d' % (pid, cid))
        offers[mask] = b',"practitionerToConfig":{%s}}' % b",".join(pairs)
    return offers


def _assigned(found, configs, heads, starts, masks) -> list[bytes]:
    """One practitioner per time: the fewest bookings that local day, then the lowest id (and
    its lowest config)."""
    zone = found.scope.time_zone
    load = _day_load(found)
    chunks = []
    for start, mask in zip(starts, masks, strict=True):
        ordinal, head = _ordinal(zone, start), heads[start]
        offering = [c for i, c in enumerate(configs) if mask >> i & 1]
        c = min(offering, key=lambda c: (load[c.practitioner_id, ordinal], c.practitioner_id))
        chunks.append(
            b'%s,"practitionerId":%d,"schedulerConfigId":%d}' % (head, c.practitioner_id, c.id)
        )
    return chunks


def _finish(
    day: DayPiece,
    midnights: tuple[int, int],
    cut_off: int | None,
    holds: list[e.BusySpan],
    leads: tuple[int, int],
) -> None:
    """The day's encoded body, the busy window it depends on and how long time leaves it be:
    until a hold it overlaps expires, the notice reaches its first time, or the forward limit
    reaches the first start it cut off (`midnights`: the day's first instant and the next
    day's; `leads`: the two limits as `lead_seconds`)."""
    if day.chunks:
        day.body = b"%s:[%s]" % (date_key(day.ordinal), b",".join(day.chunks))
    lo, hi = midnights[0] - MARGIN_SECONDS, midnights[1] + MARGIN_SECONDS
    day.window = (lo, hi)
    bounds = [b.expires_at for b in holds if b.start < hi and b.end > lo] if holds else []
    moments = [day.starts[0] - leads[0]] if day.starts else []
    if cut_off is not None:
        moments.append(cut_off - leads[1])
    if moments:
        bounds.append(_utc(min(moments)))
    day.stable_until = min(bounds, default=NEVER)


def _utc(seconds: int) -> datetime:
    return e.utc_datetime(seconds)


def _day_load(found: Plan) -> Counter[tuple[int, int]]:
    """Live bookings per (practitioner, local ordinal): the ranking input for assigning a
    practitioner when patients cannot choose one."""
    zone = found.scope.time_zone
    return Counter(
        (b.practitioner_id, e.local_datetime(zone, b.counted_at).toordinal())
        for b in found.busy
        if b.counted_at is not None
    )


def assemble(scope: Scope, days: list[DayPiece], lo: int, hi: int) -> bytes:
    """The response for starts in [lo, hi] (epoch seconds) from the pieces of its dates."""
    parts: list[bytes] = []
    firsts: dict[int, int] = {}
    missing = len(scope.practitioner_ids)
    for day in days:
        starts = day.starts
        if not starts:
            continue
        i = 0 if starts[0] >= lo else bisect_left(starts, lo)
        j = len(starts) if starts[-1] <= hi else bisect_right(starts, hi)
        if i >= j:
            continue
        if i == 0 and j == len(starts):
            parts.append(day.body)
        else:
            parts.append(b"%s:[%s]" % (date_key(day.ordinal), b",".join(day.chunks[i:j])))
        if len(firsts) < missing:
            _first_times(day, i, j, firsts)
    practitioners = [
        s.PractitionerAvailability(
            practitioner_id=pid,
            display_name=scope.names.get(pid, ""),
            first_available_slot=None if pid not in firsts else firsts[pid] * 1000,
        )
        for pid in scope.practitioner_ids
    ]
    return (
        b'{"arePractitionersSelectable":%s,"timeZone":%s,"practitioners":%s,"slotsByDate":{%s}}'
        % (
            b"true" if scope.selectable else b"false",
            _encode(scope.time_zone),
            _encode(practitioners),
            b",".join(parts),
        )
    )


def _first_times(day: DayPiece, i: int, j: int, firsts: dict[int, int]) -> None:
    """Record the first time in day.starts[i:j] of each practitioner not in `firsts` yet."""
    pids = day.pids
    wanted = sum(1 << b for b, pid in enumerate(pids) if pid not in firsts)
    for k in range(i, j):
        hit = day.masks[k] & wanted
        if hit:
            for b, pid in enumerate(pids):
                if hit >> b & 1:
                    firsts.setdefault(pid, day.starts[k])
            wanted = sum(1 << b for b, pid in enumerate(pids) if pid not in firsts)
            if not wanted:
                return


def span(start: datetime, end: datetime) -> tuple[int, int]:
    """[start, end) as the inclusive range of whole-second starts it allows."""
    return e.ceil_seconds(start), e.ceil_seconds(end) - 1


def encode(found: Plan) -> bytes:
    """The plan's whole answer."""
    return assemble(found.scope, days_of(found), *span(found.start, found.end))
