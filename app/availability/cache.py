"""Availability cached per process, in pieces, never served once it could be wrong.

Patients of one practice ask for the same month again and again, and neighbouring months share
most of their days. Three kinds of entries share one byte-bounded LRU:

* `Head`: a query scope (setting, location, type, practitioner filter...) checked against its
  setting, with the configs it uses: what `service.search` loads in its first statement;
* `Day`: the encoded slots of one local date of one scope (`shape.DayPiece`);
* `Answer`: the JSON bytes of one exact query, assembled from a head and its days.

Each remembers the database snapshot its reads were made under (`Read`). Before anything is
served again:

* writes: one indexed query asks which changes a snapshot did not see — the account's
  settings, configs, types, locations or practitioners (every entry), or an appointment or hold
  of the scope's practitioners blocking time in the window a day read (triggers of migration
  0011 record every such write in `availability_changes`);
* time: a day also changes as time passes (a hold expires, the notice and forward limits move
  on); its `stable_until` says until when it cannot, and the clock must not have gone back
  before it was computed;
* age: nothing lives longer than `MAX_AGE_SECONDS` of real time, which is what lets the pruning
  job (`PRUNE_KEEP`) delete old change rows safely.

So whatever is served is exactly what a fresh search would return, at one extra query.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from app.availability.plan import Scope
from app.availability.shape import DayPiece
from app.availability.store import Probe

MAX_AGE_SECONDS = 60.0
# change rows are kept this long after the transactions that wrote them had ended: far longer
# than MAX_AGE_SECONDS, so clock drift between app hosts and the database cannot matter
PRUNE_KEEP = timedelta(minutes=10)
NEVER = datetime.max.replace(tzinfo=UTC)  # the stable_until of an entry time cannot change
# the window of a read that depends on account-wide changes only (a head)
NO_BUSY = (0, 0)


@dataclass(frozen=True, slots=True)
class Read:
    snapshot: str  # pg_current_snapshot() taken before the reads
    window: tuple[int, int]  # epoch seconds of the appointments and holds it depends on


@dataclass(frozen=True, slots=True)
class Answer:
    body: bytes
    probes: list[Probe]  # the freshness check of every read it was made from
    computed_at: datetime  # the latest `now` of its parts
    stable_until: datetime  # time cannot change the answer before this
    born: float  # time.monotonic() before the oldest part's snapshot was taken
    # raw query strings the handler answered with these bytes (answer.remember_query)
    queries: set[bytes] = field(default_factory=set)

    @property
    def size(self) -> int:
        return len(self.body)


@dataclass(frozen=True, slots=True)
class Head:
    scope: Scope
    read: Read
    computed_at: datetime
    born: float
    stable_until: datetime = NEVER
    size: int = 2_000


@dataclass(frozen=True, slots=True)
class Day:
    piece: DayPiece
    read: Read
    computed_at: datetime
    born: float
    stable_until: datetime = field(init=False)
    size: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "stable_until", self.piece.stable_until)
        object.__setattr__(self, "size", self.piece.size)


Entry = Answer | Head | Day


class AnswerCache:
    """A byte-bounded LRU of entries. Single event loop: no locking needed."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = 0  # answers served as stored
        self.misses = 0  # answers assembled
        self.day_hits = 0  # days reused by an assembled answer
        self.day_misses = 0  # days computed
        self.checks: Any = None  # answer.py's coalesced freshness checks, made on first use
        self.checks_pool: Any = None  # the pool those checks run on
        self._entries: OrderedDict[Hashable, Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, now: datetime) -> Entry | None:  # type: ignore[return]
        """The entry for `key` if time and age still allow it (the caller must still ask the
        database whether a write changed it)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if (
            not entry.computed_at <= now < entry.stable_until
            or time.monotonic() - entry.born > MAX_AGE_SECONDS
        ):
            self.drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: Hashable, entry: Entry) -> None:
        self.drop(key)
        if entry.size > self.max_bytes:
            return
        self._entries[key] = entry
        self.size += entry.size
        while self.size > self.max_bytes:
            _, oldest = self._entries.popitem(last=False)
            self.size -= oldest.size

    def drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.size -= entry.size
