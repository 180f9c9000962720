"""Identity-proof rules as pure functions: no I/O, no clock, no database.

Everything time-dependent takes `now` (an aware datetime) and the relevant history (send
times, failure times) as arguments, so the rules are tested without sleeping and the store
stays a plain list of SQL statements.

Policy (contract "Identity proof"; the choices marked (ours) are not in the contract):

* Proof lifetime (ours): 60 minutes from creation. After that send/verify/patient answer
  422 `proof_expired` and `X-Identity-Token` no longer resolves; a new proof is needed.
* Codes: 6 decimal digits from `secrets` (CSPRNG), valid 10 minutes (never beyond the proof's
  expiry), single use, stored only as HMAC-SHA256 under the server key, compared with
  `hmac.compare_digest`.
* Resend (ours): a new send supersedes every earlier unconsumed code of the same proof and
  channel, so at most one code per proof and channel is ever live. Guessing odds therefore stay
  at 1 in 10^6 per guess however often the patient asks for a new code; the price is that a
  late-arriving older message no longer works (the newest one does).
* Wrong codes: every unsuccessful verify (wrong, expired, superseded or already-used code)
  counts as a failure against the proof, and against the contact only when a code was sent to
  that contact on that proof (guesses for a contact nobody sent a code to cannot lock its
  owner out). Once a proof has 5 failures, or a contact 20 within 24 hours in one account,
  verify answers 429 `too_many_attempts` even for the right code (a lockout answer is not
  itself a failure). A new code does not reset either count; the per-proof count lasts as
  long as the proof, the per-contact one slides over 24 hours.
* The owner's way back in (ours): while a contact is locked out, a code sent to it gets one
  try on its proof (the first guess after that send). The right code verifies and lifts the
  lockout (failures before a successful verification no longer count); a wrong one is
  counted and the next try needs a new send. So a locked contact can be guessed at most once
  per send, and sends are limited (below) and reach the owner, who sees them.
* Sends: at least 60 s between two sends to one contact and at most 5 sends per contact in
  any 10 minutes, else 429 `send_rate_limited` and nothing is sent.
* Contacts (ours): the send limits are global (they protect the person who owns the phone or
  mailbox from being flooded, whichever practice the request came through); the wrong-code
  lockout is per account, so a stranger at one practice cannot lock a person out at another.
"""

from __future__ import annotations

import hmac
import math
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

from app.core.secrets import keyed_hash

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
PROOF_TTL = timedelta(minutes=60)
TOKEN_PREFIX = "idp_"  # noqa: S105 - a public marker, not a secret
TOKEN_BYTES = 32

SEND_COOLDOWN = timedelta(seconds=60)
SEND_WINDOW = timedelta(minutes=10)
SEND_MAX_PER_WINDOW = 5

PROOF_MAX_FAILURES = 5
CONTACT_MAX_FAILURES = 20
CONTACT_FAILURE_WINDOW = timedelta(hours=24)


