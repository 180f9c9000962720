"""SQL feeding the availability engine, and database rows -> engine values."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import asyncpg

from app.availability import engine as e
from app.core.crud import Row

Conn = asyncpg.Connection | asyncpg.Pool
LIVE = "status NOT IN ('CANCELLED', 'RESCHEDULED', 'VOIDED')"
# epoch seconds exactly as Busy.span() rounds them (extract() is an exact numeric)
_SECONDS = (
    "floor(extract(epoch FROM blocked_from))::int8, ceil(extract(epoch FROM blocked_until))::int8"
)


def _wall(text: str) -> time:
    return time.fromisoformat(text)


def engine_config(row: Row) -> e.SchedulerConfig:
    """A `selfscheduling.store.configs_for_setting` row as the engine's value type."""
    return e.SchedulerConfig(
        id=row["id"],
        practitioner_id=row["practitioner_id"],
        location_id=row["location_id"],
        time_zone=row["time_zone"],
        appointment_type_ids=tuple(row["appointment_type_ids"]),
        slot_interval_minutes=row["slot_interval_minutes"],
        buffer_before_minutes=row["buffer_before_minutes"],
        buffer_after_minutes=row["buffer_after_minutes"],
        max_per_day=row["max_per_day"],
        rules=tuple(e.Rule(r["weekday"], _wall(r["start"]), _wall(r["end"])) for r in row["rules"]),
        overrides=tuple(
            e.Override(
                date.fromisoformat(o["date"]),
                bool(o.get("unavailable")),
                tuple(e.Window(_wall(w["start"]), _wall(w["end"])) for w in o.get("windows", ())),
            )
            for o in row["overrides"]
        ),
        blocks=tuple(
            e.Block(datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"]))
            for b in row["blocks"]
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


async def appointment_type(conn: Conn, account_id: int, type_id: int) -> Row | None:
    return await conn.fetchrow(
        "SELECT id, duration_minutes, active, telehealth, form_count FROM appointment_types"
        " WHERE account_id = $1 AND id = $2",
        account_id,
        type_id,
    )


# ------------------------------------------------------------ change tracking (0011 migration)


async def snapshot(conn: Conn) -> str:
    """The current transaction snapshot, to label an answer computed from reads made after
    this call."""
    return await conn.fetchval("SELECT pg_current_snapshot()::text")


async def changed_since(
    conn: Conn,
    account_id: int,
    snapshot_text: str,
    practitioner_ids: list[int],
    window: tuple[datetime, datetime],
) -> bool:
    """Has a transaction not visible to `snapshot_text` changed something availability reads
    for this account: account-wide, or a block of one of these practitioners in `window`?"""
    return await conn.fetchval(
        """
        SELECT EXISTS (
            SELECT 1 FROM availability_changes
             WHERE account_id = ANY(ARRAY[$1, 0]::bigint[])
               AND xid >= pg_snapshot_xmin($2::text::pg_snapshot)
               AND practitioner_id = ANY($3::bigint[])
               AND (during IS NULL OR during && tstzrange($4, $5))
               AND NOT pg_visible_in_snapshot(xid, $2::text::pg_snapshot))
        """,
        account_id,
        snapshot_text,
        [0, *practitioner_ids],
        *window,
    )


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
