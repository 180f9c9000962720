-- Self-scheduling attempts (the funnel's unit), their recorded steps, slot holds, and the
-- booking-side columns of appointments.

CREATE TABLE self_scheduling_attempts (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id         bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    setting_id         bigint NOT NULL REFERENCES self_scheduling_settings(id) ON DELETE CASCADE,
    identity_proof_id  bigint UNIQUE REFERENCES identity_proofs(id) ON DELETE SET NULL,
    patient_id         bigint REFERENCES patients(id),
    appointment_id     bigint REFERENCES appointments(id),
    location_id        bigint REFERENCES locations(id),
    status             text NOT NULL CHECK (status IN (
        'STARTED', 'CODE_SENT', 'VERIFIED', 'PATIENT_SET', 'BOOKED', 'ABANDONED')),
    source             text NOT NULL DEFAULT 'PARTNER' CHECK (source IN ('PARTNER', 'WIDGET')),
    token_hash         text UNIQUE,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    last_activity_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attempts_account_created_idx ON self_scheduling_attempts (account_id, created_at, id);
CREATE INDEX attempts_idle_idx ON self_scheduling_attempts (last_activity_at)
    WHERE status NOT IN ('BOOKED', 'ABANDONED');

CREATE TABLE attempt_steps (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    attempt_id  bigint NOT NULL REFERENCES self_scheduling_attempts(id) ON DELETE CASCADE,
    account_id  bigint NOT NULL,
    step        text NOT NULL CHECK (step IN (
        'STARTED', 'CODE_SENT', 'VERIFIED', 'PATIENT_SET', 'BOOKED', 'ABANDONED',
        'AVAILABILITY_VIEWED', 'SLOT_SELECTED')),
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attempt_steps_attempt_idx ON attempt_steps (attempt_id, id);

-- A hold withholds a slot from everyone else until it expires. Hold and booking transactions
-- take a per-practitioner advisory lock, so the checks against holds and appointments they
-- make cannot race; the appointments exclusion constraint remains the last word.
CREATE TABLE holds (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id           bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    attempt_id           bigint NOT NULL UNIQUE
        REFERENCES self_scheduling_attempts(id) ON DELETE CASCADE,
    practitioner_id      bigint NOT NULL REFERENCES practitioners(id),
    location_id          bigint NOT NULL REFERENCES locations(id),
    scheduler_config_id  bigint NOT NULL REFERENCES scheduler_configs(id) ON DELETE CASCADE,
    appointment_type_id  bigint NOT NULL REFERENCES appointment_types(id),
    start_at             timestamptz NOT NULL,
    end_at               timestamptz NOT NULL,
    blocked_from         timestamptz NOT NULL,
    blocked_until        timestamptz NOT NULL,
    expires_at           timestamptz NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX holds_practitioner_idx ON holds (practitioner_id, blocked_from, blocked_until);
CREATE INDEX holds_expiry_idx ON holds (expires_at);

ALTER TABLE appointments
    ADD COLUMN attempt_id bigint REFERENCES self_scheduling_attempts(id),
    ADD COLUMN manage_token_hash text UNIQUE,
    ADD COLUMN rescheduled_from_id bigint REFERENCES appointments(id),
    ADD COLUMN cancel_reason text;
CREATE UNIQUE INDEX appointments_attempt_idx ON appointments (attempt_id) WHERE attempt_id IS NOT NULL;

-- status history of appointments: who changed what, when (no PHI)
CREATE TABLE appointment_changes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    appointment_id  bigint NOT NULL REFERENCES appointments(id) ON DELETE CASCADE,
    account_id      bigint NOT NULL,
    change          text NOT NULL,
    from_status     text,
    to_status       text,
    actor           text NOT NULL,
    at              timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX appointment_changes_appointment_idx ON appointment_changes (appointment_id, id);
