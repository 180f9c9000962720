"""Availability answers cached per process, never served once they could be wrong.

Patients of one practice ask for the same month again and again, and each answer costs a slot
search (5 queries and the engine) plus shaping ~2,400 slots. An answer is kept as its JSON
bytes with the database snapshot its reads were made under. Before it is served again:

* writes: one indexed query asks whether a transaction that snapshot did not see has changed
  anything the answer read — the account's settings, configs, types, locations or
  practitioners, or an appointment or hold of these practitioners blocking time in the window
  the answer read (triggers of migration 0011 record every such write in
  `availability_changes`);
* time: an answer also changes as time passes (a hold expires, the notice and forward limits
  move on); `SearchResult.stable_until` says until when it cannot, and the clock must not have
  gone back before the answer was computed;
* age: none lives longer than `MAX_AGE_SECONDS` of real time, which is what lets the pruning
  job (`PRUNE_KEEP`) delete old change rows safely.

So a cached answer is exactly what a fresh search would return, at one extra query.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

MAX_AGE_SECONDS = 60.0
# change rows are kept this long after the transactions that wrote them had ended: far longer
# than MAX_AGE_SECONDS, so clock drift between app hosts and the database cannot matter
PRUNE_KEEP = timedelta(minutes=10)
NEVER = datetime.max.replace(tzinfo=UTC)  # the stable_until of an answer time cannot change


@dataclass(frozen=True, slots=True)
class Answer:
    body: bytes
    snapshot: str  # pg_current_snapshot() taken before the answer's reads
    practitioner_ids: list[int]
    window: tuple[datetime, datetime]  # the blocked times of appointments and holds it read
    computed_at: datetime  # the request's `now`
    stable_until: datetime  # time cannot change the answer before this
    born: float  # time.monotonic() before the snapshot was taken


class AnswerCache:
    """A byte-bounded LRU of answers. Single event loop: no locking needed."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.hits = 0
        self.misses = 0
        self._answers: OrderedDict[Hashable, Answer] = OrderedDict()

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key: Hashable, now: datetime) -> Answer | None:
        """The answer for `key` if time and age still allow it (the caller must still ask the
        database whether a write changed it)."""
        answer = self._answers.get(key)
        if answer is None:
            return None
        if (
            not answer.computed_at <= now < answer.stable_until
            or time.monotonic() - answer.born > MAX_AGE_SECONDS
        ):
            self.drop(key)
            return None
        self._answers.move_to_end(key)
        return answer

    def put(self, key: Hashable, answer: Answer) -> None:
        self.drop(key)
        if len(answer.body) > self.max_bytes:
            return
        self._answers[key] = answer
        self.size += len(answer.body)
        while self.size > self.max_bytes:
            _, oldest = self._answers.popitem(last=False)
            self.size -= len(oldest.body)

    def drop(self, key: Hashable) -> None:
        answer = self._answers.pop(key, None)
        if answer is not None:
            self.size -= len(answer.body)
