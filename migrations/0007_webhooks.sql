-- Webhooks out: partner endpoints, one delivery row per (endpoint, event), and the fan-out
-- marker on events. Deliveries are an outbox like notifications: claimed with
-- FOR UPDATE SKIP LOCKED and a lease, sent with no transaction open, retried with backoff.

-- `secret_sealed` is the endpoint's signing key (whsec_...), AES-GCM encrypted under a key
-- derived from SLOTPROOF_SECRET_KEY: it must be recoverable to sign, and is never returned
-- after the create call.
CREATE TABLE webhook_endpoints (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id     bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    url            text NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    events         text[] NOT NULL CHECK (cardinality(events) > 0),
    secret_sealed  text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_account_idx ON webhook_endpoints (account_id, id);

-- `payload` is the exact body, encoded once at fan-out, so every attempt sends the same bytes.
-- While SENDING, `next_attempt_at` is the claim's lease. `give_up_at` ends automatic retries
-- (creation + 24 h; a manual retry opens a new window). `last_error` holds a status code or an
-- error class, never the receiver's response body.
CREATE TABLE webhook_deliveries (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id        bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    endpoint_id       bigint NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id          bigint NOT NULL REFERENCES events(id) ON DELETE CASCADE,
    event_type        text NOT NULL,
    payload           bytea NOT NULL,
    status            text NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING', 'SENDING', 'DELIVERED', 'FAILED')),
    attempts          integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    give_up_at        timestamptz NOT NULL,
    last_status_code  integer,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    delivered_at      timestamptz,
    UNIQUE (endpoint_id, event_id)
);
-- the dispatcher's claim: due rows among the few not yet finished
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at, id)
    WHERE status IN ('PENDING', 'SENDING');
CREATE INDEX webhook_deliveries_event_idx ON webhook_deliveries (event_id);

-- Each event fans out exactly once: the dispatcher locks unmarked events with
-- FOR UPDATE SKIP LOCKED, inserts their deliveries and marks them in one transaction. (A
-- high-water mark on events.id would skip ids that commit out of order.)
ALTER TABLE events ADD COLUMN fanned_out_at timestamptz;
CREATE INDEX events_fan_out_idx ON events (id) WHERE fanned_out_at IS NULL;
