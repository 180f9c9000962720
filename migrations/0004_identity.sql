-- Identity proofs: a partner (or the widget) proves that a person controls an email address
-- and/or a mobile number by a one-time code. Secrets are never stored in the clear: the proof
-- token, each code and each not-yet-verified contact are HMAC-SHA256 digests under the server
-- key. Only a contact that was verified is kept readable (on the proof), because patient
-- matching and the API need it. Rules live in app/identity/policy.py.

CREATE TABLE identity_proofs (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id           bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    token_hash           text NOT NULL UNIQUE,
    verification_method  text NOT NULL
        CHECK (verification_method IN ('EMAIL', 'SMS', 'EMAIL_AND_SMS')),
    verified_email       text,
    verified_phone       text,
    failed_attempts      integer NOT NULL DEFAULT 0 CHECK (failed_attempts >= 0),
    created_at           timestamptz NOT NULL,
    expires_at           timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX identity_proofs_account_idx ON identity_proofs (account_id, id);

-- One row per code sent; also the send log the per-contact send limits count.
-- A newer send to the same proof and channel sets invalidated_at on the older live codes.
CREATE TABLE identity_codes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    proof_id        bigint NOT NULL REFERENCES identity_proofs(id) ON DELETE CASCADE,
    channel         text NOT NULL CHECK (channel IN ('EMAIL', 'SMS')),
    contact_hash    text NOT NULL,
    code_hash       text NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    consumed_at     timestamptz,
    invalidated_at  timestamptz
);
CREATE INDEX identity_codes_live_idx ON identity_codes (proof_id, channel, contact_hash)
    WHERE consumed_at IS NULL AND invalidated_at IS NULL;
CREATE INDEX identity_codes_contact_idx ON identity_codes (contact_hash, created_at);

-- Unsuccessful verifies per contact (the 24-hour limit spans proofs and accounts).
CREATE TABLE identity_failures (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    contact_hash  text NOT NULL,
    proof_id      bigint REFERENCES identity_proofs(id) ON DELETE SET NULL,
    at            timestamptz NOT NULL
);
CREATE INDEX identity_failures_contact_idx ON identity_failures (contact_hash, at);

-- patient lookup by a verified contact (case-insensitive email, E.164 mobile)
CREATE INDEX patients_identity_email_idx ON patients (account_id, lower(email))
    WHERE email IS NOT NULL;
CREATE INDEX patients_identity_mobile_idx ON patients (account_id, mobile_phone)
    WHERE mobile_phone IS NOT NULL;
