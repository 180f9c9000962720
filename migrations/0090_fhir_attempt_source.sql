-- Attempts started by the FHIR facade ($hold, $book) are recorded with source 'FHIR', so the
-- funnel, the attempt records and the BI views can tell them apart.
ALTER TABLE self_scheduling_attempts DROP CONSTRAINT self_scheduling_attempts_source_check;
ALTER TABLE self_scheduling_attempts
    ADD CONSTRAINT self_scheduling_attempts_source_check
    CHECK (source IN ('PARTNER', 'WIDGET', 'FHIR'));
