"""Self-scheduling attempt operations, shared by the partner API and the widget API.

Each operation is one transaction that locks the attempt row first; steps go through the pure
state machine (`machine.advance`), and every recorded step is a row in `attempt_steps`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import asyncpg
import msgspec

from app import events
from app.appointments import booking
from app.appointments import schemas as appointment_schemas
from app.appointments import store as appointment_store
from app.attempts import holds, machine, store
from app.attempts import schemas as s
from app.attempts.machine import Refusal, Step
from app.config import Settings
from app.core.crud import Row
from app.core.db import transaction
from app.core.errors import Problem, invalid
from app.core.phones import mobile_digits
from app.identity import store as identity_store
from app.identity.contacts import ContactError, email_contact, phone_contact
from app.patients import matching
from app.patients import store as patient_store
from app.selfscheduling import store as settings_store


async def _advance(
    conn: asyncpg.Connection,
    attempt: store.Attempt,
    step: Step,
    now: datetime,
    *,
    needs_verification: bool = False,
    **columns: object,
) -> store.Attempt:
    outcome = machine.advance(attempt.status, step, needs_verification=needs_verification)
    if isinstance(outcome, Refusal):
        raise Problem(outcome.status, outcome.code, outcome.detail)
    if outcome.record:
        await store.add_step(conn, attempt.id, attempt.account_id, step, now)
    return await store.update(conn, attempt, now, status=outcome.state, **columns)


def _needs_verification(setting: Row) -> bool:
    return setting["verification_method"] is not None


async def _active_setting(conn: asyncpg.Connection, account_id: int, setting_id: int) -> Row:
    setting = await settings_store.get_setting(conn, account_id, setting_id)
    if not setting["active"]:
        raise Problem(422, "setting_inactive", "This self-scheduling setting is not active.")
    return setting


async def _bind_proof(
    conn: asyncpg.Connection,
    attempt: store.Attempt,
    setting: Row,
    proof_id: int,
    now: datetime,
) -> store.Attempt:
    # not FOR UPDATE: identity sends lock the proof and then its attempt; the unique index on
    # identity_proof_id settles a race to bind one proof twice
    proof = await identity_store.get_proof(conn, attempt.account_id, proof_id)
    if proof.expired(now):
        raise Problem(422, "proof_expired", "The identity proof has expired; create a new one.")
    if proof.verification_method != setting["verification_method"]:
        raise Problem(
            422,
            "verification_method_mismatch",
            "The identity proof's verification method differs from the setting's.",
        )
    if await store.proof_bound_elsewhere(conn, proof_id, attempt.id):
        raise Problem(409, "proof_already_bound", "The identity proof belongs to another attempt.")
    try:
        async with conn.transaction():
            attempt = await store.update(conn, attempt, now, identity_proof_id=proof_id)
    except asyncpg.UniqueViolationError:
        raise Problem(
            409, "proof_already_bound", "The identity proof belongs to another attempt."
        ) from None
    if proof.is_verified:
        attempt = await _advance(conn, attempt, Step.VERIFIED, now)
        await _verified_event(conn, attempt)
    return attempt


async def _verified_event(conn: asyncpg.Connection, attempt: store.Attempt) -> None:
    await events.record(
        conn,
        account_id=attempt.account_id,
        type=events.ATTEMPT_VERIFIED,
        data={"attemptId": attempt.id, "selfSchedulingSettingId": attempt.setting_id},
    )


async def start(
    pool: asyncpg.Pool,
    account_id: int,
    body: s.AttemptIn,
    now: datetime,
    *,
    source: str = "PARTNER",
    token_hash: str | None = None,
    locale: str = "en",
) -> store.Attempt:
    """`locale`: the patient's language (the widget's); every message of the attempt uses it."""
    async with transaction(pool) as conn:
        setting = await _active_setting(conn, account_id, body.self_scheduling_setting_id)
        attempt = await store.create(
            conn, account_id, setting["id"], now=now, source=source, token_hash=token_hash,
            locale=locale,
        )  # fmt: skip
        await events.record(
            conn,
            account_id=account_id,
            type=events.ATTEMPT_STARTED,
            data={"attemptId": attempt.id, "selfSchedulingSettingId": setting["id"]},
        )
        if body.identity_proof_id is not None:
            attempt = await _bind_proof(conn, attempt, setting, body.identity_proof_id, now)
        return attempt


async def attach_proof(
    pool: asyncpg.Pool, account_id: int, attempt_id: int, proof_id: int, now: datetime
) -> store.Attempt:
    async with transaction(pool) as conn:
        attempt = await store.get(conn, account_id, attempt_id, for_update=True)
        if attempt.status in machine.TERMINAL:
            refusal = machine.advance(attempt.status, Step.VERIFIED, needs_verification=False)
            assert isinstance(refusal, Refusal)
            raise Problem(refusal.status, refusal.code, refusal.detail)
        if attempt.identity_proof_id == proof_id:
            return attempt
        if attempt.identity_proof_id is not None:
            raise Problem(409, "proof_already_set", "This attempt already has an identity proof.")
        setting = await settings_store.get_setting(conn, account_id, attempt.setting_id)
        return await _bind_proof(conn, attempt, setting, proof_id, now)


async def on_proof_step(
    conn: asyncpg.Connection, proof_id: int, step: Step, now: datetime, *, verified: bool
) -> None:
    """Called by identity proofing inside its transaction: a code was sent, or the proof
    became fully verified. Attempts that are finished ignore it."""
    attempt = await store.by_proof(conn, proof_id)
    if attempt is None or attempt.status in machine.TERMINAL:
        return
    if step is Step.CODE_SENT:
        await _advance(conn, attempt, Step.CODE_SENT, now)
    elif step is Step.VERIFIED and verified:
        before = attempt.status
        attempt = await _advance(conn, attempt, Step.VERIFIED, now)
        if attempt.status is not before:
            await _verified_event(conn, attempt)


async def record_first(
    pool: asyncpg.Pool, account_id: int, attempt_id: int, step: Step, now: datetime
) -> None:
    """Record a step the first time it happens (e.g. AVAILABILITY_VIEWED); finished
    attempts record nothing."""
    async with transaction(pool) as conn:
        attempt = await store.get(conn, account_id, attempt_id, for_update=True)
        if attempt.status in machine.TERMINAL or await store.has_step(conn, attempt.id, step):
            return
        await _advance(conn, attempt, step, now)


async def _verified_contacts(
    conn: asyncpg.Connection, attempt: store.Attempt
) -> tuple[str | None, str | None, bool]:
    """(verified email, verified phone, fully verified) of the attempt's proof."""
    if attempt.identity_proof_id is None:
        return None, None, False
    proof = await identity_store.get_proof(conn, attempt.account_id, attempt.identity_proof_id)
    return proof.verified_email, proof.verified_phone, proof.is_verified


