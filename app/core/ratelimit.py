"""Rate-limit counting: fixed windows, in process or shared through Redis.

A window belongs to one bucket key; it starts with the bucket's first counted hit and lasts
`window` seconds (in Redis: the key's TTL, so instances with skewed clocks agree on the reset).
One request is checked against all the buckets that apply to it (its IP, its widget key, ...) in
one step: when any of them is exhausted the request is refused and **nothing** is counted (a
refused request neither eats the other layers' budgets nor extends a window); otherwise each
bucket counts one hit.

Backends answer `await backend.hit(rules)` with a `Decision`, or None when they cannot count
(Redis unreachable): the caller then fails open.

Which buckets apply to a request is decided by `app.core.ratelimit_middleware`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger("slotproof.ratelimit")

Clock = Callable[[], float]


@dataclass(frozen=True, slots=True)
class Rule:
    """One bucket a request counts against. `key` must carry no personal data (callers pass
    a keyed hash of the IP address, widget key or client id)."""

    key: str
    limit: int
    window: float  # seconds


@dataclass(frozen=True, slots=True)
class Usage:
    rule: Rule
    count: int  # hits in the current window; after this one when the request was allowed
    reset: float  # seconds until the window ends

    @property
    def remaining(self) -> int:
        return max(0, self.rule.limit - self.count)

    @property
    def exhausted(self) -> bool:
        return self.count >= self.rule.limit


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    usages: tuple[Usage, ...]

    def tightest(self) -> Usage:
        """The usage to report in RateLimit-* headers: when refused, the exhausted bucket that
        resets last; when allowed, the one with the fewest hits left (then the longest wait)."""
        if not self.allowed:
            return max((u for u in self.usages if u.exhausted), key=lambda u: u.reset)
        return min(self.usages, key=lambda u: (u.remaining, -u.reset))

    @property
    def retry_after(self) -> int:
        """Whole seconds until every exhausted bucket has reset (at least 1)."""
        waits = [u.reset for u in self.usages if u.exhausted]
        return whole_seconds(max(waits, default=0.0))


def whole_seconds(seconds: float) -> int:
    return max(1, math.ceil(seconds))


class Backend(Protocol):
    async def hit(self, rules: Sequence[Rule]) -> Decision | None: ...

    async def aclose(self) -> None: ...


# --- in process ------------------------------------------------------------------------------


class MemoryBackend:
    """Counts in this process only (one instance). Memory is bounded: expired windows are
    dropped as new ones open, and beyond `max_keys` buckets the oldest are forgotten (those
    callers then start afresh: under memory pressure it under-counts, never over-counts)."""

    def __init__(self, clock: Clock = time.monotonic, max_keys: int = 100_000) -> None:
        self.clock = clock
        self.max_keys = max_keys
        # key -> (window end, count); insertion order = window start order, so the front of
        # the dict holds the windows that end first (for equal window lengths)
        self._windows: dict[str, tuple[float, int]] = {}

    def __len__(self) -> int:
        return len(self._windows)

    def check(self, rules: Sequence[Rule]) -> Decision:
        now = self.clock()
        current: list[tuple[float, int]] = []
        for rule in rules:
            entry = self._windows.get(rule.key)
            if entry is None or entry[0] <= now:
                entry = (now + rule.window, 0)
            current.append(entry)
        if any(count >= rule.limit for rule, (_, count) in zip(rules, current, strict=True)):
            return Decision(
                False,
                tuple(
                    Usage(rule, count, ends - now)
                    for rule, (ends, count) in zip(rules, current, strict=True)
                ),
            )
        usages = []
        for rule, (ends, count) in zip(rules, current, strict=True):
            if count == 0:  # a new window: move the key to the back
                self._windows.pop(rule.key, None)
                self._drop_expired(now, 2)
            self._windows[rule.key] = (ends, count + 1)
            usages.append(Usage(rule, count + 1, ends - now))
        if len(self._windows) > self.max_keys:
            self._shrink(now)
        return Decision(True, tuple(usages))

    async def hit(self, rules: Sequence[Rule]) -> Decision | None:
        return self.check(rules)

    async def aclose(self) -> None:
        return None

    def _drop_expired(self, now: float, at_most: int) -> None:
        for _ in range(at_most):
            key = next(iter(self._windows), None)
            if key is None or self._windows[key][0] > now:
                return
            del self._windows[key]

    def _shrink(self, now: float) -> None:
        self._windows = {k: v for k, v in self._windows.items() if v[0] > now}
        excess = len(self._windows) - self.max_keys * 9 // 10
        if excess > 0:
            log.warning("rate limiter over %d buckets: forgetting the oldest", self.max_keys)
            for key in list(self._windows)[:excess]:
                del self._windows[key]


# --- Redis -----------------------------------------------------------------------------------

# KEYS[i]: a bucket; ARGV[2i-1]: its limit; ARGV[2i]: its window in ms.
# Returns {allowed, count_1, pttl_1, count_2, pttl_2, ...}; counts include this hit if allowed.
# Atomic: no other client runs between the reads and the writes, so N instances share exactly.
_HIT_SCRIPT = """
local result = {1}
for i, key in ipairs(KEYS) do
  local count = 0
  local ttl = redis.call('PTTL', key)
  if ttl > 0 then
    count = tonumber(redis.call('GET', key)) or 0
  else
    ttl = tonumber(ARGV[2 * i])
  end
  if count >= tonumber(ARGV[2 * i - 1]) then result[1] = 0 end
  result[2 * i] = count
  result[2 * i + 1] = ttl
