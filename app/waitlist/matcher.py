"""Turn openings into offers: the background half of the waitlist (docs/waitlist.md).

Triggers write an opening in the transaction that frees time (so none is lost when a process
dies). `process_next` takes the oldest unprocessed one with FOR UPDATE SKIP LOCKED, serialises
matching per account with an advisory lock, finds the open slots the freed time now allows
(the availability engine: durations, buffers, notice and forward limits, practitioner and
type), lets the pure `matching.assign` choose the entries, and writes the offers, their
messages (outbox) and events — then marks the opening processed, all in that one
transaction: each opening yields its offers exactly once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

import asyncpg

from app import events
from app.appointments.notify import patient_contacts, when_text
from app.availability import engine as e
from app.availability.service import MAX_RANGE, SlotSearch, search
from app.config import Settings
from app.core.crud import Row
from app.core.db import transaction
from app.core.errors import Problem
from app.core.secrets import keyed_hash, random_token
from app.notifications.messages import WAITLIST_OFFER
from app.notifications.optouts import sms_opted_out
from app.notifications.outbox import enqueue
from app.selfscheduling import store as settings_store
from app.waitlist import matching, store

# One cancellation sets off at most this many earlier-claim moves, each freeing a slot.
MAX_CASCADE_DEPTH = 3
# A slot whose offers all expired unclaimed is offered to the next entries at most this often.
MAX_REOFFER_ROUNDS = 2
# Offers one patient receives in any 24 hours, whatever their entries.
OFFERS_PER_PATIENT_PER_DAY = 3
# a slot starting this long before freed time may overlap it (longest visit plus buffers)
_REACH = timedelta(hours=12)

Group = tuple[int, int, int]  # (setting id, location id, appointment type id)


def offer_token_hash(secret_key: str, token: str) -> str:
    return keyed_hash(secret_key, "waitlist-offer", token)


def offer_url(public_url: str, token: str, locale: str) -> str:
    # the token in the fragment, like manage links: never in server logs or Referer headers;
    # the page opens in the language of the message
    return f"{public_url}/widget/v1/frame?lang={locale}#offer={token}"


async def process_next(pool: asyncpg.Pool, settings: Settings, now: datetime) -> bool:
    """Match the oldest unprocessed opening; False when there is none."""
    async with transaction(pool) as conn:
        opening = await store.next_opening(conn)
        if opening is None:
            return False
        if opening["depth"] < MAX_CASCADE_DEPTH and opening["round"] <= MAX_REOFFER_ROUNDS:
            await store.lock_account_matching(conn, opening["account_id"])
            await _match(conn, settings, opening, now)
        await store.mark_processed(conn, opening["id"], now)
        return True


async def expire_and_reoffer(pool: asyncpg.Pool, now: datetime) -> int:
    """Expire offers past their time; a slot none of whose offers was claimed becomes an
    opening of the next round. Returns the offers' slots re-opened."""
    async with transaction(pool) as conn:
        slots = await store.expire_offers(conn, now)
        for slot in slots:
            if slot["round"] < MAX_REOFFER_ROUNDS:
                await store.insert_opening(
                    conn,
                    account_id=slot["account_id"],
                    practitioner_id=slot["practitioner_id"],
                    start=slot["start_at"],
                    end=slot["end_at"],
                    kind=slot["kind"],
                    depth=slot["depth"],
                    round_=slot["round"] + 1,
                )
        ended = await store.end_passed_windows(conn, now)
        return len(slots) + ended


def _window(opening: Row, now: datetime) -> tuple[datetime, datetime]:
    during = opening["during"]
    if during is None:
        return now, now + MAX_RANGE
    return max(now, during.lower - _REACH), during.upper


async def _match(conn: asyncpg.Connection, settings: Settings, opening: Row, now: datetime) -> None:
    account_id, practitioner_id = opening["account_id"], opening["practitioner_id"]
    window = _window(opening, now)
    if window[1] <= window[0]:
        return
    rows = await store.candidates(conn, account_id, practitioner_id, window, now)
    if not rows:
        return
    setting_rows: dict[int, Row] = {}
    slots_by_group: dict[Group, list[matching.OpenSlot]] = {}
    for group in dict.fromkeys(_group(r) for r in rows):
        if group[0] not in setting_rows:
            setting_rows[group[0]] = await settings_store.get_setting(conn, account_id, group[0])
        slots_by_group[group] = await _open_slots(
            conn, setting_rows[group[0]], group, practitioner_id, opening, window, now
        )
    open_rows, offered, today = await store.offer_state(
        conn, account_id, practitioner_id, window, now
    )
    open_per_slot: dict[matching.SlotKey, int] = {}
    for r in open_rows:
        key = (r["practitioner_id"], int(r["start_at"].timestamp()))
        open_per_slot[key] = open_per_slot.get(key, 0) + 1
    chosen = matching.assign(
        (_candidate(r) for r in rows),
        slots_by_group,
        offers_per_slot={i: r["waitlist"]["offersPerSlot"] for i, r in setting_rows.items()},
        open_per_slot=open_per_slot,
        entries_with_open_offer={r["entry_id"] for r in open_rows},
        already_offered={
            (r["entry_id"], (practitioner_id, int(r["start_at"].timestamp()))) for r in offered
        },
        offers_today=today,
        per_patient_cap=OFFERS_PER_PATIENT_PER_DAY,
    )
    by_id = {r["id"]: r for r in rows}
    for assignment in chosen:
        entry = by_id[assignment.entry_id]
        setting = setting_rows[entry["setting_id"]]
        await _offer(conn, settings, opening, entry, setting, assignment, now)