def _given_contacts(body: s.AttemptPatientIn, setting: Row) -> tuple[str | None, str | None]:
    try:
        email = email_contact(body.email).value if body.email else None
        phone = (
            phone_contact(body.phone, allowed_countries=setting["allowed_phone_countries"]).value
            if body.phone
            else None
        )
    except ContactError as exc:
        raise exc.problem() from None
    return email, phone


def _refuse_contradiction(
    given_email: str | None, email: str | None, given_phone: str | None, phone: str | None
) -> None:
    """422 `contact_not_verified` only for a contact that contradicts the verified one on the
    same channel; a contact on a channel the proof did not verify is no contradiction."""
    if (given_email and email and given_email.lower() != email.lower()) or (
        given_phone and phone and given_phone != phone
    ):
        raise Problem(
            422,
            "contact_not_verified",
            "A contact in the body differs from the one the identity proof verified.",
        )


async def set_patient(
    pool: asyncpg.Pool, account_id: int, attempt_id: int, body: s.AttemptPatientIn, now: datetime
) -> tuple[Row, bool]:
    """(patient row, created?) — matches on account + date of birth + verified contact and
    case- and accent-insensitive names; several candidates -> 422 ambiguous_match. A setting
    without verification never matches: its contacts are whatever the caller typed."""
    first = matching.check_name(body.first_name, "firstName")
    last = matching.check_name(body.last_name, "lastName")
    dob = matching.check_birth_date(body.date_of_birth, now.date())
    async with transaction(pool) as conn:
        attempt = await store.get(conn, account_id, attempt_id, for_update=True)
        setting = await settings_store.get_setting(conn, account_id, attempt.setting_id)
        needs = _needs_verification(setting)
        refusal = machine.advance(attempt.status, Step.PATIENT_SET, needs_verification=needs)
        if isinstance(refusal, Refusal):
            raise Problem(refusal.status, refusal.code, refusal.detail)
        given_email, given_phone = _given_contacts(body, setting)
        if needs:
            # a contact on a channel the proof did not verify is accepted and ignored: it never
            # matches, changes or is stored on a record (record takeover)
            email, phone, _ = await _verified_contacts(conn, attempt)
            _refuse_contradiction(given_email, email, given_phone, phone)
        else:
            email, phone = given_email, given_phone
        if not email and not phone:
            raise invalid("email", "an email or a phone is required")
        if needs:
            patient, created = await _match_or_create(
                conn, account_id, first, last, dob, email, phone
            )
        else:
            # unverified contacts never match, reveal or change an existing patient
            patient = await patient_store.insert(
                conn, account_id, first_name=first, last_name=last, dob=dob, email=email,
                phone=phone, contacts_verified=False,
            )  # fmt: skip
            created = True
        await _advance(
            conn, attempt, Step.PATIENT_SET, now, needs_verification=needs, patient_id=patient["id"]
        )
        return patient, created


