"""Slot search = a load step (I/O, typed rows) + a plan step (pure).

The public way to ask "which times can be booked" for a setting at one location, for one
appointment type and range, used by the partner and widget availability calls, the booking
re-check and any other caller (a FHIR facade, say):

    found = await search(conn, account_id, SlotSearch(...), now)
    shape.encode(found)   # the Lobbie availability response, JSON bytes
    found.slots           # the same times as engine `Slot`s (start, practitioner, config)

`search` reads in two statements: `store.load_inputs` (setting, type, zone, configs) and
`store.busy`. A caller that already loaded the inputs in its transaction (the booking path, to
validate the request) passes them as `inputs=` and the search reads busy times only. Errors are
`Problem`s (404 unknown setting, 422 inactive setting, 400 for ids the setting does not have).
The cached path (answer.py) uses the same two steps per location-day.
"""

from __future__ import annotations

from datetime import datetime

from app.availability import store
from app.availability.plan import (
    MAX_RANGE,
    Plan,
    Scope,
    SlotSearch,
    busy_window,
    check_range,
    plan,
    scope_of,
)

__all__ = ["MAX_RANGE", "Plan", "SlotSearch", "check_range", "load_busy", "load_inputs", "search"]


async def load_inputs(conn: store.Conn, account_id: int, query: SlotSearch) -> store.Inputs:
    return await store.load_inputs(
        conn, account_id, query.setting_id, query.appointment_type_id, query.location_id
    )


async def load_busy(
    conn: store.Conn,
    account_id: int,
    scope: Scope,
    start: datetime,
    end: datetime,
    now: datetime,
) -> list:
    """Busy times of the scope's practitioners that can matter for starts in [start, end)."""
    if not scope.configs:
        return []
    query = scope.query
    return await store.busy(
        conn,
        account_id,
        scope.practitioner_ids,
        *busy_window(start, end),
        now=now,
        except_attempt_id=query.except_attempt_id,
        except_appointment_id=query.except_appointment_id,
    )


async def search(
    conn: store.Conn,
    account_id: int,
    query: SlotSearch,
    now: datetime,
    *,
    inputs: store.Inputs | None = None,
    require_active: bool = True,
) -> Plan:
    """Load and plan one query (see the module docstring). `require_active=False`: staff
    booking through an inactive setting."""
    check_range(query.range_start, query.range_end)
    if inputs is None:
        inputs = await load_inputs(conn, account_id, query)
    scope = scope_of(inputs, query, require_active=require_active)
    busy = await load_busy(conn, account_id, scope, query.range_start, query.range_end, now)
    return plan(scope, busy, now, query.range_start, query.range_end)
