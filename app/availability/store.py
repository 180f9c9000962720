"""SQL feeding the availability engine, as typed rows (`msgspec.Struct`s), and rows -> engine
values.

A slot search reads in at most two statements: `load_inputs` (the setting, the appointment
type, the location's zone and every config of the setting with its rules and practitioner, plus
the snapshot those reads were made under) and `busy`. A cached answer costs one more:
`unseen_changes`.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Literal

import asyncpg
import msgspec

from app.availability import engine as e

Conn = asyncpg.Connection | asyncpg.Pool
LIVE = "status NOT IN ('CANCELLED', 'RESCHEDULED', 'VOIDED')"
# epoch seconds exactly as Busy.span() rounds them (extract() is an exact numeric)
_SECONDS = (
    "floor(extract(epoch FROM blocked_from))::int8, ceil(extract(epoch FROM blocked_until))::int8"
)


def _wall(text: str) -> time:
    return time.fromisoformat(text)


LimitUnit = Literal["HOURS", "DAYS", "WEEKS", "MONTHS"]


class SettingRow(msgspec.Struct, frozen=True, gc=False):
    """What availability reads of a self-scheduling setting."""

    active: bool
    location_ids: list[int]
    appointment_type_ids: list[int]
    practitioner_ids: list[int]
    are_practitioners_selectable: bool
    forward_booking_limit: int
    forward_booking_limit_unit: LimitUnit
    forward_booking_limit_active: bool
    afterward_booking_limit: int
    afterward_booking_limit_unit: LimitUnit
    afterward_booking_limit_active: bool


class KindRow(msgspec.Struct, frozen=True, gc=False):
    """An appointment type."""

    id: int
    duration_minutes: int
    active: bool
    telehealth: bool
    form_count: int


class RuleRow(msgspec.Struct, frozen=True, gc=False):
    weekday: int
    start: str  # "HH:MM" wall clock
    end: str


class WindowRow(msgspec.Struct, frozen=True, gc=False):
    start: str
    end: str


class OverrideRow(msgspec.Struct, frozen=True, gc=False):
    date: str
    unavailable: bool = False
    windows: list[WindowRow] = []


class BlockRow(msgspec.Struct, frozen=True, gc=False):
    start: str  # ISO 8601 with offset
    end: str


class ConfigRow(msgspec.Struct, frozen=True, gc=False):
    """A scheduler config with its location's zone and state and its practitioner's."""

    id: int
    practitioner_id: int
    location_id: int
    appointment_type_ids: list[int]
    slot_interval_minutes: int
    buffer_before_minutes: int
    buffer_after_minutes: int
    max_per_day: int | None
    rules: list[RuleRow]
    overrides: list[OverrideRow]
    blocks: list[BlockRow]
    time_zone: str
    location_active: bool
    practitioner_active: bool
    display_name: str


class Inputs(msgspec.Struct, frozen=True, gc=False):
    """Everything a slot search reads except busy times, as of `snapshot`."""

    snapshot: str  # pg_current_snapshot() of the statement that read the rest
    setting: SettingRow | None  # None: no such setting in the account
    kind: KindRow | None
    location_zone: str | None  # None: no such location in the account
    configs: list[ConfigRow]  # every config of the setting, by id


_decode_inputs = msgspec.json.Decoder(Inputs).decode
_LOAD_INPUTS = """
SELECT json_build_object(
  'snapshot', pg_current_snapshot()::text,
  'setting', (SELECT json_build_object(
      'active', s.active, 'location_ids', s.location_ids,
      'appointment_type_ids', s.appointment_type_ids, 'practitioner_ids', s.practitioner_ids,
      'are_practitioners_selectable', s.are_practitioners_selectable,
      'forward_booking_limit', s.forward_booking_limit,
      'forward_booking_limit_unit', s.forward_booking_limit_unit,
      'forward_booking_limit_active', s.forward_booking_limit_active,
      'afterward_booking_limit', s.afterward_booking_limit,
      'afterward_booking_limit_unit', s.afterward_booking_limit_unit,
      'afterward_booking_limit_active', s.afterward_booking_limit_active)
    FROM self_scheduling_settings s WHERE s.account_id = $1 AND s.id = $2),
  'kind', (SELECT json_build_object(
      'id', t.id, 'duration_minutes', t.duration_minutes, 'active', t.active,
      'telehealth', t.telehealth, 'form_count', t.form_count)
    FROM appointment_types t WHERE t.account_id = $1 AND t.id = $3),
  'location_zone', (SELECT time_zone FROM locations WHERE account_id = $1 AND id = $4),
  'configs', coalesce((SELECT json_agg(json_build_object(
      'id', c.id, 'practitioner_id', c.practitioner_id, 'location_id', c.location_id,
      'appointment_type_ids', c.appointment_type_ids,
      'slot_interval_minutes', c.slot_interval_minutes,
      'buffer_before_minutes', c.buffer_before_minutes,
      'buffer_after_minutes', c.buffer_after_minutes, 'max_per_day', c.max_per_day,
      'rules', c.rules, 'overrides', c.overrides, 'blocks', c.blocks,
      'time_zone', l.time_zone, 'location_active', l.active,
      'practitioner_active', p.active, 'display_name', p.display_name) ORDER BY c.id)
    FROM scheduler_configs c
    JOIN locations l ON l.id = c.location_id AND l.account_id = c.account_id
    JOIN practitioners p ON p.id = c.practitioner_id AND p.account_id = c.account_id
   WHERE c.account_id = $1 AND c.setting_id = $2), '[]'::json)
)::text
"""


async def load_inputs(
    conn: Conn, account_id: int, setting_id: int, type_id: int, location_id: int
) -> Inputs:
    """One statement: the setting, the appointment type, the location's zone and every config
    of the setting (inactive ones included: the caller decides), with the snapshot they were
    read under (the statement's own)."""
    text = await conn.fetchval(_LOAD_INPUTS, account_id, setting_id, type_id, location_id)
    return _decode_inputs(text)


def config_of(row: ConfigRow) -> e.SchedulerConfig:
    """A typed config row as the engine's value type."""
    return e.SchedulerConfig(
        id=row.id,
        practitioner_id=row.practitioner_id,
        location_id=row.location_id,
        time_zone=row.time_zone,
        appointment_type_ids=tuple(row.appointment_type_ids),
        slot_interval_minutes=row.slot_interval_minutes,
        buffer_before_minutes=row.buffer_before_minutes,
        buffer_after_minutes=row.buffer_after_minutes,
        max_per_day=row.max_per_day,
        rules=tuple(e.Rule(r.weekday, _wall(r.start), _wall(r.end)) for r in row.rules),
        overrides=tuple(
            e.Override(
                date.fromisoformat(o.date),
                o.unavailable,
                tuple(e.Window(_wall(w.start), _wall(w.end)) for w in o.windows),
            )
            for o in row.overrides
        ),
        blocks=tuple(
            e.Block(datetime.fromisoformat(b.start), datetime.fromisoformat(b.end))
            for b in row.blocks
        ),
    )


async def busy(
    conn: Conn,
    account_id: int,
    practitioner_ids: list[int],
    start: datetime,
    end: datetime,
    *,
    now: datetime,
    except_attempt_id: int | None = None,
    except_appointment_id: int | None = None,
) -> list[e.BusySpan]:
    """Live appointments and unexpired holds of these practitioners (at any location) whose
    buffered range overlaps [start, end), in epoch seconds as `Busy.span()` has them.
    `except_attempt_id`: that attempt's own hold does not block it; `except_appointment_id`: an
    appointment being rescheduled does not block itself."""
    rows = await conn.fetch(
        f"""
        SELECT practitioner_id, {_SECONDS}, scheduler_config_id,
               floor(extract(epoch FROM start_at))::int8, NULL::timestamptz
          FROM appointments
         WHERE account_id = $1 AND practitioner_id = ANY($2::bigint[]) AND {LIVE}
           AND blocked_from < $4 AND blocked_until > $3 AND id IS DISTINCT FROM $7
        UNION ALL
        SELECT practitioner_id, {_SECONDS}, scheduler_config_id,
               floor(extract(epoch FROM start_at))::int8, expires_at
          FROM holds
         WHERE account_id = $1 AND practitioner_id = ANY($2::bigint[])
           AND blocked_from < $4 AND blocked_until > $3
           AND expires_at > $5 AND attempt_id IS DISTINCT FROM $6
        """,  # noqa: S608 - LIVE and _SECONDS are constants
        account_id,
        practitioner_ids,
        start,
        end,
        now,
        except_attempt_id,
        except_appointment_id,
    )
    return [e.BusySpan(*r) for r in rows]


async def attempt_holds(conn: Conn, attempt_id: int) -> bool:
    return await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM holds WHERE attempt_id = $1)", attempt_id
    )


