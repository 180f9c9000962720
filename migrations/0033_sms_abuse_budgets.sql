-- SMS pumping (app/identity/sms_limits.py): per-setting and per-account daily SMS budgets,
-- counted per UTC day in one row per budget (the UPSERT that spends one is also the check, so
-- concurrent sends cannot overshoot), and what a code row needs for the velocity limits: a
-- keyed hash of the destination's prefix and, for widget sends, of the client address.
ALTER TABLE self_scheduling_settings
    ADD COLUMN sms_budget_per_day integer NOT NULL DEFAULT 200 CHECK (sms_budget_per_day >= 0);

CREATE TABLE sms_budget_usage (
    scope         text NOT NULL CHECK (scope IN ('setting', 'account')),
    scope_id      bigint NOT NULL,
    day           date NOT NULL,
    used          integer NOT NULL CHECK (used >= 0),
    exhausted_at  timestamptz,
    PRIMARY KEY (scope, scope_id, day)
);

ALTER TABLE identity_codes
    ADD COLUMN prefix_hash text,
    ADD COLUMN client_hash text;
CREATE INDEX identity_codes_prefix_idx ON identity_codes (prefix_hash, created_at)
    WHERE prefix_hash IS NOT NULL;
CREATE INDEX identity_codes_client_idx ON identity_codes (client_hash, created_at)
    WHERE client_hash IS NOT NULL;
