"""Identity-proof operations, shared by the partner API and the widget API.

Each operation is one transaction. Sends and verifies lock the proof row (FOR UPDATE) and
then the contact (advisory lock), always in that order, so every limit is counted and checked
without a race: a 6th wrong guess cannot slip in beside the 5th, two sends cannot both see an
empty cooldown, and a code is consumed by one `UPDATE ... WHERE consumed_at IS NULL RETURNING`.

Nothing here logs a code, a contact or a token; log lines carry the proof id and channel only.
"""

from __future__ import annotations

import logging
from datetime import datetime

import asyncpg

from app.attempts import service as attempt_service
from app.attempts.machine import Step
from app.core.db import transaction
from app.core.errors import Problem
from app.core.retry import too_many
from app.identity import policy, sms_limits, store
from app.identity.contacts import Contact
from app.identity.policy import Channel, Method
from app.identity.sms_limits import SmsCaller
from app.identity.store import Proof
from app.notifications.messages import VERIFICATION_CODE
from app.notifications.optouts import refuse_opted_out_sms
from app.notifications.outbox import enqueue

log = logging.getLogger("slotproof.identity")

PURPOSE = VERIFICATION_CODE
# compared against when no live code exists, so a verify costs the same either way
_NO_CODE = "0" * 64
LOCKED = "Too many wrong codes; verification is blocked for now."


def _check_usable(proof: Proof, contact: Contact, now: datetime) -> None:
    if not policy.channel_required(proof.verification_method, contact.channel):
        raise Problem(
            422,
            "channel_not_required",
            f"This identity proof does not verify by {contact.channel.value}.",
        )
    if proof.expired(now):
        raise Problem(422, "proof_expired", "The identity proof has expired; create a new one.")


async def create_proof(
    pool: asyncpg.Pool, account_id: int, method: Method, *, secret_key: str
) -> tuple[Proof, str]:
    """A new proof and its token (returned to the caller once, stored only as an HMAC)."""
    token = policy.generate_token()
    proof = await store.create_proof(
        pool, account_id, method, policy.token_digest(secret_key, token), store.clock()
    )
    log.info("identity proof created", extra={"proofId": proof.id})
    return proof, token


async def send_code(
    pool: asyncpg.Pool,
    account_id: int,
    proof_id: int,
    contact: Contact,
    *,
    secret_key: str,
    caller: SmsCaller,
    locale: str = "en",
) -> None:
    """Send a fresh code to `contact` (in `locale`), superseding this proof's earlier codes on
    that channel. A text must also pass the SMS limits and budgets of `app.identity.sms_limits`.

    Never looks at patients: the answer and the work done are the same for any contact."""
    contact_hash = policy.contact_digest(secret_key, contact.channel, contact.key)
    async with transaction(pool) as conn:
        proof = await store.get_proof(conn, account_id, proof_id, for_update=True)
        await store.lock_contact(conn, contact_hash)
        now = store.clock()
        _check_usable(proof, contact, now)
        if policy.proof_locked(proof.failed_attempts):  # it could not use a new code: none is sent
            wait = policy.proof_retry_after(now, proof.expires_at)
            raise too_many("too_many_attempts", LOCKED, wait)
        if contact.channel.value == "SMS":
            await refuse_opted_out_sms(conn, account_id, contact.value)
        sends = await store.sends_since(conn, contact_hash, now - policy.SEND_WINDOW)
        wait = policy.send_retry_after(now, sends)
        if wait is not None:
            live = await store.live_code(conn, proof.id, contact.channel, contact_hash, now)
            raise too_many(
                "send_rate_limited",
                "Too many codes were sent to this contact; try later.",
                wait,
                # whether the code already sent *for this proof* still works: a code sent for
                # another proof (another tab, a restarted booking) does not
                liveCode=live is not None,
            )
        prefix = client = exhausted = None
        if contact.channel is Channel.SMS:
            prefix = sms_limits.prefix_hash(secret_key, contact.value)
            if caller.client_ip is not None:
                client = sms_limits.client_hash(secret_key, caller.client_ip)
            await sms_limits.check_velocity(conn, account_id, prefix, client, caller, now)
            budget = await store.setting_sms_budget(conn, proof.id)
            exhausted = await sms_limits.spend(conn, account_id, budget, caller, now)
        if exhausted is None:
            await _queue_code(
                conn, proof, contact, contact_hash, now, secret_key, prefix, client, locale
            )
    if exhausted is not None:  # refused after committing its once-a-day event
        raise sms_limits.refusal(exhausted, now)
    log.info("identity code queued", extra={"proofId": proof.id, "channel": contact.channel.value})