async def display_names(conn: Conn, account_id: int, ids: list[int]) -> dict[int, str]:
    rows = await conn.fetch(
        "SELECT id, display_name FROM practitioners"
        " WHERE account_id = $1 AND id = ANY($2::bigint[])",
        account_id,
        ids,
    )
    return {r["id"]: r["display_name"] for r in rows}


async def practitioner_offers(
    conn: Conn, setting_id: int
) -> dict[int, tuple[list[int], list[int]]]:
    """practitioner id -> (location ids, appointment type ids) of the setting's configs."""
    rows = await conn.fetch(
        "SELECT practitioner_id, array_agg(DISTINCT location_id ORDER BY location_id) AS locs,"
        " array_agg(DISTINCT t ORDER BY t) AS kinds"
        " FROM scheduler_configs, unnest(appointment_type_ids) AS t"
        " WHERE setting_id = $1 GROUP BY practitioner_id",
        setting_id,
    )
    return {r["practitioner_id"]: (list(r["locs"]), list(r["kinds"])) for r in rows}


# ------------------------------------------------------------ change tracking (0011 migration)


ALL_TIME = (-(2**62), 2**62)  # the window of an account-wide change (epoch seconds)


class Probe(msgspec.Struct, frozen=True, gc=False):
    """Which changes did `snapshot` not see, for this account (account-wide ones) and these
    practitioners (their appointments and holds blocking time in `window`)?"""

    account_id: int
    snapshot: str
    practitioner_ids: tuple[int, ...]
    window: tuple[datetime, datetime]