async def _match_or_create(
    conn: asyncpg.Connection,
    account_id: int,
    first: str,
    last: str,
    dob: date,
    email: str | None,
    phone: str | None,
) -> tuple[Row, bool]:
    """The one patient holding a verified contact with these names (a verified contact it
    lacks is added), else a new one; 422 ambiguous_match when several qualify."""
    found = [
        row
        for row in await patient_store.candidates(conn, account_id, dob, email=email, phone=phone)
        if matching.same_person(first, last, row["first_name"], row["last_name"])
    ]
    if len(found) > 1:
        raise Problem(
            422,
            "ambiguous_match",
            "Several patients match; the patient cannot be chosen automatically.",
        )
    if found:
        return await patient_store.fill_missing_contacts(conn, found[0]["id"], email, phone), False
    patient = await patient_store.insert(
        conn, account_id, first_name=first, last_name=last, dob=dob, email=email, phone=phone
    )
    return patient, True


async def hold(
    pool: asyncpg.Pool,
    settings: Settings,
    account_id: int,
    attempt_id: int,
    req: appointment_schemas.SlotRequest,
    now: datetime,
    *,
    widget: holds.WidgetCaller | None = None,
    staff: bool = False,
) -> appointment_schemas.Hold:
    """Hold a slot for the attempt (rules in `app.attempts.holds`); `widget` is the caller of a
    widget hold, whose live holds are capped; `staff` a hold by staff software (the FHIR
    facade), which has no identity proof to send a code on."""
    async with transaction(pool) as conn:
        attempt = await store.get(conn, account_id, attempt_id, for_update=True)
        refusal = machine.advance(attempt.status, Step.SLOT_SELECTED, needs_verification=False)
        if isinstance(refusal, Refusal):
            raise Problem(refusal.status, refusal.code, refusal.detail)
        setting = await _active_setting(conn, account_id, attempt.setting_id)
        minutes = (
            settings.hold_minutes
            if staff
            else await holds.hold_minutes(conn, settings, setting, attempt.identity_proof_id)
        )
        if widget is not None:
            await holds.check_caps(conn, settings, widget, attempt.id, now)
        target = await booking.check_request(conn, account_id, setting, req)
        slot = await booking.require_offered(
            conn, account_id, setting, target, now, except_attempt_id=attempt.id
        )
        expires_at = now + timedelta(minutes=minutes)
        hold_id = await appointment_store.replace_hold(
            conn,
            account_id=account_id,
            attempt_id=attempt.id,
            practitioner_id=req.practitioner_id,
            location_id=req.location_id,
            scheduler_config_id=req.scheduler_config_id,
            appointment_type_id=req.appointment_type_id,
            start=slot.start,
            minutes=target.minutes,
            buffer_before=target.config.buffer_before_minutes,
            buffer_after=target.config.buffer_after_minutes,
            expires_at=expires_at,
            client_hash=widget.client_hash if widget else None,
            widget_setting_id=widget.setting_id if widget else None,
        )
        await _advance(conn, attempt, Step.SLOT_SELECTED, now, location_id=req.location_id)
        return appointment_schemas.Hold(hold_id=hold_id, expires_at=expires_at)


class Booked(msgspec.Struct, frozen=True):
    appointment: Row
    manage_token: str
    # the setting keeps a waitlist: the patient may ask for an earlier time right away
    can_ask_earlier: bool = False


