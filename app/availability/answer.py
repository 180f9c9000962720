"""The availability call's answer as JSON bytes, through the per-process cache (cache.py).

One path for the partner and the widget handlers. At most three statements (a widget call
with an attempt first asks whether that attempt holds a slot):

* an exact repeat: the freshness check of the stored answer's reads, nothing else (and that
  check is shared by concurrent requests: app/core/coalesce.py);
* otherwise the scope's head and the requested days still in the cache are checked in one
  statement; what is missing is computed from one read of the setting and its configs (only
  when the head is missing or stale) and one read of busy times over the missing days.

Reads are labelled with a snapshot taken no later than the reads themselves (the statement's
own, or the freshness check's when the head's inputs are reused), so nothing they depend on
can have changed unnoticed. The widget asks with its attempt (whose own hold must not block
it); until the attempt holds a slot, that is the anonymous question, and it shares the
anonymous answer.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import NamedTuple

import asyncpg
import msgspec

from app.availability import engine as e
from app.availability import store
from app.availability.cache import NO_BUSY, Answer, AnswerCache, Day, Head, Read
from app.availability.plan import SlotSearch, check_range, plan, scope_of
from app.availability.service import load_busy, load_inputs, search
from app.availability.shape import assemble, days_of, encode, midnight, span
from app.core.coalesce import Coalescer

# a day's slots are computed from this far around its local midnights: every start of that
# local date lies inside (offsets change by at most a few hours)
_SLACK = timedelta(hours=3)


_MAX_QUERIES = 8  # spellings of one query remembered per answer


class Outcome:
    """How the cache answered (the access log's `cache` field)."""

    ANSWER = "answer"  # the stored bytes of the same query
    DAYS = "days"  # assembled, every day from the cache
    COMPUTED = "computed"  # assembled, some days computed
    OFF = "off"  # no cache


class Ahead(NamedTuple):
    """What a read-ahead (`read_ahead`) probed: the cache entries, in order (the handler uses
    the result only if it finds these very entries), and their reads and probes."""

    entries: tuple[Answer | Head | Day, ...]
    snapshots: list[str]
    probes: list[store.Probe]
    cache: AnswerCache
    raw_query: bytes

    def ready(self, found: list[list[tuple[int, int]]]) -> tuple[bytes, str, dict] | None:
        """The stored answer (body, media type, request state for the access log), when it
        may be sent without running the handler: for the very query string the handler
        already answered with it, and with no change its reads did not see."""
        answer = self.entries[0]
        if len(self.entries) != 1 or not isinstance(answer, Answer) or any(found):
            return None
        if self.raw_query not in answer.queries:
            return None
        self.cache.hits += 1
        return answer.body, "application/json", {"availability_cache": Outcome.ANSWER}


# what a freshness statement found: its snapshot, and the changes each probe found
_Checked = tuple[str, list[list[tuple[int, int]]]]
# a read-ahead and what its statement found
Checked = tuple[Ahead, _Checked]


async def availability_json(
    pool: asyncpg.Pool,
    cache: AnswerCache | None,
    account_id: int,
    query: SlotSearch,
    now: datetime,
    *,
    ahead: Checked | None = None,
    raw_query: bytes | None = None,
) -> tuple[bytes, str]:
    """`ahead`: this request's read-ahead, already answered (app/authentication.py);
    `raw_query`: the query string as sent, remembered with the answer it got (`Ahead.ready`)."""
    check_range(query.range_start, query.range_end)
    if cache is None:
        async with pool.acquire() as conn:
            return encode(await search(conn, account_id, query, now)), Outcome.OFF
    if query.except_attempt_id is not None and not await store.attempt_holds(
        pool, query.except_attempt_id
    ):
        # an attempt holding nothing sees what everyone sees: share their answer
        query = msgspec.structs.replace(query, except_attempt_id=None)
    checks = _checks(cache, pool)
    key = (account_id, query)
    cached = cache.get(key, now)
    if isinstance(cached, Answer):
        if _same(ahead, (cached,)):
            found = ahead[1][1]  # type: ignore[index] # asked after this request arrived
        else:
            _, found = await checks.ask(cached.probes)
        if not any(found):  # any change it did not see may touch it: drop it
            cache.hits += 1
            _remember(cached, raw_query)
            return cached.body, Outcome.ANSWER
        cache.drop(key)
    cache.misses += 1
    answer, outcome = await _assemble(pool, checks, cache, account_id, query, now, ahead)
    _remember(answer, raw_query)
    return answer.body, outcome


def _remember(answer: Answer, raw_query: bytes | None) -> None:
    if raw_query is not None and len(answer.queries) < _MAX_QUERIES:
        answer.queries.add(raw_query)


def read_ahead(
    cache: AnswerCache | None, account_id: int, query: SlotSearch, now: datetime, raw_query: bytes
) -> Ahead | None:
    """The freshness probes of what the cache holds for `query` (its stored answer, else the
    scope's head and the days it holds), so they can be asked before the handler runs, with
    the caller's standing, instead of in a statement of their own."""
    if cache is None or query.except_attempt_id is not None:
        return None
    cached = cache.get((account_id, query), now)
    if isinstance(cached, Answer):
        return Ahead((cached,), [], cached.probes, cache, raw_query)
    scope_key = (account_id, query.scope_key())
    head = cache.get(scope_key, now)
    if not isinstance(head, Head):
        return None
    days = [cache.get((scope_key, o), now) for o in _ordinals(head.scope.time_zone, query)]
    entries = (head, *(d for d in days if isinstance(d, Day)))
    reads = [head.read, *(d.read for d in entries[1:])]  # type: ignore[union-attr]
    snapshots, probes = _probes(account_id, head.scope.practitioner_ids, reads)
    return Ahead(entries, snapshots, probes, cache, raw_query)


def _same(ahead: Checked | None, entries: tuple) -> bool:
    return (
        ahead is not None
        and len(ahead[0].entries) == len(entries)
        and all(a is b for a, b in zip(ahead[0].entries, entries, strict=True))
    )


async def _assemble(
    pool: asyncpg.Pool,
    checks: Coalescer,
    cache: AnswerCache,
    account_id: int,
    query: SlotSearch,
    now: datetime,
    ahead: Checked | None,
) -> tuple[Answer, str]:
    born = time.monotonic()
    scope_key = (account_id, query.scope_key())
    head = cache.get(scope_key, now)
    days: dict[int, Day] = {}
    snapshot = ""
    if isinstance(head, Head):
        for ordinal in _ordinals(head.scope.time_zone, query):
            day = cache.get((scope_key, ordinal), now)
            if isinstance(day, Day):
                days[ordinal] = day
        reads = [head.read, *(d.read for d in days.values())]
        if _same(ahead, (head, *days.values())):
            snapshot, found = ahead[1]  # type: ignore[index]
            stale = _touched(ahead[0].snapshots, found, reads)  # type: ignore[index]
        else:
            snapshot, stale = await _stale(checks, account_id, head.scope.practitioner_ids, reads)
        if stale[0]:  # the setting or its configs changed: start over
            cache.drop(scope_key)
            head, days = None, {}
        else:
            for (ordinal, _), gone in zip(list(days.items()), stale[1:], strict=True):
                if gone:
                    cache.drop((scope_key, ordinal))
                    del days[ordinal]
    async with pool.acquire() as conn:
        if not isinstance(head, Head):
            inputs = await load_inputs(conn, account_id, query)
            snapshot = inputs.snapshot
            head = Head(scope_of(inputs, query), Read(snapshot, NO_BUSY), now, born)
            cache.put(scope_key, head)
        scope = head.scope
        wanted = _ordinals(scope.time_zone, query)
        missing = [o for o in wanted if o not in days]
        cache.day_hits += len(wanted) - len(missing)
        cache.day_misses += len(missing)
        if missing:
            start = _utc(midnight(scope.time_zone, missing[0])) - _SLACK
            end = _utc(midnight(scope.time_zone, missing[-1] + 1)) + _SLACK
            busy = await load_busy(conn, account_id, scope, start, end, now)
            for piece in days_of(plan(scope, busy, now, start, end), missing):
                day = days[piece.ordinal] = Day(piece, Read(snapshot, piece.window), now, born)
                cache.put((scope_key, piece.ordinal), day)
    parts = [days[o] for o in wanted]
    body = assemble(scope, [d.piece for d in parts], *span(query.range_start, query.range_end))
    _, probes = _probes(account_id, scope.practitioner_ids, [head.read, *(d.read for d in parts)])
    answer = Answer(
        body=body,
        probes=probes,
        computed_at=max([head.computed_at, *(d.computed_at for d in parts)]),
        stable_until=min([head.stable_until, *(d.stable_until for d in parts)]),
        born=min([head.born, *(d.born for d in parts)]),
    )
    cache.put((account_id, query), answer)
    return answer, Outcome.COMPUTED if missing else Outcome.DAYS


def _ordinals(time_zone: str, query: SlotSearch) -> list[int]:
    """The local dates (ordinals) of the location that the query's range touches."""
    first, last = span(query.range_start, query.range_end)
    return list(
        range(
            e.local_datetime(time_zone, first).toordinal(),
            e.local_datetime(time_zone, last).toordinal() + 1,
        )
    )


def _utc(seconds: int) -> datetime:
    return e.utc_datetime(seconds)


def _checks(cache: AnswerCache, pool: asyncpg.Pool) -> Coalescer[list[store.Probe], _Checked]:
    """The cache's freshness checks, coalesced across concurrent requests: under load one
    statement answers several of them (each still issued after its request asked)."""
    if cache.checks is None or cache.checks_pool is not pool:  # a new lifespan, a new pool
        cache.checks_pool = pool

        async def run(batches: list[list[store.Probe]]) -> list[_Checked]:
            async with pool.acquire() as conn:
                now_snapshot, found = await store.unseen_changes(
                    conn, [p for probes in batches for p in probes]
                )
            out, k = [], 0
            for probes in batches:
                out.append((now_snapshot, found[k : k + len(probes)]))
                k += len(probes)
            return out

        cache.checks = Coalescer(run)
    return cache.checks


def _probes(
    account_id: int, practitioner_ids: list[int], reads: list[Read]
) -> tuple[list[str], list[store.Probe]]:
    """One probe per snapshot the reads were made under, over the hull of their windows."""
    windows: dict[str, tuple[int, int]] = {}
    for r in reads:
        lo, hi = windows.get(r.snapshot, (2**62, -(2**62)))
        if r.window != NO_BUSY:
            lo, hi = min(lo, r.window[0]), max(hi, r.window[1])
        windows[r.snapshot] = (lo, hi)
    pids = tuple(practitioner_ids)
    probes = [
        store.Probe(
            account_id,
            snap,
            pids,
            (_utc(lo), _utc(hi)) if lo <= hi else (_utc(0), _utc(0)),
        )
        for snap, (lo, hi) in windows.items()
    ]
    return list(windows), probes


async def _stale(
    checks: Coalescer[list[store.Probe], _Checked],
    account_id: int,
    practitioner_ids: list[int],
    reads: list[Read],
) -> tuple[str, list[bool]]:
    """Which reads a change they did not see has touched, and the snapshot of the statement
    that asked (what a read made after it may be labelled with)."""
    snapshots, probes = _probes(account_id, practitioner_ids, reads)
    now_snapshot, found = await checks.ask(probes)
    return now_snapshot, _touched(snapshots, found, reads)


def _touched(
    snapshots: list[str], found: list[list[tuple[int, int]]], reads: list[Read]
) -> list[bool]:
    """Per read, whether a change its snapshot did not see (found per probe) touches it."""
    unseen = dict(zip(snapshots, found, strict=True))
    return [
        any(start <= r.window[1] and end >= r.window[0] for start, end in unseen[r.snapshot])
        for r in reads
    ]
