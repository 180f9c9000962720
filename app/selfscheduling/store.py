"""Every SQL statement of self-scheduling settings and scheduler configs, and row -> body.

Statements filter on account_id (and a config on its setting_id too), so an id of another
account or another setting reads as absent (404). Rules, overrides and blocks live in jsonb
columns in their wire shape:

* rules     `[{"weekday": 0, "start": "09:00", "end": "12:00"}]`  (wall clock, location zone)
* overrides `[{"date": "2026-03-09", "unavailable": false, "windows": [{"start", "end"}]}]`
* blocks    `[{"start": "2026-03-09T09:00:00-04:00", "end": "...", "reason": null}]`

sorted (rules by weekday and start, overrides by date, blocks by start) and already validated.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import msgspec

from app.core.crud import Row, Table
from app.core.errors import not_found
from app.core.secrets import random_token
from app.selfscheduling import schemas as s

Conn = asyncpg.Connection | asyncpg.Pool

_MAX_ID = 2**63 - 1

settings = Table(
    "self_scheduling_settings",
    "self-scheduling setting",
    (
        "name",
        "active",
        "verification_method",
        "location_ids",
        "location_selectable",
        "location_visible",
        "fixed_location_id",
        "appointment_type_ids",
        "appointment_type_selectable",
        "appointment_type_visible",
        "fixed_appointment_type_id",
        "practitioner_ids",
        "are_practitioners_selectable",
        "forward_booking_limit",
        "forward_booking_limit_active",
        "forward_booking_limit_unit",
        "afterward_booking_limit",
        "afterward_booking_limit_active",
        "afterward_booking_limit_unit",
        "publishable_key",
        "allowed_origins",
        "allowed_phone_countries",
        "sms_budget_per_day",
        "theme",
        "reminders",
        "waitlist",
    ),
)
configs = Table(
    "scheduler_configs",
    "scheduler config",
    (
        "setting_id",
        "practitioner_id",
        "location_id",
        "appointment_type_ids",
        "slot_interval_minutes",
        "buffer_before_minutes",
        "buffer_after_minutes",
        "max_per_day",
        "rules",
        "overrides",
        "blocks",
    ),
)

# The setting columns `validation.settle_setting` reasons about.
SETTING_STATE = (
    "location_ids",
    "location_selectable",
    "location_visible",
    "fixed_location_id",
    "appointment_type_ids",
    "appointment_type_selectable",
    "appointment_type_visible",
    "fixed_appointment_type_id",
    "practitioner_ids",
    "verification_method",
    "allowed_phone_countries",
)


_SELECT_SETTING = "SELECT * FROM self_scheduling_settings WHERE account_id = $1 AND id = $2"
_GET_SETTING = {
    "": _SELECT_SETTING,
    "UPDATE": _SELECT_SETTING + " FOR UPDATE",
    "SHARE": _SELECT_SETTING + " FOR SHARE",
}
_SELECT_CONFIG = (
    "SELECT * FROM scheduler_configs WHERE account_id = $1 AND setting_id = $2 AND id = $3"
)
_GET_CONFIG = {False: _SELECT_CONFIG, True: _SELECT_CONFIG + " FOR UPDATE"}


def _check_id(id_: int, noun: str) -> None:
    # A path id beyond bigint cannot exist; answer 404 rather than let the driver overflow.
    if not 1 <= id_ <= _MAX_ID:
        raise not_found(noun)


# ------------------------------------------------------------------ settings


async def get_setting(conn: Conn, account_id: int, setting_id: int, *, lock: str = "") -> Row:
    """The setting row (404 if absent or another account's). `lock`: "" | "UPDATE" | "SHARE"
    (inside a transaction: FOR UPDATE serialises edits of the setting, FOR SHARE lets config
    writes run together while the setting itself cannot change under them)."""
    _check_id(setting_id, settings.noun)
    row = await conn.fetchrow(_GET_SETTING[lock], account_id, setting_id)
    if row is None:
        raise not_found(settings.noun)
    return row


async def setting_by_publishable_key(conn: Conn, key: str) -> Row | None:
    """The setting a widget key selects (active or not), with its practice's name."""
    return await conn.fetchrow(
        "SELECT s.*, a.name AS practice_name FROM self_scheduling_settings s"
        " JOIN accounts a ON a.id = s.account_id WHERE s.publishable_key = $1",
        key,
    )


def setting_state(row: Row) -> dict[str, Any]:
    return {column: row[column] for column in SETTING_STATE}


async def insert_setting(conn: Conn, account_id: int, values: Mapping[str, Any]) -> Row:
    """Insert with a fresh publishable key (`pk_...`, server-generated, never from a body)."""
    return await settings.insert(
        conn, account_id, {**values, "publishable_key": random_token("pk_")}
    )


async def update_setting(
    conn: Conn, account_id: int, setting_id: int, values: Mapping[str, Any]
) -> Row:
    return await settings.update(conn, account_id, setting_id, values)


async def delete_setting(conn: Conn, account_id: int, setting_id: int) -> None:
    """Its scheduler configs go with it (ON DELETE CASCADE); anything else still pointing at
    the setting makes this a 409 `in_use`."""
    _check_id(setting_id, settings.noun)
    await settings.delete(conn, account_id, setting_id)


async def list_settings(
    conn: Conn, account_id: int, *, after_id: int, limit: int, active: bool | None
) -> tuple[list[Row], str | None]:
    return await settings.list_page(
        conn, account_id, after_id=after_id, limit=limit, filters={"active": active}
    )


async def configs_outside(
    conn: Conn,
    account_id: int,
    setting_id: int,
    *,
    practitioner_ids: Sequence[int],
    location_ids: Sequence[int],
    appointment_type_ids: Sequence[int],
) -> list[str]:
    """Which of the setting's id lists would leave one of its configs uncovered."""
    row = await conn.fetchrow(
        """
        SELECT coalesce(bool_or(NOT practitioner_id = ANY($3::bigint[])), false)
                   AS practitioner_ids,
               coalesce(bool_or(NOT location_id = ANY($4::bigint[])), false)
                   AS location_ids,
               coalesce(bool_or(NOT appointment_type_ids <@ $5::bigint[]), false)
                   AS appointment_type_ids
          FROM scheduler_configs
         WHERE account_id = $1 AND setting_id = $2
        """,
        account_id,
        setting_id,
        list(practitioner_ids),
        list(location_ids),
        list(appointment_type_ids),
    )
    return [column for column, clash in row.items() if clash]


# ------------------------------------------------------------------ scheduler configs


async def configs_by_setting(
    conn: Conn, account_id: int, setting_ids: Sequence[int]
) -> dict[int, list[Row]]:
    rows = await conn.fetch(
        "SELECT * FROM scheduler_configs WHERE account_id = $1 AND setting_id = ANY($2::bigint[])"
        " ORDER BY id",
        account_id,
        list(setting_ids),
    )
    found: dict[int, list[Row]] = {id_: [] for id_ in setting_ids}
    for row in rows:
        found[row["setting_id"]].append(row)
    return found


async def list_configs(conn: Conn, account_id: int, setting_id: int) -> list[Row]:
    return (await configs_by_setting(conn, account_id, [setting_id]))[setting_id]


async def get_config(
    conn: Conn, account_id: int, setting_id: int, config_id: int, *, for_update: bool = False
) -> Row:
    """404 unless the config belongs to this setting of this account."""
    _check_id(config_id, configs.noun)
    row = await conn.fetchrow(
        _GET_CONFIG[for_update],
        account_id,
        setting_id,
        config_id,
    )
    if row is None:
        raise not_found(configs.noun)
    return row


async def insert_config(
    conn: Conn, account_id: int, setting_id: int, values: Mapping[str, Any]
) -> Row:
    return await configs.insert(conn, account_id, {**values, "setting_id": setting_id})


async def update_config(
    conn: Conn, account_id: int, config_id: int, values: Mapping[str, Any]
) -> Row:
    """Call after `get_config` has placed the config in its setting."""
    return await configs.update(conn, account_id, config_id, values)


async def delete_config(conn: Conn, account_id: int, setting_id: int, config_id: int) -> None:
    _check_id(config_id, configs.noun)
    status = await conn.execute(
        "DELETE FROM scheduler_configs WHERE account_id = $1 AND setting_id = $2 AND id = $3",
        account_id,
        setting_id,
        config_id,
    )
    if status == "DELETE 0":
        raise not_found(configs.noun)


async def configs_for_setting(conn: Conn, account_id: int, setting_id: int) -> list[Row]:
    """Every scheduler config of one setting, for the availability engine, ordered by id.

    Each record has the `scheduler_configs` columns (`id`, `setting_id`, `practitioner_id`,
    `location_id`, `appointment_type_ids`, `slot_interval_minutes`, `buffer_before_minutes`,
    `buffer_after_minutes`, `max_per_day`, `rules`, `overrides`, `blocks` — the jsonb ones
    decoded to lists in the shapes of this module's docstring) plus `time_zone` (the
    location's IANA zone), `location_active` and `practitioner_active`: inactive ones are
    included, the caller decides. An unknown setting or one of another account gives []."""
    return await conn.fetch(
        """
        SELECT c.*, l.time_zone, l.active AS location_active, p.active AS practitioner_active
          FROM scheduler_configs c
          JOIN locations l ON l.id = c.location_id AND l.account_id = c.account_id
          JOIN practitioners p ON p.id = c.practitioner_id AND p.account_id = c.account_id
         WHERE c.account_id = $1 AND c.setting_id = $2
         ORDER BY c.id
        """,
        account_id,
        setting_id,
    )


# ------------------------------------------------------------------ row -> body


def to_config(row: Row) -> s.SchedulerConfig:
    return s.SchedulerConfig(
        id=row["id"],
        practitioner_id=row["practitioner_id"],
        location_id=row["location_id"],
        appointment_type_ids=list(row["appointment_type_ids"]),
        slot_interval_minutes=row["slot_interval_minutes"],
        buffer_before_minutes=row["buffer_before_minutes"],
        buffer_after_minutes=row["buffer_after_minutes"],
        max_per_day=row["max_per_day"],
        rules=msgspec.convert(row["rules"], list[s.Rule]),
        overrides=msgspec.convert(row["overrides"], list[s.Override]),
        blocks=msgspec.convert(row["blocks"], list[s.Block]),
    )


def to_setting(row: Row, config_rows: Sequence[Row]) -> s.Setting:
    return s.Setting(
        id=row["id"],
        name=row["name"],
        active=row["active"],
        verification_method=row["verification_method"],
        location_ids=list(row["location_ids"]),
        location_selectable=row["location_selectable"],
        location_visible=row["location_visible"],
        fixed_location_id=row["fixed_location_id"],
        appointment_type_ids=list(row["appointment_type_ids"]),
        appointment_type_selectable=row["appointment_type_selectable"],
        appointment_type_visible=row["appointment_type_visible"],
        fixed_appointment_type_id=row["fixed_appointment_type_id"],
        practitioner_ids=list(row["practitioner_ids"]),
        are_practitioners_selectable=row["are_practitioners_selectable"],
        forward_booking_limit=row["forward_booking_limit"],
        forward_booking_limit_active=row["forward_booking_limit_active"],
        forward_booking_limit_unit=row["forward_booking_limit_unit"],
        afterward_booking_limit=row["afterward_booking_limit"],
        afterward_booking_limit_active=row["afterward_booking_limit_active"],
        afterward_booking_limit_unit=row["afterward_booking_limit_unit"],
        allowed_phone_countries=list(row["allowed_phone_countries"]),
        sms_budget_per_day=row["sms_budget_per_day"],
        reminders=msgspec.convert(row["reminders"], list[s.ReminderSpec]),
        scheduler_configs=[to_config(c) for c in config_rows],
        widget=s.Widget(
            publishable_key=row["publishable_key"],
            allowed_origins=list(row["allowed_origins"]),
            theme=msgspec.convert(row["theme"], s.Theme),
        ),
        waitlist=msgspec.convert(row["waitlist"], s.Waitlist),
    )
