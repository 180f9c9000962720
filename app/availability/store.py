"""SQL feeding the availability engine, and database rows -> engine values."""

from __future__ import annotations

from datetime import date, datetime, time

import asyncpg

from app.availability import engine as e
from app.core.crud import Row

Conn = asyncpg.Connection | asyncpg.Pool
LIVE = "status NOT IN ('CANCELLED', 'RESCHEDULED', 'VOIDED')"


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
) -> list[e.Busy]:
    """Live appointments and unexpired holds of these practitioners (at any location) whose
    buffered range overlaps [start, end). `except_attempt_id`: that attempt's own hold does
    not block it; `except_appointment_id`: an appointment being rescheduled does not block
    itself."""
    rows = await conn.fetch(
        f"""
        SELECT practitioner_id, blocked_from, blocked_until, scheduler_config_id, start_at
          FROM appointments
         WHERE account_id = $1 AND practitioner_id = ANY($2::bigint[]) AND {LIVE}
           AND blocked_from < $4 AND blocked_until > $3 AND id IS DISTINCT FROM $7
        UNION ALL
        SELECT practitioner_id, blocked_from, blocked_until, scheduler_config_id, start_at
          FROM holds
         WHERE account_id = $1 AND practitioner_id = ANY($2::bigint[])
           AND blocked_from < $4 AND blocked_until > $3
           AND expires_at > $5 AND attempt_id IS DISTINCT FROM $6
        """,  # noqa: S608 - LIVE is a constant
        account_id,
        practitioner_ids,
        start,
        end,
        now,
        except_attempt_id,
        except_appointment_id,
    )
    return [
        e.Busy(r["practitioner_id"], r[1], r[2], r["scheduler_config_id"], r["start_at"])
        for r in rows
    ]


async def display_names(conn: Conn, account_id: int, ids: list[int]) -> dict[int, str]:
    rows = await conn.fetch(
        "SELECT id, display_name FROM practitioners"
        " WHERE account_id = $1 AND id = ANY($2::bigint[])",
        account_id,
        ids,
    )
    return {r["id"]: r["display_name"] for r in rows}


async def appointment_type(conn: Conn, account_id: int, type_id: int) -> Row | None:
    return await conn.fetchrow(
        "SELECT id, duration_minutes, active, telehealth, form_count FROM appointment_types"
        " WHERE account_id = $1 AND id = $2",
        account_id,
        type_id,
    )