def unseen_changes_sql(first: int) -> str:
    """A scalar subquery over `$first`..`$first + 6` (`unseen_changes_args`): per probe the
    changes its snapshot did not see, as `[probe index (0-based), from, until]` rows. A separate
    fragment so one statement may carry it with other reads (app/authentication.py)."""
    a, snap, pids, lo, hi, all_lo, all_hi = (f"${first + k}" for k in range(7))
    return f"""coalesce((
        SELECT array_agg(ARRAY[
                   q.i - 1,
                   coalesce(floor(extract(epoch FROM lower(c.during)))::int8, {all_lo}),
                   coalesce(ceil(extract(epoch FROM upper(c.during)))::int8, {all_hi})])
          FROM unnest({a}::int8[], {snap}::text[], {pids}::text[], {lo}::timestamptz[],
                      {hi}::timestamptz[]) WITH ORDINALITY AS q(account, snap, pids, lo, hi, i)
          JOIN availability_changes c
            ON c.account_id = ANY(ARRAY[q.account, 0]::bigint[])
           AND c.xid >= pg_snapshot_xmin(q.snap::pg_snapshot)
           AND c.practitioner_id = ANY(q.pids::bigint[])
           AND (c.during IS NULL OR c.during && tstzrange(q.lo, q.hi))
           AND NOT pg_visible_in_snapshot(c.xid, q.snap::pg_snapshot)), '{{}}')"""  # noqa: S608 - parameter numbers only


def unseen_changes_args(probes: list[Probe]) -> list:
    return [
        [p.account_id for p in probes],
        [p.snapshot for p in probes],
        ["{" + ",".join(map(str, (0, *p.practitioner_ids))) + "}" for p in probes],
        [p.window[0] for p in probes],
        [p.window[1] for p in probes],
        *ALL_TIME,
    ]


def split_unseen(changes: list[list[int]], count: int) -> list[list[tuple[int, int]]]:
    """`unseen_changes_sql`'s value -> per probe the `(from, until)` of each change it found."""
    found: list[list[tuple[int, int]]] = [[] for _ in range(count)]
    for i, start, end in changes:
        found[i].append((start, end))
    return found


async def unseen_changes(
    conn: Conn, probes: list[Probe]
) -> tuple[str, list[list[tuple[int, int]]]]:
    """One statement for many probes: this statement's own snapshot (taken after every probe
    was asked), and per probe the `(from, until)` of each change it finds, in epoch seconds
    rounded outward (`ALL_TIME` for an account-wide change). The caller decides which cached
    entries each change touches."""
    now_snapshot, changes = await conn.fetchrow(
        f"SELECT pg_current_snapshot()::text, {unseen_changes_sql(1)}",
        *unseen_changes_args(probes),
    )
    return now_snapshot, split_unseen(changes, len(probes))


async def prune_changes(conn: asyncpg.Connection, keep: timedelta) -> int:
    """Record the oldest running transaction, then delete the changes that ended before one
    recorded at least `keep` ago: every snapshot that could miss them is older than `keep`,
    and no cached answer lives that long. Returns the rows deleted."""
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO availability_change_horizons (oldest_running)"
            " VALUES (pg_snapshot_xmin(pg_current_snapshot()))"
        )
        return await conn.fetchval(
            """
            WITH horizon AS (
                SELECT taken_at, oldest_running FROM availability_change_horizons
                 WHERE taken_at <= clock_timestamp() - $1::interval
                 ORDER BY taken_at DESC LIMIT 1),
            gone AS (
                DELETE FROM availability_changes c USING horizon h
                 WHERE c.xid < h.oldest_running RETURNING 1),
            forgotten AS (
                DELETE FROM availability_change_horizons x USING horizon h
                 WHERE x.taken_at < h.taken_at)
            SELECT count(*) FROM gone
            """,
            keep,
        )
