-- The PHI audit trail becomes append-only, and indexes for the retention job.

-- audit_log (0001): one row per read or write of PHI; ids only, never values.
-- Nobody may change or remove a row: the trigger refuses UPDATE, DELETE and TRUNCATE for every
-- role, the table's owner included (only a superuser or the owner can drop the trigger, and
-- that is itself visible in the catalog). PUBLIC loses those privileges too; give the
-- application a role that does not own the table to make the trigger the only way in.
CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_log_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate
    BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;

ALTER TABLE audit_log
    ADD CONSTRAINT audit_log_action_check CHECK (action IN ('read', 'create', 'update')) NOT VALID,
    ADD CONSTRAINT audit_log_outcome_check CHECK (outcome IN ('success', 'denied', 'error')) NOT VALID;
-- GET …/audit-log pages through an account's rows in id order
CREATE INDEX audit_log_account_id_idx ON audit_log (account_id, id);

-- Retention (app/retention.py) -------------------------------------------------------------

-- attempts abandoned without a patient, whose proof's verified contacts are erased after N days
CREATE INDEX attempts_abandoned_unmatched_idx ON self_scheduling_attempts (updated_at)
    INCLUDE (identity_proof_id)
    WHERE status = 'ABANDONED' AND patient_id IS NULL AND identity_proof_id IS NOT NULL;
-- proofs still holding a contact (erased ones drop out of the index)
CREATE INDEX identity_proofs_contacts_idx ON identity_proofs (created_at)
    WHERE verified_email IS NOT NULL OR verified_phone IS NOT NULL;
-- code hashes are blanked once dead, and rows deleted once out of the send-limit window
CREATE INDEX identity_codes_expiry_idx ON identity_codes (expires_at);
CREATE INDEX identity_failures_at_idx ON identity_failures (at);
-- verification-code messages whose recipient is still readable
CREATE INDEX notifications_code_recipient_idx ON notifications (created_at)
    WHERE purpose = 'verification_code' AND recipient <> '[erased]';
