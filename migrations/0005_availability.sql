-- Busy-time lookups for the availability engine: live appointments of some practitioners
-- overlapping a range.
CREATE INDEX appointments_practitioner_live_idx
    ON appointments (practitioner_id, blocked_from, blocked_until)
    WHERE status NOT IN ('CANCELLED', 'RESCHEDULED', 'VOIDED');
