"""Who may hold a slot, and for how long (slot squatting, issue 12).

A hold withholds a slot from everyone else, so it is never anonymous and never free:
- on a setting that verifies, the attempt's proof must have had a code sent to a contact (or be
  verified) first, else 409 `code_not_sent`; the contact's send limits then bound how many
  holds one person can place;
- a hold lasts `hold_minutes` once the attempt is verified, `unverified_hold_minutes` before
  (and always on a setting without verification);
- widget holds are capped per client address and per publishable key (live holds other than
  the attempt's own): 429 `rate_limited` with the seconds until the oldest one expires.
Partner holds (an authenticated server acting for many patients) have the first two rules
only. Holds by staff software through the FHIR facade (ITI-116 `$hold`, an authenticated EHR
with no identity proof to send a code on) last `hold_minutes` and need no code.
"""

from __future__ import annotations

from datetime import datetime

import asyncpg
import msgspec

from app.appointments import store as appointment_store
from app.config import Settings
from app.core.errors import Problem
from app.core.retry import seconds_until, too_many
from app.core.secrets import keyed_hash
from app.identity import store as identity_store


class WidgetCaller(msgspec.Struct, frozen=True):
    """The widget caller behind a hold: a keyed hash of the client address, and the setting
    its publishable key selects."""

    client_hash: str
    setting_id: int


def widget_caller(settings: Settings, client_ip: str, setting_id: int) -> WidgetCaller:
    return WidgetCaller(keyed_hash(settings.secret_key, "hold-client", client_ip), setting_id)


def cap_retry_after(now: datetime, live_expiries: list[datetime], cap: int) -> int | None:
    """Seconds until one more hold fits under `cap`, given the sorted expiry times of the live
    ones; None when it fits now."""
    if len(live_expiries) < cap:
        return None
    return seconds_until(now, live_expiries[len(live_expiries) - cap])


async def hold_minutes(
    conn: asyncpg.Connection, settings: Settings, setting: dict, proof_id: int | None
) -> int:
    """How long the attempt's hold may last; 409 `code_not_sent` when it may not hold yet."""
    if setting["verification_method"] is None:
        return settings.unverified_hold_minutes
    proof = (
        await identity_store.get_proof(conn, setting["account_id"], proof_id)
        if proof_id is not None
        else None
    )
    if proof is not None and proof.is_verified:
        return settings.hold_minutes
    if proof is None or not await identity_store.code_sent(conn, proof.id):
        raise Problem(
            409,
            "code_not_sent",
            "Send a verification code to the patient before holding a time.",
        )
    return settings.unverified_hold_minutes


async def check_caps(
    conn: asyncpg.Connection,
    settings: Settings,
    caller: WidgetCaller,
    attempt_id: int,
    now: datetime,
) -> None:
    """429 `rate_limited` when the caller's address or its publishable key already has as many
    live holds as allowed. Serialised per address and per key, so concurrent holds cannot
    overshoot."""
    await appointment_store.lock_hold_caps(conn, caller.client_hash, caller.setting_id)
    for cap, expiries in (
        (
            settings.holds_per_client,
            await appointment_store.live_hold_expiries(
                conn, now, except_attempt_id=attempt_id, client_hash=caller.client_hash
            ),
        ),
        (
            settings.holds_per_widget_key,
            await appointment_store.live_hold_expiries(
                conn, now, except_attempt_id=attempt_id, widget_setting_id=caller.setting_id
            ),
        ),
    ):
        if (wait := cap_retry_after(now, expiries, cap)) is not None:
            raise too_many("rate_limited", "Too many times are held right now; try later.", wait)
