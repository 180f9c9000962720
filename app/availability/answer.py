"""The availability call's answer as JSON bytes, through the per-process cache (cache.py).

One path for the partner and the widget handlers. A miss takes the snapshot first and reads
the setting itself afterwards, so nothing the answer depends on predates the snapshot. The
widget asks with its attempt (whose own hold must not block it); until the attempt holds a
slot, that is the anonymous question, and it shares the anonymous answer.
"""

from __future__ import annotations

import time
from datetime import datetime

import asyncpg
import msgspec

from app.availability import store
from app.availability.cache import NEVER, Answer, AnswerCache
from app.availability.service import SlotSearch, search
from app.availability.shape import availability_response

_encode = msgspec.json.Encoder().encode


async def availability_json(
    pool: asyncpg.Pool,
    cache: AnswerCache | None,
    account_id: int,
    query: SlotSearch,
    now: datetime,
) -> bytes:
    async with pool.acquire() as conn:
        if cache is not None:
            if query.except_attempt_id is not None and not await store.attempt_holds(
                conn, query.except_attempt_id
            ):
                # an attempt holding nothing sees what everyone sees: share their answer
                query = msgspec.structs.replace(query, except_attempt_id=None)
            key = (account_id, query)
            cached = cache.get(key, now)
            if cached is not None:
                if not await store.changed_since(
                    conn, account_id, cached.snapshot, cached.practitioner_ids, cached.window
                ):
                    cache.hits += 1
                    return cached.body
                cache.drop(key)
            cache.misses += 1
            born = time.monotonic()
            snapshot = await store.snapshot(conn)
        result = await search(conn, account_id, query, now)
        names = await store.display_names(conn, account_id, result.practitioner_ids)
    body = _encode(availability_response(result, names))
    if cache is not None:
        cache.put(
            key,
            Answer(
                body=body,
                snapshot=snapshot,
                practitioner_ids=result.practitioner_ids,
                window=result.busy_window,
                computed_at=now,
                stable_until=result.stable_until or NEVER,
                born=born,
            ),
        )
    return body
