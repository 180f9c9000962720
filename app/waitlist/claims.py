"""An offer link: what it shows, and claiming it through the ordinary booking path.

A claim is one transaction, locking in the order every booking change does — the patient's
appointment (an earlier-request), then the practitioner's advisory lock — and only then the
offer and its entry. Inside, the slot is re-checked by the availability engine and written
under the exclusion constraint, exactly as a widget booking or a reschedule is: of any number
of claims on one slot exactly one wins. A losing claim marks its offer TAKEN, commits that, and
answers 409 `offer_taken`; its entry stays on the list.
"""

from __future__ import annotations

import asyncio
import weakref
from datetime import datetime

import asyncpg
import msgspec

from app import events
from app.appointments import booking, changes, notify
from app.appointments import schemas as appointment_schemas
from app.appointments import store as appointment_store
from app.config import Settings
from app.core.crud import Row
from app.core.db import transaction
from app.core.errors import Problem, not_found
from app.notifications.messages import APPOINTMENT_CONFIRMATION
from app.selfscheduling import store as settings_store
from app.waitlist import store
from app.waitlist.entries import waitlist_setting
from app.waitlist.matcher import offer_token_hash

TOKEN_PREFIX = "of_"  # noqa: S105 - a prefix, not a secret
# Claims on one practitioner's time queue here, in the process, before taking a database
# connection: a burst of claims on one slot then holds one connection, not one per claimant
# waiting on the advisory lock (which still serialises them across processes).
_queues: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()


class Claimed(msgspec.Struct, frozen=True):
    appointment: Row
    created: bool  # True: a new appointment; False: the patient's appointment moved
    manage_token: str | None


def offer_taken() -> Problem:
    return Problem(409, "offer_taken", "Someone else just took this time; you stay on the list.")


def offer_expired() -> Problem:
    return Problem(409, "offer_expired", "This offer has ended; you stay on the list.")


