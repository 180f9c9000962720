-- A patient created from contacts nobody verified (the patient step of a setting without a
-- verification method) is never matched, revealed or changed by a later patient step or
-- identity lookup: anyone could have typed another person's email or phone there.
ALTER TABLE patients ADD COLUMN contacts_verified boolean NOT NULL DEFAULT true;
