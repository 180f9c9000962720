"""The plan step of a slot search (pure): typed inputs + busy times + now -> bookable starts.

`scope_of` checks a query against the loaded rows (the 4xx of the availability call) and keeps
the configs it may use; `plan` runs the engine over a range and applies the booking limits,
leaving plain integer instants per config (no per-slot objects). The load step (I/O) is
`app.availability.store.load_inputs` and `store.busy`; `app.availability.service` joins them.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime, timedelta

import msgspec

from app.availability import engine as e
from app.availability.limits import Unit, before_limit, earliest_start, latest_start
from app.availability.store import ConfigRow, Inputs, config_of
from app.core.errors import Problem, invalid, not_found

MAX_RANGE = timedelta(days=62)
# busy times are read this far around the range: buffers, and whole local days for maxPerDay
MARGIN = timedelta(days=1, hours=14)
MARGIN_SECONDS = int(MARGIN.total_seconds())
NEVER = datetime.max.replace(tzinfo=UTC)

Limit = tuple[int, Unit, bool]  # amount, unit, active


class SlotSearch(msgspec.Struct, frozen=True, kw_only=True):
    setting_id: int
    location_id: int
    appointment_type_id: int
    range_start: datetime
    range_end: datetime
    practitioner_ids: tuple[int, ...] | None = None
    config_id: int | None = None
    except_attempt_id: int | None = None  # that attempt's own hold does not block it
    except_appointment_id: int | None = None  # an appointment being moved does not block itself

    def scope_key(self) -> tuple:
        """Everything but the range: queries with equal keys share their days."""
        return (
            self.setting_id, self.location_id, self.appointment_type_id, self.practitioner_ids,
            self.config_id, self.except_attempt_id, self.except_appointment_id,
        )  # fmt: skip


class Scope(msgspec.Struct, frozen=True, kw_only=True):
    """A query checked against its setting: the configs it may use and how to answer it."""

    query: SlotSearch
    configs: list[e.SchedulerConfig]
    rows: list[ConfigRow]  # the same configs as read
    practitioner_ids: list[int]  # of those configs, ascending
    names: dict[int, str]  # practitioner display names
    time_zone: str
    selectable: bool
    duration_minutes: int
    notice: Limit
    forward: Limit


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    """Bookable starts over [start, end): per config, cut to the notice and forward limits."""

    scope: Scope
    start: datetime
    end: datetime
    per_config: list[e.ConfigStarts]
    busy: list[e.BusySpan]
    holds: list[e.BusySpan]  # those of `busy` that expire
    # starts the forward limit cut off (ascending; empty unless it falls inside the range)
    beyond: list[int]
    # time cannot change this result before this instant (holds expiring, limits moving on)
    stable_until: datetime

    @property
    def slots(self) -> list[e.Slot]:
        """The starts as engine `Slot`s in (start, practitioner, config) order: for booking,
        alternatives and other callers that want objects (the response is made without)."""
        return e.to_slots(self.per_config, self.scope.duration_minutes)


def check_range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise Problem(400, "invalid_range", "The range must end after it starts.")
    if end - start > MAX_RANGE:
        raise Problem(400, "range_too_long", "The range may span at most 62 days.")


def scope_of(inputs: Inputs, query: SlotSearch, *, require_active: bool = True) -> Scope:
    """The query's 4xx in the contract's order, else the configs it may use. Staff may still
    book through an inactive setting (`require_active=False`); patients may not."""
    setting = inputs.setting
    if setting is None:
        raise not_found("self-scheduling setting")
    if require_active and not setting.active:
        raise Problem(422, "setting_inactive", "This self-scheduling setting is not active.")
    if query.location_id not in setting.location_ids:
        raise invalid("locationId", "is not a location of this self-scheduling setting")
    if query.appointment_type_id not in setting.appointment_type_ids:
        raise invalid("appointmentTypeId", "is not an appointment type of this setting")
    wanted = set(query.practitioner_ids or ())
    if wanted - set(setting.practitioner_ids):
        raise invalid("practitionerIds", "include a practitioner who is not in this setting")
    kind = inputs.kind
    if kind is None or not kind.active:
        raise invalid("appointmentTypeId", "is not an active appointment type")
    allowed = set(setting.practitioner_ids)
    rows = [
        r
        for r in inputs.configs
        if r.location_id == query.location_id
        and r.location_active
        and r.practitioner_active
        and r.practitioner_id in allowed
        and (not wanted or r.practitioner_id in wanted)
        and (query.config_id is None or r.id == query.config_id)
    ]
    if rows:
        time_zone = rows[0].time_zone
    elif inputs.location_zone is None:
        raise invalid("locationId", "is not a location of this account")
    else:
        time_zone = inputs.location_zone
    return Scope(
        query=query,
        configs=[config_of(r) for r in rows],
        rows=rows,
        practitioner_ids=sorted({r.practitioner_id for r in rows}),
        names={r.practitioner_id: r.display_name for r in rows},
        time_zone=time_zone,
        selectable=setting.are_practitioners_selectable,
        duration_minutes=kind.duration_minutes,
        notice=(
            setting.afterward_booking_limit,
            setting.afterward_booking_limit_unit,
            setting.afterward_booking_limit_active,
        ),
        forward=(
            setting.forward_booking_limit,
            setting.forward_booking_limit_unit,
            setting.forward_booking_limit_active,
        ),
    )


def busy_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """Where appointments and holds must be read to plan [start, end)."""
    return start - MARGIN, end + MARGIN


def plan(
    scope: Scope, busy: list[e.BusySpan], now: datetime, start: datetime, end: datetime
) -> Plan:
    """The bookable starts of [start, end) as of `now`, given the busy times read over
    `busy_window(start, end)`.

    When the forward limit falls inside the range, the starts past it are computed too (kept
    in `beyond`), so the result knows when the next one comes into reach."""
    earliest = earliest_start(now, *scope.notice)
    latest = latest_start(now, *scope.forward)
    cut = latest is not None and latest < end
    per_config = e.compute_starts(
        scope.configs,
        duration_minutes=scope.duration_minutes,
        busy=busy,
        now=now,
        min_notice=earliest - now,
        max_ahead=None if latest is None or cut else latest - now,
        range_start=start,
        range_end=end,
        appointment_type_id=scope.query.appointment_type_id,
    )
    holds = [b for b in busy if b.expires_at is not None]
    bounds = [b.expires_at for b in holds]
    beyond: list[int] = []
    if cut:
        last = int(latest.timestamp())  # type: ignore[union-attr] # starts are whole seconds
        kept = []
        for found in per_config:
            k = bisect_right(found.starts, last)
            if k < len(found.starts):
                beyond.extend(found.starts[k:])
                found = e.ConfigStarts(found.config, found.starts[:k], _cut_runs(found.runs, k))
            kept.append(found)
        per_config = kept
        beyond.sort()
        if beyond:
            bounds.append(before_limit(_utc(beyond[0]), *scope.forward))
    first = min((f.starts[0] for f in per_config if f.starts), default=None)
    if first is not None:
        bounds.append(before_limit(_utc(first), *scope.notice))
    return Plan(
        scope=scope,
        start=start,
        end=end,
        per_config=per_config,
        busy=busy,
        holds=holds,
        beyond=beyond,
        stable_until=min(bounds, default=NEVER),
    )


def _cut_runs(runs: list[tuple[str, int]], k: int) -> list[tuple[str, int]]:
    out = []
    for source, end in runs:
        out.append((source, min(end, k)))
        if end >= k:
            break
    return out


def _utc(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
