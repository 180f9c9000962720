-- Outbox for notifications (SMS and email), the domain event log, and the dedup table for
-- inbound provider callbacks. Rows are written in the same transaction as the change that
-- causes them; the worker delivers after commit.

-- Domain events (contract "Webhooks out" types); the webhook fan-out reads them later.
CREATE TABLE events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    type        text NOT NULL CHECK (type ~ '^[a-z_]+\.[a-z_]+$'),
    data        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(data) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_account_idx ON events (account_id, id);

-- One row per message. `recipient` is needed to send and is never returned unmasked.
-- `params` holds the template values; a verification `code` is removed once the row reaches
-- SENT, DELIVERED or FAILED. `last_error` holds status codes and error classes only (no PHI).
-- While SENDING, `next_attempt_at` is the claim's lease: a worker that died mid-send leaves
-- the row to be claimed again once the lease has run out.
CREATE TABLE notifications (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id           bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    channel              text NOT NULL CHECK (channel IN ('SMS', 'EMAIL')),
    recipient            text NOT NULL CHECK (length(recipient) BETWEEN 1 AND 320),
    purpose              text NOT NULL CHECK (length(purpose) BETWEEN 1 AND 100),
    locale               text NOT NULL DEFAULT 'en',
    params               jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(params) = 'object'),
    status               text NOT NULL DEFAULT 'QUEUED'
        CHECK (status IN ('QUEUED', 'SENDING', 'SENT', 'DELIVERED', 'FAILED')),
    provider_message_id  text,
    attempts             integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at      timestamptz NOT NULL DEFAULT now(),
    last_error           text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    sent_at              timestamptz,
    delivered_at         timestamptz
);
-- the worker's claim: due rows among the few not yet finished
CREATE INDEX notifications_due_idx ON notifications (next_attempt_at, id)
    WHERE status IN ('QUEUED', 'SENDING');
-- provider status callbacks find their message by the provider's id
CREATE INDEX notifications_provider_idx ON notifications (channel, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
CREATE INDEX notifications_account_idx ON notifications (account_id, id);

-- Every provider callback event applied once: (provider, event key) is the idempotency key.
CREATE TABLE provider_callbacks (
    provider     text NOT NULL CHECK (provider IN ('twilio', 'sendgrid')),
    event_key    text NOT NULL CHECK (length(event_key) BETWEEN 1 AND 300),
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, event_key)
);
CREATE INDEX provider_callbacks_received_idx ON provider_callbacks (received_at);
