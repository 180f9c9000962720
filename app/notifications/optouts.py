"""Who asked for no more messages. One question for every sender: `sms_opted_out` (or
`refuse_opted_out_sms`, which answers the 4xx) before sending an SMS; the worker asks
`opted_out` for every batch it sends, so nothing queued before a STOP goes out after it.

SMS: a STOP (or a synonym) stops every SMS from the account to that number, verification
codes included, until START/UNSTOP. EMAIL: the one-click unsubscribe of a reminder email stops
the account's reminder emails to that address. Contacts are stored as sent: E.164 numbers,
lower-case email addresses.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import asyncpg

from app.core.errors import Problem

Conn = asyncpg.Connection | asyncpg.Pool


def contact_key(channel: str, contact: str) -> str:
    return contact.strip().lower() if channel == "EMAIL" else contact.strip()


async def sms_opted_out(conn: Conn, account_id: int, phone: str) -> bool:
    """Did this number reply STOP to this account (and not START since)?"""
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM contact_opt_outs"
            " WHERE account_id = $1 AND channel = 'SMS' AND contact = $2)",
            account_id,
            contact_key("SMS", phone),
        )
    )


async def refuse_opted_out_sms(conn: Conn, account_id: int, phone: str) -> None:
    """400 `sms_opted_out` when the number has opted out of this account's texts."""
    if await sms_opted_out(conn, account_id, phone):
        raise Problem(  # 400 like `phone_not_allowed`: this number cannot receive our texts
            400,
            "sms_opted_out",
            "This number replied STOP and gets no texts from this practice. Text START to "
            "the number the messages came from to receive them again, or use email.",
        )


async def opted_out(
    conn: Conn, channel: str, pairs: Iterable[tuple[int, str]]
) -> set[tuple[int, str]]:
    """The (account id, contact) pairs among `pairs` that opted out on `channel`."""
    wanted = list({(account, contact_key(channel, contact)) for account, contact in pairs})
    if not wanted:
        return set()
    rows = await conn.fetch(
        "SELECT o.account_id, o.contact FROM contact_opt_outs o"
        " JOIN unnest($2::bigint[], $3::text[]) AS w(account_id, contact)"
        " ON w.account_id = o.account_id AND w.contact = o.contact WHERE o.channel = $1",
        channel,
        [a for a, _ in wanted],
        [c for _, c in wanted],
    )
    return {(r["account_id"], r["contact"]) for r in rows}


async def opt_out(
    conn: asyncpg.Connection, account_ids: Sequence[int], channel: str, contact: str
) -> None:
    await conn.execute(
        "INSERT INTO contact_opt_outs (account_id, channel, contact)"
        " SELECT unnest($1::bigint[]), $2, $3 ON CONFLICT DO NOTHING",
        list(account_ids),
        channel,
        contact_key(channel, contact),
    )


async def opt_in(
    conn: asyncpg.Connection, account_ids: Sequence[int], channel: str, contact: str
) -> None:
    await conn.execute(
        "DELETE FROM contact_opt_outs"
        " WHERE account_id = ANY($1::bigint[]) AND channel = $2 AND contact = $3",
        list(account_ids),
        channel,
        contact_key(channel, contact),
    )
