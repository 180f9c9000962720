-- Lobbie drop-in: how an appointment was made (our additive `source`), ordering location
-- appointments by creation, and the patient fields of Lobbie's createPatient.

ALTER TABLE appointments
    ADD COLUMN source text NOT NULL DEFAULT 'SELF_SCHEDULING'
        CHECK (source ~ '^[A-Z_]{1,40}$');
CREATE INDEX appointments_location_created_idx ON appointments (location_id, created_at, id);

ALTER TABLE patients
    ADD COLUMN gender text CHECK (gender IN ('FEMALE', 'MALE', 'OTHER', 'UNKNOWN')),
    ADD COLUMN external_id text CHECK (length(external_id) BETWEEN 1 AND 200);
CREATE INDEX patients_external_id_idx ON patients (account_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE INDEX patients_email_idx ON patients (account_id, lower(email)) WHERE email IS NOT NULL;
CREATE INDEX patients_phone_idx ON patients (account_id, mobile_phone)
    WHERE mobile_phone IS NOT NULL;