async def book(
    pool: asyncpg.Pool,
    settings: Settings,
    account_id: int,
    attempt_id: int,
    req: appointment_schemas.SlotRequest,
    now: datetime,
    *,
    patient_id: int | None = None,
) -> Booked:
    """`patient_id`: a partner names the patient itself (the FHIR facade's `$book`): it is
    set in this transaction and no identity proof is asked for, as on a partner's own
    booking of a known patient."""
    async with transaction(pool) as conn:
        attempt = await store.get(conn, account_id, attempt_id, for_update=True)
        if patient_id is not None and attempt.status not in machine.TERMINAL:
            attempt = await _advance(conn, attempt, Step.PATIENT_SET, now, patient_id=patient_id)
        refusal = machine.advance(attempt.status, Step.BOOKED, needs_verification=False)
        if isinstance(refusal, Refusal):
            raise Problem(refusal.status, refusal.code, refusal.detail)
        setting = await _active_setting(conn, account_id, attempt.setting_id)
        email, phone, verified = await _verified_contacts(conn, attempt)
        if patient_id is None and _needs_verification(setting) and not verified:
            raise Problem(422, "not_verified", "The identity proof is not verified.")
        target = await booking.check_request(conn, account_id, setting, req)
        contacts = [c for c in (("EMAIL", email), ("SMS", phone)) if c[1]]
        if attempt.source == "WIDGET":  # the patient's language, for every later message too
            await patient_store.set_locale(conn, attempt.patient_id, attempt.locale)  # type: ignore[arg-type]
        created = await booking.create(
            conn,
            settings,
            account_id,
            setting,
            target,
            now,
            patient_id=attempt.patient_id,  # type: ignore[arg-type]  # PATIENT_SET guarantees it
            attempt_id=attempt.id,
            source="FHIR" if attempt.source == "FHIR" else "SELF_SCHEDULING",
            contacts=contacts or None,  # type: ignore[arg-type]
            extra={"attemptId": attempt.id},
        )
        appointment_id, token = created.appointment_id, created.manage_token
        await appointment_store.release_hold(conn, attempt.id)
        await _advance(
            conn,
            attempt,
            Step.BOOKED,
            now,
            appointment_id=appointment_id,
            location_id=req.location_id,
        )
        return Booked(
            await appointment_store.get(conn, account_id, appointment_id),
            token,
            can_ask_earlier=setting["waitlist"]["enabled"],
        )


async def abandon_idle(pool: asyncpg.Pool, idle: timedelta, now: datetime, batch: int = 200) -> int:
    """Attempts without activity for `idle` become ABANDONED (with an event); their holds go."""
    async with transaction(pool) as conn:
        attempts = await store.idle_since(conn, now - idle, batch)
        for attempt in attempts:
            await _advance(conn, attempt, Step.ABANDONED, now)
            await appointment_store.release_hold(conn, attempt.id)
            await events.record(
                conn,
                account_id=attempt.account_id,
                type=events.ATTEMPT_ABANDONED,
                data={"attemptId": attempt.id, "lastStatus": attempt.status.value},
            )
        return len(attempts)


async def view(conn: asyncpg.Connection | asyncpg.Pool, attempt: store.Attempt) -> s.Attempt:
    steps = (await store.steps(conn, [attempt.id]))[attempt.id]
    if attempt.identity_proof_id is not None:
        proof = await identity_store.get_proof(conn, attempt.account_id, attempt.identity_proof_id)
        is_verified = proof.is_verified
    else:
        setting = await settings_store.get_setting(conn, attempt.account_id, attempt.setting_id)
        is_verified = not _needs_verification(setting)
    return s.Attempt(
        id=attempt.id,
        self_scheduling_setting_id=attempt.setting_id,
        identity_proof_id=attempt.identity_proof_id,
        is_verified=is_verified,
        patient_id=attempt.patient_id,
        appointment_id=attempt.appointment_id,
        status=attempt.status.value,
        steps=[s.AttemptStep(step=r.step.value, at=r.at) for r in steps],
        created_at=attempt.created_at,
        updated_at=attempt.updated_at,
    )


def to_patient(row: Row, *, phone: Callable[[str | None], str | None] = mobile_digits) -> s.Patient:
    """The attempt patient step's answer; `mobilePhone` as digits on partner paths (the widget
    passes its own format)."""
    return s.Patient(
        id=row["id"],
        first_name=row["first_name"],
        last_name=row["last_name"],
        date_of_birth=row["date_of_birth"],
        email=row["email"],
        mobile_phone=phone(row["mobile_phone"]),
    )