def _group(row: Row) -> Group:
    return (row["setting_id"], row["location_id"], row["appointment_type_id"])


def _candidate(row: Row) -> matching.Candidate:
    return matching.Candidate(
        entry_id=row["id"],
        patient_id=row["patient_id"],
        group=_group(row),
        practitioner_ids=frozenset(row["practitioner_ids"]),
        window_start=row["window_start"],
        window_end=row["window_end"],
    )


async def _open_slots(
    conn: asyncpg.Connection,
    setting: Row,
    group: Group,
    practitioner_id: int,
    opening: Row,
    window: tuple[datetime, datetime],
    now: datetime,
) -> list[matching.OpenSlot]:
    """This practitioner's bookable slots for the group now, overlapping the freed time."""
    if not (setting["active"] and setting["waitlist"]["enabled"]):
        return []
    if practitioner_id not in setting["practitioner_ids"]:
        return []
    try:
        async with conn.transaction():  # a search refused by the setting must not poison ours
            found = await search(
                conn,
                setting["account_id"],
                SlotSearch(
                    setting_id=setting["id"],
                    location_id=group[1],
                    appointment_type_id=group[2],
                    range_start=window[0],
                    range_end=window[1],
                    practitioner_ids=(practitioner_id,),
                ),
                now,
            )
    except Problem:  # the setting no longer offers this location, type or practitioner
        return []
    buffers = {c.id: (c.buffer_before_minutes, c.buffer_after_minutes) for c in found.scope.configs}
    return [
        matching.OpenSlot(
            start=slot.start,
            end=slot.end,
            practitioner_id=slot.practitioner_id,
            scheduler_config_id=slot.scheduler_config_id,
            location_id=slot.location_id,
        )
        for slot in _touching(found.slots, buffers, opening["during"])
    ]


def _touching(slots: Iterable[e.Slot], buffers: dict[int, tuple[int, int]], during) -> list[e.Slot]:
    """The slots whose buffered time overlaps the freed range (all of them for a schedule
    change): only what this opening made bookable is offered."""
    if during is None:
        return list(slots)
    kept = []
    for slot in slots:
        before, after = buffers.get(slot.scheduler_config_id, (0, 0))
        if (
            slot.start - timedelta(minutes=before) < during.upper
            and slot.end + timedelta(minutes=after) > during.lower
        ):
            kept.append(slot)
    return kept


async def _offer(
    conn: asyncpg.Connection,
    settings: Settings,
    opening: Row,
    entry: Row,
    setting: Row,
    assignment: matching.Assignment,
    now: datetime,
) -> None:
    channel = await _channel(conn, opening["account_id"], entry["patient_id"])
    if channel is None:
        return  # no way to reach the patient: nothing to offer
    slot = assignment.slot
    minutes = setting["waitlist"]["offerMinutes"]
    token = random_token("of_", 24)
    expires_at = now + timedelta(minutes=minutes)
    place = await conn.fetchrow(
        "SELECT l.name, l.time_zone, t.telehealth, a.name AS practice FROM locations l"
        " JOIN appointment_types t ON t.id = $2 JOIN accounts a ON a.id = l.account_id"
        " WHERE l.id = $1",
        slot.location_id,
        entry["appointment_type_id"],
    )
    notification_id = await enqueue(
        conn,
        account_id=opening["account_id"],
        channel=channel[0],  # type: ignore[arg-type]
        to=channel[1],
        purpose=WAITLIST_OFFER,
        params={
            "practice": place["practice"],
            "when": when_text(slot.start, place["time_zone"]),
            "place": "Video visit" if place["telehealth"] else place["name"],
            "offer_url": offer_url(settings.public_url, token, entry["locale"]),
            "minutes": str(minutes),
        },
        locale=entry["locale"],
    )
    offer_id = await store.insert_offer(
        conn,
        account_id=opening["account_id"],
        entry_id=entry["id"],
        opening_id=opening["id"],
        patient_id=entry["patient_id"],
        setting_id=setting["id"],
        token_hash=offer_token_hash(settings.secret_key, token),
        practitioner_id=slot.practitioner_id,
        scheduler_config_id=slot.scheduler_config_id,
        location_id=slot.location_id,
        appointment_type_id=entry["appointment_type_id"],
        start=slot.start,
        end=slot.end,
        channel=channel[0],
        notification_id=notification_id,
        expires_at=expires_at,
        now=now,
    )
    tz = e.zone(place["time_zone"])
    await events.record(
        conn,
        account_id=opening["account_id"],
        type=events.WAITLIST_OFFERED,
        data={
            "waitlistEntryId": entry["id"],
            "offerId": offer_id,
            "selfSchedulingSettingId": setting["id"],
            "practitionerId": slot.practitioner_id,
            "locationId": slot.location_id,
            "appointmentTypeId": entry["appointment_type_id"],
            "startDateTime": slot.start.astimezone(tz).isoformat(),
            "expiresAt": expires_at.isoformat(),
        },
    )


async def _channel(
    conn: asyncpg.Connection, account_id: int, patient_id: int
) -> tuple[str, str] | None:
    """SMS when the patient has a mobile number that did not opt out of the practice's texts
    (an offer is first come, first served, and short-lived), else email."""
    contacts = dict(await patient_contacts(conn, patient_id))
    if "SMS" in contacts and not await sms_opted_out(conn, account_id, contacts["SMS"]):
        return "SMS", contacts["SMS"]
    if "EMAIL" in contacts:
        return "EMAIL", contacts["EMAIL"]
    return None
