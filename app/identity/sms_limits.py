"""What a verification text may cost (SMS pumping, issue 12; API.md "Abuse budgets").

Checked in the send's transaction, after the per-contact limits and before anything is queued,
for SMS only (email costs nothing per message):

* destination prefix (ours): at most PREFIX_MAX texts per account in PREFIX_WINDOW to numbers
  sharing everything but their last PREFIX_TAIL digits (a US exchange: +1 202 555 ....).
  Pumping uses ranges of numbers a fraudulent carrier terminates; real patients of one
  practice rarely share an exchange ten times an hour. Over it: 429 `send_rate_limited`.
* client address (widget sends only): at most `sms_per_client_per_hour` texts per client IP
  per hour: a visitor needs one or two. Over it: 429 `send_rate_limited`.
* budgets: each setting may send `smsBudgetPerDay` texts per UTC day (its attempts' proofs),
  each account `sms_account_daily_cap`. Past either: 429 `budget_exhausted`, nothing is sent,
  and one `budget.exhausted` event per budget and day tells the practice.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import asyncpg
import msgspec

from app import events
from app.core.retry import seconds_until, too_many
from app.core.secrets import keyed_hash

PREFIX_TAIL = 4
PREFIX_MAX = 10
PREFIX_WINDOW = timedelta(hours=1)
CLIENT_WINDOW = timedelta(hours=1)
# a budget counts one UTC day (`sms_budget_usage`, a row per budget and day); the retention
# pass deletes the rows of days before yesterday: yesterday's stays for a process whose clock
# lags a little behind midnight
BUDGET_ROWS_KEPT = timedelta(days=1)


class SmsCaller(msgspec.Struct, frozen=True):
    """Limits of one send: the account's daily cap, and the widget caller's address (None on
    partner calls) with its hourly cap."""

    account_daily_cap: int
    client_ip: str | None = None
    per_client_per_hour: int = 0


class Exhausted(msgspec.Struct, frozen=True):
    scope: str  # "setting" | "account"
    scope_id: int
    limit: int


class _Refused(Exception):
    def __init__(self, exhausted: Exhausted) -> None:
        self.exhausted = exhausted


def prefix_hash(secret_key: str, e164: str) -> str:
    return keyed_hash(secret_key, "sms-prefix", e164[:-PREFIX_TAIL])


def client_hash(secret_key: str, client_ip: str) -> str:
    return keyed_hash(secret_key, "sms-client", client_ip)


def window_retry_after(
    now: datetime, times: list[datetime], cap: int, window: timedelta
) -> int | None:
    """Seconds until one more fits under `cap` in a sliding `window`, None when it fits now."""
    recent = sorted(t for t in times if t > now - window)
    if len(recent) < cap:
        return None
    return seconds_until(now, recent[len(recent) - cap] + window)


async def check_velocity(
    conn: asyncpg.Connection,
    account_id: int,
    prefix: str,
    client: str | None,
    caller: SmsCaller,
    now: datetime,
) -> None:
    """429 `send_rate_limited` past the prefix or client-address limit."""
    detail = "Too many codes were sent to numbers like this one; try later."
    sent = await conn.fetch(
        "SELECT c.created_at FROM identity_codes c JOIN identity_proofs p ON p.id = c.proof_id"
        " WHERE c.prefix_hash = $1 AND p.account_id = $2 AND c.created_at > $3",
        prefix,
        account_id,
        now - PREFIX_WINDOW,
    )
    wait = window_retry_after(now, [r["created_at"] for r in sent], PREFIX_MAX, PREFIX_WINDOW)
    if wait is not None:
        raise too_many("send_rate_limited", detail, wait)
    if client is None:
        return
    sent = await conn.fetch(
        "SELECT created_at FROM identity_codes WHERE client_hash = $1 AND created_at > $2",
        client,
        now - CLIENT_WINDOW,
    )
    cap = caller.per_client_per_hour
    wait = window_retry_after(now, [r["created_at"] for r in sent], cap, CLIENT_WINDOW)
    if wait is not None:
        raise too_many("send_rate_limited", "Too many texts were sent from here; try later.", wait)


async def _spend(conn: asyncpg.Connection, budget: Exhausted, now: datetime) -> bool:
    if budget.limit <= 0:
        return False
    used = await conn.fetchval(
        "INSERT INTO sms_budget_usage (scope, scope_id, day, used) VALUES ($1, $2, $3, 1)"
        " ON CONFLICT (scope, scope_id, day) DO UPDATE SET used = sms_budget_usage.used + 1"
        " WHERE sms_budget_usage.used < $4 RETURNING used",
        budget.scope,
        budget.scope_id,
        budget_day(now),
        budget.limit,
    )
    return used is not None


async def spend(
    conn: asyncpg.Connection,
    account_id: int,
    setting: tuple[int, int] | None,
    caller: SmsCaller,
    now: datetime,
) -> Exhausted | None:
    """Spend one text of the setting's budget (`(setting id, budget)`, None when the proof is
    not bound to an attempt) and of the account's; None when both had room, else the
    exhausted budget (nothing spent) after recording its once-a-day event."""
    budgets = [Exhausted("account", account_id, caller.account_daily_cap)]
    if setting is not None:
        budgets.insert(0, Exhausted("setting", setting[0], setting[1]))
    try:
        async with conn.transaction():  # a savepoint: an exhausted account undoes the setting
            for budget in budgets:
                if not await _spend(conn, budget, now):
                    raise _Refused(budget)
    except _Refused as refused:
        await _announce_once(conn, account_id, refused.exhausted, now)
        return refused.exhausted
    return None


async def _announce_once(
    conn: asyncpg.Connection, account_id: int, budget: Exhausted, now: datetime
) -> None:
    first = await conn.fetchval(
        "INSERT INTO sms_budget_usage (scope, scope_id, day, used, exhausted_at)"
        " VALUES ($1, $2, $3, 0, $4)"
        " ON CONFLICT (scope, scope_id, day) DO UPDATE SET exhausted_at = $4"
        " WHERE sms_budget_usage.exhausted_at IS NULL RETURNING 1",
        budget.scope,
        budget.scope_id,
        budget_day(now),
        now,
    )
    if first is None:
        return
    day = str(budget_day(now))
    data: dict[str, object] = {"budget": budget.scope, "limit": budget.limit, "day": day}
    if budget.scope == "setting":
        data["selfSchedulingSettingId"] = budget.scope_id
    await events.record(conn, account_id=account_id, type=events.BUDGET_EXHAUSTED, data=data)


def refusal(exhausted: Exhausted, now: datetime) -> Exception:
    """429 `budget_exhausted`, to retry when the next UTC day's budget starts."""
    what = "this booking page" if exhausted.scope == "setting" else "this practice"
    tomorrow = datetime.combine(budget_day(now) + timedelta(days=1), time(), UTC)
    return too_many(
        "budget_exhausted",
        f"Today's text messages for {what} are used up; use email or try tomorrow.",
        seconds_until(now, tomorrow),
    )


def budget_day(now: datetime) -> date:
    """The UTC day a budget counts `now` in."""
    return now.astimezone(UTC).date()