end
if result[1] == 1 then
  for i, key in ipairs(KEYS) do
    if result[2 * i] == 0 then
      redis.call('SET', key, 1, 'PX', ARGV[2 * i])
      result[2 * i] = 1
    else
      result[2 * i] = redis.call('INCR', key)
    end
  end
end
return result
"""


class RedisBackend:
    """Counts shared by every instance using the same Redis and key prefix.

    Fails open: when Redis cannot answer (down, timeout, any error) `hit` returns None, a
    warning is logged once per outage, and Redis is left alone for `pause` seconds so that a
    dead server costs requests nothing; then it is tried again."""

    def __init__(
        self,
        url: str,
        prefix: str,
        *,
        timeout: float = 0.5,
        pause: float = 5.0,
        clock: Clock = time.monotonic,
        client: Any = None,
    ) -> None:
        if client is None:
            from redis.asyncio import Redis
            from redis.asyncio.retry import Retry
            from redis.backoff import NoBackoff

            client = Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                retry=Retry(NoBackoff(), 0),  # a failure fails open at once; no retry storm
                health_check_interval=30,
            )
        self.prefix = prefix
        self.pause = pause
        self.clock = clock
        self._redis = client
        self._script = client.register_script(_HIT_SCRIPT)
        self._paused_until = 0.0
        self._failing = False

    async def hit(self, rules: Sequence[Rule]) -> Decision | None:
        if not rules:
            return Decision(True, ())
        now = self.clock()
        if now < self._paused_until:
            return None
        args: list[int] = []
        for rule in rules:
            args += [rule.limit, max(1, round(rule.window * 1000))]
        try:
            raw = await self._script(keys=[self.prefix + r.key for r in rules], args=args)
            decision = Decision(
                raw[0] == 1,
                tuple(
                    Usage(rule, int(raw[2 * i + 1]), int(raw[2 * i + 2]) / 1000)
                    for i, rule in enumerate(rules)
                ),
            )
        except Exception as exc:  # any failure: serve the request unlimited, never a 500
            self._paused_until = now + self.pause
            if not self._failing:
                self._failing = True
                log.warning(
                    "rate limits not enforced: Redis is unavailable (%s); failing open",
                    type(exc).__name__,
                )
            return None
        if self._failing:
            self._failing = False
            log.warning("rate limits enforced again: Redis is reachable")
        return decision

    async def aclose(self) -> None:
        try:
            await self._redis.aclose()
        except Exception as exc:
            log.warning("could not close the Redis client: %s", type(exc).__name__)
