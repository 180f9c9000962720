"""In-process fixed-window rate limiter (per key). Good for one instance; the shared
Redis-backed variant for several instances comes with the hardening work."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from app.core.errors import Problem


class RateLimiter:
    def __init__(
        self, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self.clock = clock
        self._counts: dict[str, tuple[float, int]] = {}

    def hit(self, key: str) -> float | None:
        """Count one hit; returns seconds to wait when over the limit, else None."""
        now = self.clock()
        window_start, count = self._counts.get(key, (now, 0))
        if now - window_start >= self.window:
            window_start, count = now, 0
        if count >= self.limit:
            return self.window - (now - window_start)
        self._counts[key] = (window_start, count + 1)
        if len(self._counts) > 10_000:
            self._evict(now)
        return None

    def check(self, key: str) -> None:
        wait = self.hit(key)
        if wait is not None:
            retry = max(1, math.ceil(wait))
            raise Problem(
                429,
                "rate_limited",
                "Too many requests; try again later.",
                headers={"Retry-After": str(retry)},
                retryAfterSeconds=retry,
            )

    def _evict(self, now: float) -> None:
        self._counts = {k: v for k, v in self._counts.items() if now - v[0] < self.window}
