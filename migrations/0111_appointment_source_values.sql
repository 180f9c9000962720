-- How an appointment was made (the location-appointment `source`), now a closed list that the
-- response's declared enum (app.appointments.schemas.Source) must equal
-- (tests/api/test_enum_constraints.py reads this CHECK back):
--   SELF_SCHEDULING  a self-scheduling attempt (the widget, or a partner's attempt flow)
--   PARTNER          booked directly by a partner or staff (POST /location/{id}/appointment)
--   FHIR             the FHIR facade's $book (an attempt with source FHIR, migration 0090)
--   WAITLIST         a patient claiming a waitlist offer for a window (migration 0080)
-- Until now FHIR and waitlist bookings were recorded as SELF_SCHEDULING: tell them apart.
UPDATE appointments a SET source = 'FHIR'
  FROM self_scheduling_attempts t
 WHERE t.id = a.attempt_id AND t.source = 'FHIR' AND a.source = 'SELF_SCHEDULING';
UPDATE appointments a SET source = 'WAITLIST'
  FROM waitlist_offers o JOIN waitlist_entries e ON e.id = o.entry_id
 WHERE o.appointment_id = a.id AND o.status = 'CLAIMED' AND e.kind = 'WINDOW'
   AND a.source = 'SELF_SCHEDULING';

ALTER TABLE appointments DROP CONSTRAINT appointments_source_check;
ALTER TABLE appointments
    ADD CONSTRAINT appointments_source_check
    CHECK (source IN ('SELF_SCHEDULING', 'PARTNER', 'FHIR', 'WAITLIST'));
