-- Idempotency-Key support for every partner/widget POST (app/core/idempotency.py).
--
-- One row per (caller, method + path, key). `principal_hash` and `endpoint_hash` are keyed
-- hashes (HMAC under the server key): the caller's identity and the request path (which can
-- carry manage tokens) are never stored in clear. `fingerprint` is the SHA-256 of the request
-- (method, path, query, canonical body).
--
-- RETENTION / PHI: `response_body` is the stored response, which may contain PHI (a patient
-- record, an appointment). Rows live 24 hours (`expires_at`); expired rows are ignored at once,
-- replaced lazily when their key is reused, and deleted by the retention job
-- (`purge_expired`). Never copy this table to logs, analytics or backups kept longer than
-- the database's own.

CREATE TABLE idempotency_keys (
    principal_hash   text NOT NULL,
    endpoint_hash    text NOT NULL,
    idempotency_key  text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    fingerprint      text NOT NULL,
    state            text NOT NULL CHECK (state IN ('IN_FLIGHT', 'DONE')),
    -- random per claim: a request whose stale claim was taken over cannot overwrite the row
    lock_token       text NOT NULL,
    response_status  integer CHECK (response_status BETWEEN 100 AND 499),
    response_headers jsonb,
    response_body    bytea,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    PRIMARY KEY (principal_hash, endpoint_hash, idempotency_key),
    CHECK (state = 'IN_FLIGHT' OR (response_status IS NOT NULL AND response_headers IS NOT NULL
                                   AND response_body IS NOT NULL))
);
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);
