-- Appointment reminders and two-way confirmation (contract "Reminders and confirmation").
--
-- A setting lists up to three reminders; each booking gets one `appointment_reminders` row per
-- reminder and appointment start. A row is armed (SCHEDULED) until it falls due; the worker
-- then turns it into exactly one outbox notification (QUEUED, `notification_id`) in the
-- transaction that locks it, or records why it was not sent (SKIPPED). A reschedule or a
-- cancel takes the armed rows off (CANCELLED). The unique keys make a second reminder for the
-- same (appointment, offset, channel, start) impossible, whatever the workers do.

ALTER TABLE self_scheduling_settings
    ADD COLUMN reminders jsonb NOT NULL
        DEFAULT '[{"offsetMinutes": 1440, "channel": "SMS"}, {"offsetMinutes": 4320, "channel": "EMAIL"}]'
        CHECK (jsonb_typeof(reminders) = 'array' AND jsonb_array_length(reminders) <= 3);

CREATE TABLE appointment_reminders (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id       bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    appointment_id   bigint NOT NULL REFERENCES appointments(id) ON DELETE CASCADE,
    offset_minutes   integer NOT NULL CHECK (offset_minutes BETWEEN 30 AND 20160),
    channel          text NOT NULL CHECK (channel IN ('SMS', 'EMAIL')),
    start_at         timestamptz NOT NULL,  -- the appointment start this reminder is about
    due_at           timestamptz NOT NULL,  -- when it goes out (quiet hours applied)
    status           text NOT NULL DEFAULT 'SCHEDULED'
        CHECK (status IN ('SCHEDULED', 'QUEUED', 'SKIPPED', 'CANCELLED')),
    reason           text CHECK (reason ~ '^[a-z_]{1,40}$'),  -- why SKIPPED or CANCELLED
    notification_id  bigint UNIQUE REFERENCES notifications(id) ON DELETE SET NULL,
    sent_at          timestamptz,  -- the provider accepted it (reminder.sent was recorded)
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (status <> 'QUEUED' OR notification_id IS NOT NULL OR sent_at IS NOT NULL),
    CONSTRAINT appointment_reminders_once UNIQUE (appointment_id, offset_minutes, channel, start_at)
);
-- at most one armed reminder per (appointment, offset, channel), whatever its start
CREATE UNIQUE INDEX appointment_reminders_armed_idx
    ON appointment_reminders (appointment_id, offset_minutes, channel) WHERE status = 'SCHEDULED';
-- the worker's claim of due reminders
CREATE INDEX appointment_reminders_due_idx
    ON appointment_reminders (due_at, id) WHERE status = 'SCHEDULED';
CREATE INDEX appointment_reminders_account_idx ON appointment_reminders (account_id, start_at);

-- Contacts that asked for no more messages from an account: SMS by STOP (every SMS, codes
-- included, until START), EMAIL by the one-click unsubscribe of a reminder email (reminders).
CREATE TABLE contact_opt_outs (
    account_id  bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    channel     text NOT NULL CHECK (channel IN ('SMS', 'EMAIL')),
    contact     text NOT NULL CHECK (length(contact) BETWEEN 1 AND 320),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, channel, contact)
);
CREATE INDEX contact_opt_outs_contact_idx ON contact_opt_outs (channel, contact);

-- an inbound SMS finds the conversations its number is part of
CREATE INDEX notifications_sms_recipient_idx ON notifications (recipient, id) WHERE channel = 'SMS';
-- a reply from a number finds that patient's appointments
CREATE INDEX patients_mobile_phone_idx ON patients (mobile_phone) WHERE mobile_phone IS NOT NULL;
