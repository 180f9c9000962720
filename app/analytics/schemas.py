"""Analytics response bodies: ids, statuses and times only (no PHI)."""

from __future__ import annotations

from datetime import datetime

from app.attempts.schemas import AttemptSource, AttemptStatus, StepName
from app.core.schema import Schema


class RecordedStep(Schema):
    step: StepName
    at: datetime


class AnalyticsAttempt(Schema):
    """An attempt as analysts see it: no patient, appointment or identity proof ids, no
    contacts. `isVerified` follows the recorded history (a VERIFIED step, or a setting that
    verifies nothing)."""

    id: int
    self_scheduling_setting_id: int
    location_id: int | None
    source: AttemptSource
    status: AttemptStatus
    is_verified: bool
    steps: list[RecordedStep]
    created_at: datetime
    updated_at: datetime


class AttemptPage(Schema):
    attempts: list[AnalyticsAttempt]
    next_cursor: str | None