class Channel(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"


class Method(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"
    EMAIL_AND_SMS = "EMAIL_AND_SMS"


_REQUIRED: dict[Method, tuple[Channel, ...]] = {
    Method.EMAIL: (Channel.EMAIL,),
    Method.SMS: (Channel.SMS,),
    Method.EMAIL_AND_SMS: (Channel.EMAIL, Channel.SMS),
}


def parse_method(raw: str) -> Method | None:
    """`verificationMethod` is case-insensitive on input; None when it names no method."""
    try:
        return Method(raw.strip().upper())
    except ValueError:
        return None


def required_channels(method: Method | str) -> tuple[Channel, ...]:
    return _REQUIRED[Method(method)]


def channel_required(method: Method | str, channel: Channel | str) -> bool:
    return Channel(channel) in required_channels(method)


def missing_verifications(
    method: Method | str, *, email_verified: bool, phone_verified: bool
) -> list[str]:
    """The channels still to verify, in contract order (`["EMAIL", "SMS"]` subset)."""
    done = {Channel.EMAIL: email_verified, Channel.SMS: phone_verified}
    return [c.value for c in required_channels(method) if not done[c]]


# --- secrets ---------------------------------------------------------------------------------


def generate_code() -> str:
    """Six decimal digits, uniformly distributed, from the OS CSPRNG."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def generate_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(key: str, token: str) -> str:
    return keyed_hash(key, "identity-proof-token", token)


def contact_digest(key: str, channel: Channel | str, contact_key: str) -> str:
    """The only form in which an unverified contact is stored (rate limits, lockouts)."""
    return keyed_hash(key, "identity-contact", f"{Channel(channel).value}:{contact_key}")


def code_digest(key: str, proof_id: int, contact_hash: str, code: str) -> str:
    """A code's HMAC, bound to its proof and contact so a digest is useless anywhere else."""
    return keyed_hash(key, "identity-code", f"{proof_id}:{contact_hash}:{code}")


def digests_equal(a: str, b: str) -> bool:
    """Constant-time comparison of two hex digests."""
    return hmac.compare_digest(a.encode(), b.encode())


# --- expiry, rate limits and lockouts ---------------------------------------------------------


def proof_expiry(created_at: datetime) -> datetime:
    return created_at + PROOF_TTL


def code_expiry(now: datetime, proof_expires_at: datetime) -> datetime:
    return min(now + CODE_TTL, proof_expires_at)


def is_expired(expires_at: datetime, now: datetime) -> bool:
    return now >= expires_at


def _seconds(delta: timedelta) -> int:
    """Whole seconds to wait, at least 1 (Retry-After is an integer)."""
    return max(1, math.ceil(delta.total_seconds()))


def send_retry_after(now: datetime, sends: Iterable[datetime]) -> int | None:
    """Seconds until one more send to a contact is allowed, or None when it is allowed now.

    `sends` are the times of earlier sends to that contact (any order; only those less than
    SEND_WINDOW before `now` matter)."""
    recent = sorted(t for t in sends if t > now - SEND_WINDOW)
    waits: list[timedelta] = []
    if recent and now - recent[-1] < SEND_COOLDOWN:
        waits.append(recent[-1] + SEND_COOLDOWN - now)
    if len(recent) >= SEND_MAX_PER_WINDOW:
        # the window admits another send once enough of the oldest ones have aged out
        oldest_to_expire = recent[len(recent) - SEND_MAX_PER_WINDOW]
        waits.append(oldest_to_expire + SEND_WINDOW - now)
    return _seconds(max(waits)) if waits else None


def proof_locked(failures: int) -> bool:
    return failures >= PROOF_MAX_FAILURES


def contact_retry_after(
    now: datetime, failures: Iterable[datetime], cleared_at: datetime | None = None
) -> int | None:
    """Seconds until a contact may try a code again, or None when it is not locked out.
    `cleared_at`: when the contact was last verified; earlier failures no longer count."""
    since = now - CONTACT_FAILURE_WINDOW
    if cleared_at is not None and cleared_at > since:
        since = cleared_at
    recent = sorted(t for t in failures if t > since)
    if len(recent) < CONTACT_MAX_FAILURES:
        return None
    oldest_to_expire = recent[len(recent) - CONTACT_MAX_FAILURES]
    return _seconds(oldest_to_expire + CONTACT_FAILURE_WINDOW - now)


def may_try_while_locked(code_sent_at: datetime | None, failed_since_sent: bool) -> bool:
    """A locked-out contact's one try per send: a live code on this proof that no wrong guess
    on this proof has followed yet."""
    return code_sent_at is not None and not failed_since_sent


def proof_retry_after(now: datetime, proof_expires_at: datetime) -> int:
    """A locked proof stays locked for the rest of its life; after that a new one is needed."""
    return _seconds(proof_expires_at - now)