async def find(pool: asyncpg.Pool, secret_key: str, token: str) -> Row:
    """The offer behind a link; 404 for anything else (the same answer for a malformed, an
    unknown and a guessed token)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        raise not_found("offer")
    row = await store.offer_by_token_hash(pool, offer_token_hash(secret_key, token))
    if row is None:
        raise not_found("offer")
    return row


def status(offer: Row, now: datetime) -> str:
    if offer["status"] == "OPEN" and offer["expires_at"] <= now:
        return "EXPIRED"
    return offer["status"]


async def claim(pool: asyncpg.Pool, settings: Settings, token: str, now: datetime) -> Claimed:
    found = await find(pool, settings.secret_key, token)
    queue = _queues.get(found["practitioner_id"])
    if queue is None:
        queue = _queues.setdefault(found["practitioner_id"], asyncio.Lock())
    async with queue:
        return await _claim(pool, settings, found, now)


async def _claim(pool: asyncpg.Pool, settings: Settings, found: Row, now: datetime) -> Claimed:
    account_id = found["account_id"]
    async with transaction(pool) as conn:
        appointment = None
        if found["kind"] == "EARLIER":
            appointment = await appointment_store.get(
                conn, account_id, found["current_appointment_id"], for_update=True
            )
        await appointment_store.lock_practitioner(conn, found["practitioner_id"])
        offer = await store.lock_offer(conn, found["id"])
        state = status(offer, now)
        if state in ("CLAIMED", "TAKEN"):
            raise offer_taken()
        entry = await store.get_entry(conn, account_id, offer["entry_id"], for_update=True)
        if state == "EXPIRED" or entry["status"] != "ACTIVE":
            raise offer_expired()
        setting = waitlist_setting(
            await settings_store.get_setting(conn, account_id, offer["setting_id"])
        )
        try:
            if appointment is not None:
                claimed = await _move(conn, settings, offer, appointment, now)
            else:
                claimed = await _book(conn, settings, offer, entry, setting, now)
        except Problem as problem:
            if problem.code != "slot_unavailable":
                raise
            await store.mark_taken(conn, [offer["id"]])
            claimed = None
        if claimed is not None:
            await _record_claim(conn, offer, claimed, appointment, now)
    if claimed is None:
        raise offer_taken()
    return claimed


def _request(offer: Row) -> appointment_schemas.SlotRequest:
    return appointment_schemas.SlotRequest(
        appointment_type_id=offer["appointment_type_id"],
        location_id=offer["location_id"],
        practitioner_id=offer["practitioner_id"],
        scheduler_config_id=offer["scheduler_config_id"],
        start_date_time=offer["start_at"],
    )


async def _book(
    conn: asyncpg.Connection,
    settings: Settings,
    offer: Row,
    entry: Row,
    setting: Row,
    now: datetime,
) -> Claimed:
    account_id = offer["account_id"]
    target = await booking.check_request(conn, account_id, setting, _request(offer))
    slot = await booking.require_offered(
        conn, account_id, setting, target, now, except_attempt_id=None
    )
    token, token_hash = notify.new_manage_token(settings.secret_key)
    appointment_id = await booking.insert_appointment(
        conn,
        account_id,
        setting,
        target,
        slot,
        now,
        patient_id=entry["patient_id"],
        attempt_id=None,
        manage_token_hash=token_hash,
        source="WAITLIST",
    )
    await notify.announce(
        conn,
        account_id=account_id,
        appointment_id=appointment_id,
        event_type=events.APPOINTMENT_CREATED,
        purpose=APPOINTMENT_CONFIRMATION,
        contacts=await notify.patient_contacts(conn, entry["patient_id"]),
        public_url=settings.public_url,
        secret_key=settings.secret_key,
        now=now,
        manage_token=token,
        extra={
            "waitlistEntryId": entry["id"],
            "source": "WAITLIST",
            "generatedFromType": slot.generated_from,
        },
    )
    return Claimed(await appointment_store.get(conn, account_id, appointment_id), True, token)


async def _move(
    conn: asyncpg.Connection, settings: Settings, offer: Row, appointment: Row, now: datetime
) -> Claimed:
    if offer["start_at"] >= appointment["start_at"]:
        raise offer_expired()  # the appointment moved earlier meanwhile: nothing to gain
    # the time this move frees is an opening one step further down the cascade
    await conn.execute(
        "SELECT set_config('slotproof.waitlist_depth', $1, true)", str(offer["depth"] + 1)
    )
    await changes.reschedule_locked(
        conn,
        settings,
        appointment,
        start=offer["start_at"],
        actor=changes.PATIENT,
        now=now,
        practitioner_id=offer["practitioner_id"],
        scheduler_config_id=offer["scheduler_config_id"],
        manage_token=None,
    )
    moved = await appointment_store.get(conn, offer["account_id"], appointment["id"])
    return Claimed(moved, False, None)


async def _record_claim(
    conn: asyncpg.Connection,
    offer: Row,
    claimed: Claimed,
    before: Row | None,
    now: datetime,
) -> None:
    gained = (
        int((before["start_at"] - offer["start_at"]).total_seconds() // 60)
        if before is not None
        else None
    )
    appointment = claimed.appointment
    await store.mark_claimed(conn, offer["id"], appointment["id"], gained, now)
    await store.end_entry(conn, offer["entry_id"], "CLAIMED", "CLAIMED", now)
    await store.take_others(conn, offer["id"], offer["practitioner_id"], offer["start_at"])
    await events.record(
        conn,
        account_id=offer["account_id"],
        type=events.WAITLIST_CLAIMED,
        data={
            "waitlistEntryId": offer["entry_id"],
            "offerId": offer["id"],
            "appointmentId": appointment["id"],
            "selfSchedulingSettingId": offer["setting_id"],
            "startDateTime": booking.to_appointment(appointment).start_date_time,
            "moved": before is not None,
            "minutesGained": gained,
        },
    )
