"""Slot search: load a setting's configs and busy times, run the pure engine.

One implementation behind the partner availability endpoint, the widget's, and the booking
re-check (which searches one config over the one requested start).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec

from app.availability import engine as e
from app.availability import store
from app.availability.limits import before_limit, earliest_start, latest_start
from app.core.crud import Row
from app.core.errors import Problem, invalid
from app.selfscheduling import store as settings_store

MAX_RANGE = timedelta(days=62)
# busy times are read this far around the range: buffers, and whole local days for maxPerDay
_MARGIN = timedelta(days=1, hours=14)
# how far past the forward limit slots are computed to learn when the next comes into reach
_PROBE = timedelta(days=1)


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


class SearchResult(msgspec.Struct, kw_only=True):
    setting: Row
    time_zone: str
    selectable: bool
    slots: list[e.Slot]
    practitioner_ids: list[int]
    busy: list[e.BusySpan]
    # appointments and holds were read where their blocked time overlaps this range only
    busy_window: tuple[datetime, datetime]
    # the answer is certainly unchanged by the passing of time before this instant (holds
    # expiring, the notice and forward limits moving on); None: not by time at all
    stable_until: datetime | None = None


def check_range(start: datetime, end: datetime) -> None:
    if end <= start:
        raise Problem(400, "invalid_range", "The range must end after it starts.")
    if end - start > MAX_RANGE:
        raise Problem(400, "range_too_long", "The range may span at most 62 days.")


async def load_setting(conn: store.Conn, account_id: int, setting_id: int) -> Row:
    setting = await settings_store.get_setting(conn, account_id, setting_id)
    if not setting["active"]:
        raise Problem(422, "setting_inactive", "This self-scheduling setting is not active.")
    return setting


async def search(
    conn: store.Conn,
    account_id: int,
    query: SlotSearch,
    now: datetime,
    *,
    setting: Row | None = None,
    configs: list[Row] | None = None,
    kind: Row | None = None,
) -> SearchResult:
    """`configs` (`configs_for_setting` rows) and `kind` (`store.appointment_type`) may be
    passed when the caller already read them in this transaction."""
    check_range(query.range_start, query.range_end)
    setting = setting or await load_setting(conn, account_id, query.setting_id)
    if query.location_id not in setting["location_ids"]:
        raise invalid("locationId", "is not a location of this self-scheduling setting")
    if query.appointment_type_id not in setting["appointment_type_ids"]:
        raise invalid("appointmentTypeId", "is not an appointment type of this setting")
    wanted = set(query.practitioner_ids or ())
    if wanted - set(setting["practitioner_ids"]):
        raise invalid("practitionerIds", "include a practitioner who is not in this setting")
    if kind is None:
        kind = await store.appointment_type(conn, account_id, query.appointment_type_id)
    if kind is None or not kind["active"]:
        raise invalid("appointmentTypeId", "is not an active appointment type")

    rows = [
        r
        for r in (
            configs
            if configs is not None
            else await settings_store.configs_for_setting(conn, account_id, query.setting_id)
        )
        if r["location_id"] == query.location_id
        and r["location_active"]
        and r["practitioner_active"]
        and r["practitioner_id"] in setting["practitioner_ids"]
        and (not wanted or r["practitioner_id"] in wanted)
        and (query.config_id is None or r["id"] == query.config_id)
    ]
    time_zone = rows[0]["time_zone"] if rows else await _location_zone(conn, account_id, query)
    practitioner_ids = sorted({r["practitioner_id"] for r in rows})
    busy_window = (query.range_start - _MARGIN, query.range_end + _MARGIN)
    busy = (
        await store.busy(
            conn,
            account_id,
            practitioner_ids,
            *busy_window,
            now=now,
            except_attempt_id=query.except_attempt_id,
            except_appointment_id=query.except_appointment_id,
        )
        if rows
        else []
    )
    notice = (
        setting["afterward_booking_limit"],
        setting["afterward_booking_limit_unit"],
        setting["afterward_booking_limit_active"],
    )
    forward = (
        setting["forward_booking_limit"],
        setting["forward_booking_limit_unit"],
        setting["forward_booking_limit_active"],
    )
    earliest = earliest_start(now, *notice)
    latest = latest_start(now, *forward)
    # When the forward limit cuts the range, slots are computed a little past it (`probe_end`)
    # to learn when the next one comes into reach; those are cut off again below.
    cut = latest is not None and latest < query.range_end
    probe_end = (
        min(query.range_end, max(query.range_start, latest) + _PROBE)  # type: ignore[type-var]
        if cut
        else query.range_end
    )
    slots = e.compute_slots(
        [store.engine_config(r) for r in rows],
        duration_minutes=kind["duration_minutes"],
        busy=busy,
        now=now,
        min_notice=earliest - now,
        max_ahead=None if latest is None or cut else latest - now,
        range_start=query.range_start,
        range_end=probe_end,
        appointment_type_id=query.appointment_type_id,
    )
    bounds = [b.expires_at for b in busy if b.expires_at is not None]
    if slots:
        bounds.append(before_limit(slots[0].start, *notice))
    if cut:
        latest_ms = e.to_unix_ms(latest)  # type: ignore[arg-type]
        keep = next(
            (i for i, slot in enumerate(slots) if e.to_unix_ms(slot.start) > latest_ms),
            len(slots),
        )
        beyond = slots[keep].start if keep < len(slots) else None
        slots = slots[:keep]
        if beyond is not None or probe_end < query.range_end:
            bounds.append(before_limit(beyond or probe_end, *forward))
    return SearchResult(
        setting=setting,
        time_zone=time_zone,
        selectable=setting["are_practitioners_selectable"],
        slots=slots,
        practitioner_ids=practitioner_ids,
        busy=busy,
        busy_window=busy_window,
        stable_until=min(bounds, default=None),
    )


async def _location_zone(conn: store.Conn, account_id: int, query: SlotSearch) -> str:
    zone = await conn.fetchval(
        "SELECT time_zone FROM locations WHERE account_id = $1 AND id = $2",
        account_id,
        query.location_id,
    )
    if zone is None:
        raise invalid("locationId", "is not a location of this account")
    return zone


def day_load(busy: list[e.BusySpan], time_zone: str) -> dict[tuple[int, date], int]:
    """Live bookings per (practitioner, local date): the ranking input for assigning a
    practitioner when patients cannot choose one."""
    tz = ZoneInfo(time_zone)
    return dict(
        Counter(
            (b.practitioner_id, datetime.fromtimestamp(b.counted_at, tz).date())
            for b in busy
            if b.counted_at is not None
        )
    )