async def _queue_code(
    conn: asyncpg.Connection,
    proof: Proof,
    contact: Contact,
    contact_hash: str,
    now: datetime,
    secret_key: str,
    prefix: str | None,
    client: str | None,
    locale: str = "en",
) -> None:
    code = policy.generate_code()
    await store.invalidate_live_codes(conn, proof.id, contact.channel, now)
    await store.insert_code(
        conn,
        proof_id=proof.id,
        channel=contact.channel,
        contact_hash=contact_hash,
        code_hash=policy.code_digest(secret_key, proof.id, contact_hash, code),
        now=now,
        expires_at=policy.code_expiry(now, proof.expires_at),
        prefix_hash=prefix,
        client_hash=client,
    )
    await enqueue(
        conn,
        account_id=proof.account_id,
        channel=contact.channel.value,
        to=contact.value,
        purpose=PURPOSE,
        params={"practice": await store.account_name(conn, proof.account_id), "code": code},
        locale=locale,
    )
    await attempt_service.on_proof_step(conn, proof.id, Step.CODE_SENT, now, verified=False)


async def verify_code(
    pool: asyncpg.Pool,
    account_id: int,
    proof_id: int,
    contact: Contact,
    code: str,
    *,
    secret_key: str,
) -> Proof | None:
    """The updated proof when `code` is the live code for this proof and contact (it is then
    consumed), else None after counting a failure. 429 once a limit is reached."""
    contact_hash = policy.contact_digest(secret_key, contact.channel, contact.key)
    async with transaction(pool) as conn:
        proof = await store.get_proof(conn, account_id, proof_id, for_update=True)
        await store.lock_contact(conn, contact_hash)
        now = store.clock()
        _check_usable(proof, contact, now)
        if policy.proof_locked(proof.failed_attempts):
            wait = policy.proof_retry_after(now, proof.expires_at)
            raise too_many("too_many_attempts", LOCKED, wait)
        live = await store.live_code(conn, proof.id, contact.channel, contact_hash, now)
        failures = await store.failures_since(
            conn, account_id, contact_hash, now - policy.CONTACT_FAILURE_WINDOW
        )
        cleared = await store.last_verified(conn, account_id, contact_hash)
        if (wait := policy.contact_retry_after(now, failures, cleared)) is not None:
            sent_at = live["created_at"] if live else None
            failed = sent_at is not None and await store.failed_since(
                conn, proof.id, contact_hash, sent_at
            )
            if not policy.may_try_while_locked(sent_at, failed):
                raise too_many("too_many_attempts", LOCKED, wait)

        candidate = policy.code_digest(secret_key, proof.id, contact_hash, code)
        matches = policy.digests_equal(candidate, live["code_hash"] if live else _NO_CODE)
        if live is not None and matches and await store.consume_code(conn, live["id"], now):
            verified = await store.mark_verified(conn, proof, contact.channel, contact.value)
            await attempt_service.on_proof_step(
                conn, proof.id, Step.VERIFIED, now, verified=verified.is_verified
            )
        else:
            sent_here = live is not None or await store.code_sent_to(conn, proof.id, contact_hash)
            await store.record_failure(conn, proof, contact_hash, now, against_contact=sent_here)
            verified = None
    log.info(
        "identity code checked",
        extra={
            "proofId": proof.id,
            "channel": contact.channel.value,
            "verified": verified is not None,
        },
    )
    return verified


async def find_patient(pool: asyncpg.Pool, account_id: int, proof_id: int) -> int:
    """The one patient of the account holding every contact the proof verified."""
    proof = await store.get_proof(pool, account_id, proof_id)
    if proof.expired(store.clock()):
        raise Problem(422, "proof_expired", "The identity proof has expired; create a new one.")
    if not proof.is_verified:
        raise Problem(
            422,
            "not_verified",
            "The identity proof is not fully verified yet.",
            missingVerifications=proof.missing_verifications,
        )
    ids = await store.matching_patients(
        pool, account_id, email=proof.verified_email, phone=proof.verified_phone
    )
    if not ids:
        raise Problem(404, "not_found", "No patient matches the verified contact.")
    if len(ids) > 1:
        raise Problem(
            422,
            "ambiguous_match",
            "Several patients share the verified contact; the patient cannot be chosen.",
        )
    return ids[0]
