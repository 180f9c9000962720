"""Waitlist analytics per setting and local day (the account's zone): entries created, offers
sent, claims, slots refilled (claims of time freed by a cancel, a move or an expired hold, as
opposed to new schedule capacity) and minutes gained by patients who moved earlier. Ids and
counts only: no PHI."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg

from app.waitlist import schemas as s


async def daily(
    conn: asyncpg.Connection | asyncpg.Pool,
    account_id: int,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
) -> s.Stats:
    rows = await conn.fetch(
        """
        WITH facts AS (
            SELECT setting_id, (created_at AT TIME ZONE $4)::date AS day,
                   1 AS entries, 0 AS offers, 0 AS claims, 0 AS refilled, 0 AS gained
              FROM waitlist_entries
             WHERE account_id = $1 AND created_at >= $2 AND created_at < $3
            UNION ALL
            SELECT setting_id, (created_at AT TIME ZONE $4)::date, 0, 1, 0, 0, 0
              FROM waitlist_offers
             WHERE account_id = $1 AND created_at >= $2 AND created_at < $3
            UNION ALL
            SELECT o.setting_id, (o.claimed_at AT TIME ZONE $4)::date, 0, 0, 1,
                   (w.kind = 'FREED')::int, coalesce(o.minutes_gained, 0)
              FROM waitlist_offers o JOIN waitlist_openings w ON w.id = o.opening_id
             WHERE o.account_id = $1 AND o.status = 'CLAIMED'
               AND o.claimed_at >= $2 AND o.claimed_at < $3)
        SELECT setting_id, day, sum(entries)::int AS entries, sum(offers)::int AS offers,
               sum(claims)::int AS claims, sum(refilled)::int AS refilled,
               sum(gained)::int AS gained
          FROM facts GROUP BY setting_id, day ORDER BY day, setting_id
        """,
        account_id,
        start,
        end,
        zone.key,
    )
    return s.Stats(
        time_zone=zone.key,
        days=[
            s.StatsDay(
                date=r["day"],
                self_scheduling_setting_id=r["setting_id"],
                entries=r["entries"],
                offers_sent=r["offers"],
                claims=r["claims"],
                slots_refilled=r["refilled"],
                minutes_gained=r["gained"],
            )
            for r in rows
        ],
    )
