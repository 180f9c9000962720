-- Wrong codes count against a contact per account (a stranger at one practice cannot lock a
-- person out at every other), and only when a code was sent to that contact on that proof
-- (app/identity/policy.py). Rows from before keep counting in their proof's account.
ALTER TABLE identity_failures
    ADD COLUMN account_id bigint REFERENCES accounts(id) ON DELETE CASCADE;
UPDATE identity_failures f SET account_id = p.account_id
  FROM identity_proofs p WHERE p.id = f.proof_id;
CREATE INDEX identity_failures_account_contact_idx
    ON identity_failures (account_id, contact_hash, at);
