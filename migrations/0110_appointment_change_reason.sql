-- Why a status change was made (PUT /location/{id}/appointment/{id} `reason`, at most 500
-- characters; a FHIR cancellation's comment, at most 5000): shown on that change's
-- statusHistory entry. Free text the practice wrote, possibly about the patient's health: it
-- stays in the database and the partner API (audited reads), never in events, patient
-- messages or logs.
ALTER TABLE appointment_changes
    ADD COLUMN reason text CHECK (length(reason) BETWEEN 1 AND 5000);
