"""Data retention, one pass (called by app.jobs.run_periodic_once; safe to run anywhere, any
number of times, from several processes at once; every statement works in batches).

* Contacts captured by attempts abandoned without a patient: `retention_abandoned_days` (30)
  after the attempt was abandoned, its identity proof's verified email and phone are erased
  (NULL). So are those of proofs never bound to any attempt, that many days after they were
  created (a proof lives 60 minutes). The attempt, its steps and its status stay: the funnel
  and the analytics views read only those, so their numbers do not change. Such attempts
  never stored a name (names are stored only on a patient), so there is no name to erase.
* Verification-code messages: their recipient is replaced by `[erased]` once finished (sent,
  delivered or failed) and that many days old; the message is one-time and the contact, if it
  matters, lives on the patient.
* Code hashes: blanked as soon as the code is dead (expired, consumed or superseded); the rows,
  which are also the per-contact send log, are deleted once expired and older than the send
  limit window (10 minutes). Per-contact failure counts go after their 24-hour window.
* Holds: deleted once expired (app.appointments.store.sweep_expired_holds, run by the same
  periodic pass before this).
* Idempotency records: deleted 24 hours after first use (app.core.idempotency.purge_expired).
* SMS budget counts (`sms_budget_usage`, one row per budget and UTC day): a budget counts only
  its current UTC day, so the rows of days before yesterday are deleted
  (app.identity.sms_limits.BUDGET_ROWS_KEPT).

Attempts, steps and audit_log rows are never touched here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import asyncpg

from app.config import Settings
from app.core.idempotency import purge_expired
from app.identity import policy, sms_limits
from app.notifications.messages import VERIFICATION_CODE

BATCH = 1000
ERASED = "[erased]"

_ERASE_ABANDONED = """
WITH due AS (
    SELECT p.id FROM self_scheduling_attempts a
    JOIN identity_proofs p ON p.id = a.identity_proof_id
    WHERE a.status = 'ABANDONED' AND a.patient_id IS NULL AND a.identity_proof_id IS NOT NULL
      AND a.updated_at < $1
      AND (p.verified_email IS NOT NULL OR p.verified_phone IS NOT NULL)
    LIMIT $2
    FOR UPDATE OF p SKIP LOCKED
)
UPDATE identity_proofs p SET verified_email = NULL, verified_phone = NULL
FROM due WHERE p.id = due.id
"""
_ERASE_UNBOUND = """
WITH due AS (
    SELECT p.id FROM identity_proofs p
    WHERE (p.verified_email IS NOT NULL OR p.verified_phone IS NOT NULL) AND p.created_at < $1
      AND NOT EXISTS (SELECT 1 FROM self_scheduling_attempts a WHERE a.identity_proof_id = p.id)
    LIMIT $2
    FOR UPDATE OF p SKIP LOCKED
)
UPDATE identity_proofs p SET verified_email = NULL, verified_phone = NULL
FROM due WHERE p.id = due.id
"""
_ERASE_CODE_RECIPIENTS = """
WITH due AS (
    SELECT id FROM notifications
    WHERE purpose = $3 AND recipient <> $4 AND created_at < $1
      AND status IN ('SENT', 'DELIVERED', 'FAILED')
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE notifications n SET recipient = $4, updated_at = now() FROM due WHERE n.id = due.id
"""
_DELETE_CODES = """
DELETE FROM identity_codes WHERE id IN (
    SELECT id FROM identity_codes WHERE expires_at <= $1 AND created_at <= $2 LIMIT $3)
"""
_BLANK_CODE_HASHES = """
UPDATE identity_codes SET code_hash = '' WHERE id IN (
    SELECT id FROM identity_codes
    WHERE code_hash <> '' AND (expires_at <= $1 OR consumed_at IS NOT NULL
                               OR invalidated_at IS NOT NULL)
    LIMIT $2)
"""
_DELETE_FAILURES = """
DELETE FROM identity_failures WHERE id IN (
    SELECT id FROM identity_failures WHERE at <= $1 LIMIT $2)
"""
_DELETE_SMS_BUDGETS = """
DELETE FROM sms_budget_usage WHERE (scope, scope_id, day) IN (
    SELECT scope, scope_id, day FROM sms_budget_usage WHERE day < $1 LIMIT $2)
"""


def _count(status: str) -> int:
    return int(status.split()[-1])


async def _batches(
    pool: asyncpg.Pool, sql: str, before: tuple[object, ...], after: tuple[object, ...] = ()
) -> int:
    """Run a statement whose parameters are (*before, batch size, *after) until a batch comes
    back short; the total of rows it changed."""
    total = 0
    while True:
        done = _count(await pool.execute(sql, *before, BATCH, *after))
        total += done
        if done < BATCH:
            return total


async def run_retention(
    pool: asyncpg.Pool, settings: Settings, now: datetime, *, erase_contacts: bool = True
) -> dict[str, int]:
    """One pass; `erase_contacts=False` skips the proofs' contacts, the one rule that reads
    every old abandoned attempt (the periodic loop runs it every 10 minutes, the rest every
    30 seconds)."""
    cutoff = now - timedelta(days=settings.retention_abandoned_days)
    erased = 0
    if erase_contacts:
        erased += await _batches(pool, _ERASE_ABANDONED, (cutoff,))
        erased += await _batches(pool, _ERASE_UNBOUND, (cutoff,))
    return {
        "contactsErased": erased,
        "codeRecipientsErased": await _batches(
            pool, _ERASE_CODE_RECIPIENTS, (cutoff,), (VERIFICATION_CODE, ERASED)
        ),
        "codesDeleted": await _batches(pool, _DELETE_CODES, (now, now - policy.SEND_WINDOW)),
        "codeHashesErased": await _batches(pool, _BLANK_CODE_HASHES, (now,)),
        "failuresDeleted": await _batches(
            pool, _DELETE_FAILURES, (now - policy.CONTACT_FAILURE_WINDOW,)
        ),
        "idempotencyPurged": await purge_expired(pool),
        "smsBudgetsPruned": await _batches(
            pool, _DELETE_SMS_BUDGETS, (sms_limits.budget_day(now - sms_limits.BUDGET_ROWS_KEPT),)
        ),
    }
