-- The language a patient chose in the widget, so every message to them uses it, and extra
-- manage links: a message sent after the booking (a cancellation, a move by the practice, a
-- reminder) carries a link of its own, while the links sent earlier keep working.

ALTER TABLE self_scheduling_attempts ADD COLUMN locale text NOT NULL DEFAULT 'en';
-- the language of the patient's latest widget booking; messages about any of their
-- appointments use it
ALTER TABLE patients ADD COLUMN locale text;

CREATE TABLE manage_links (
    token_hash      text PRIMARY KEY,
    appointment_id  bigint NOT NULL REFERENCES appointments(id) ON DELETE CASCADE,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX manage_links_appointment_idx ON manage_links (appointment_id);
