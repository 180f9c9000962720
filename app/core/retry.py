"""429 answers that say when to come back: `Retry-After` and `retryAfterSeconds`."""

from __future__ import annotations

import math
from datetime import datetime

from app.core.errors import Problem


def seconds_until(now: datetime, at: datetime) -> int:
    """Whole seconds from `now` to `at`, at least 1 (Retry-After is a positive integer)."""
    return max(1, math.ceil((at - now).total_seconds()))


def too_many(code: str, detail: str, retry_after: int, **extra: object) -> Problem:
    return Problem(
        429,
        code,
        detail,
        headers={"Retry-After": str(retry_after)},
        retryAfterSeconds=retry_after,
        **extra,
    )
