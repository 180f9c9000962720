-- Waitlist and earlier-slot offers (docs/waitlist.md).
--
-- A setting's `waitlist` ({enabled, offerMinutes, offersPerSlot}); waitlist entries (a patient
-- who wants an earlier time for an appointment, or any time in a window); "openings" — a durable
-- note that some practitioner time may have opened, written by triggers in the very
-- transaction that freed it, so no opened slot is lost if a process dies before matching; and
-- the offers the background matcher made from them.

ALTER TABLE self_scheduling_settings
    ADD COLUMN waitlist jsonb NOT NULL
        DEFAULT '{"enabled": false, "offerMinutes": 30, "offersPerSlot": 3}';

CREATE TABLE waitlist_entries (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id           bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    setting_id           bigint NOT NULL REFERENCES self_scheduling_settings(id) ON DELETE CASCADE,
    patient_id           bigint NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
    -- EARLIER: move `appointment_id` earlier; WINDOW: book a new appointment in the window
    kind                 text NOT NULL CHECK (kind IN ('EARLIER', 'WINDOW')),
    appointment_id       bigint REFERENCES appointments(id) ON DELETE CASCADE,
    appointment_type_id  bigint NOT NULL REFERENCES appointment_types(id) ON DELETE CASCADE,
    location_id          bigint NOT NULL REFERENCES locations(id) ON DELETE CASCADE,
    practitioner_ids     bigint[] NOT NULL DEFAULT '{}',  -- empty: any of the setting's
    window_start         timestamptz NOT NULL,
    window_end           timestamptz NOT NULL,
    locale               text NOT NULL DEFAULT 'en',
    source               text NOT NULL CHECK (source IN ('WIDGET', 'MANAGE', 'PARTNER')),
    -- keyed hash of the client address that asked (widget calls): caps joins per address
    origin_hash          text,
    status               text NOT NULL DEFAULT 'ACTIVE'
        CHECK (status IN ('ACTIVE', 'CLAIMED', 'ENDED', 'REMOVED')),
    end_reason           text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    ended_at             timestamptz,
    CHECK (window_end > window_start),
    CHECK ((kind = 'EARLIER') = (appointment_id IS NOT NULL))
);
-- matching reads the active entries of an account oldest first
CREATE INDEX waitlist_entries_active_idx ON waitlist_entries (account_id, created_at, id)
    WHERE status = 'ACTIVE';
CREATE INDEX waitlist_entries_account_idx ON waitlist_entries (account_id, id);
CREATE INDEX waitlist_entries_patient_idx ON waitlist_entries (patient_id, created_at);
CREATE INDEX waitlist_entries_origin_idx ON waitlist_entries (origin_hash, created_at)
    WHERE origin_hash IS NOT NULL;
CREATE INDEX waitlist_entries_window_idx ON waitlist_entries (window_end) WHERE status = 'ACTIVE';
-- one live earlier-request per appointment: asking again returns the same entry
CREATE UNIQUE INDEX waitlist_entries_earlier_idx ON waitlist_entries (appointment_id)
    WHERE status = 'ACTIVE';

CREATE TABLE waitlist_openings (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id       bigint NOT NULL,
    practitioner_id  bigint NOT NULL,
    -- the freed (buffered) time; NULL: the practitioner's schedule changed, look everywhere
    during           tstzrange,
    -- FREED (a cancel, a move away, an expired hold) or CAPACITY (a new rule, override, block
    -- removed): only FREED claims count as refilled slots
    kind             text NOT NULL CHECK (kind IN ('FREED', 'CAPACITY')),
    -- how many earlier-claims led here (a claim that frees a slot opens depth + 1)
    depth            integer NOT NULL DEFAULT 0,
    -- re-offers of the same time after every offer of a round expired unclaimed
    round            integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    processed_at     timestamptz
);
CREATE INDEX waitlist_openings_due_idx ON waitlist_openings (id) WHERE processed_at IS NULL;
CREATE INDEX waitlist_openings_processed_idx ON waitlist_openings (processed_at)
    WHERE processed_at IS NOT NULL;

CREATE TABLE waitlist_offers (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id           bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    entry_id             bigint NOT NULL REFERENCES waitlist_entries(id) ON DELETE CASCADE,
    opening_id           bigint NOT NULL REFERENCES waitlist_openings(id) ON DELETE CASCADE,
    patient_id           bigint NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
    setting_id           bigint NOT NULL REFERENCES self_scheduling_settings(id) ON DELETE CASCADE,
    token_hash           text NOT NULL UNIQUE,
    practitioner_id      bigint NOT NULL,
    scheduler_config_id  bigint NOT NULL REFERENCES scheduler_configs(id) ON DELETE CASCADE,
    location_id          bigint NOT NULL,
    appointment_type_id  bigint NOT NULL,
    start_at             timestamptz NOT NULL,
    end_at               timestamptz NOT NULL,
    channel              text NOT NULL CHECK (channel IN ('SMS', 'EMAIL')),
    notification_id      bigint REFERENCES notifications(id) ON DELETE SET NULL,
    status               text NOT NULL DEFAULT 'OPEN'
        CHECK (status IN ('OPEN', 'CLAIMED', 'TAKEN', 'EXPIRED')),
    expires_at           timestamptz NOT NULL,
    created_at           timestamptz NOT NULL,
    claimed_at           timestamptz,
    appointment_id       bigint REFERENCES appointments(id) ON DELETE SET NULL,
    minutes_gained       integer  -- an earlier-claim: how much sooner the patient is seen
);
-- an entry holds at most one open offer at a time
CREATE UNIQUE INDEX waitlist_offers_open_entry_idx ON waitlist_offers (entry_id)
    WHERE status = 'OPEN';
CREATE INDEX waitlist_offers_slot_idx ON waitlist_offers (practitioner_id, start_at);
CREATE INDEX waitlist_offers_expiry_idx ON waitlist_offers (expires_at) WHERE status = 'OPEN';
CREATE INDEX waitlist_offers_patient_idx ON waitlist_offers (patient_id, created_at);
CREATE INDEX waitlist_offers_opening_idx ON waitlist_offers (opening_id);
CREATE INDEX waitlist_offers_account_idx ON waitlist_offers (account_id, created_at);

-- An appointment leaving the calendar, or moving, frees its old time: note an opening. An
-- appointment leaving the calendar also ends its live earlier-request. The depth of a chain of
-- earlier-claims rides in the transaction setting `slotproof.waitlist_depth`.
CREATE FUNCTION note_waitlist_opening_from_appointment() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    was_live boolean := OLD.status NOT IN ('CANCELLED', 'RESCHEDULED', 'VOIDED');
    is_live  boolean := TG_OP = 'UPDATE'
                        AND NEW.status NOT IN ('CANCELLED', 'RESCHEDULED', 'VOIDED');
BEGIN
    IF was_live AND (NOT is_live
                     OR (OLD.practitioner_id, OLD.blocked_from, OLD.blocked_until)
                        IS DISTINCT FROM (NEW.practitioner_id, NEW.blocked_from, NEW.blocked_until))
    THEN
        INSERT INTO waitlist_openings (account_id, practitioner_id, during, kind, depth)
        VALUES (OLD.account_id, OLD.practitioner_id,
                tstzrange(OLD.blocked_from, OLD.blocked_until, '[)'), 'FREED',
                coalesce(nullif(current_setting('slotproof.waitlist_depth', true), '')::int, 0));
        PERFORM pg_notify('slotproof_waitlist', '');  -- wakes the matcher at commit
    END IF;
    IF was_live AND NOT is_live AND TG_OP = 'UPDATE' THEN
        UPDATE waitlist_entries
           SET status = 'ENDED', end_reason = 'APPOINTMENT_' || NEW.status, ended_at = now()
         WHERE appointment_id = NEW.id AND status = 'ACTIVE';
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER appointments_waitlist_opening
    AFTER UPDATE OR DELETE ON appointments
    FOR EACH ROW EXECUTE FUNCTION note_waitlist_opening_from_appointment();

-- A schedule change may open time anywhere in the practitioner's horizon.
CREATE FUNCTION note_waitlist_opening_from_config() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT'
       OR (OLD.practitioner_id, OLD.location_id, OLD.appointment_type_ids,
           OLD.slot_interval_minutes, OLD.buffer_before_minutes, OLD.buffer_after_minutes,
           OLD.max_per_day, OLD.rules, OLD.overrides, OLD.blocks)
          IS DISTINCT FROM
          (NEW.practitioner_id, NEW.location_id, NEW.appointment_type_ids,
           NEW.slot_interval_minutes, NEW.buffer_before_minutes, NEW.buffer_after_minutes,
           NEW.max_per_day, NEW.rules, NEW.overrides, NEW.blocks)
    THEN
        INSERT INTO waitlist_openings (account_id, practitioner_id, during, kind)
        VALUES (NEW.account_id, NEW.practitioner_id, NULL, 'CAPACITY');
        PERFORM pg_notify('slotproof_waitlist', '');
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER scheduler_configs_waitlist_opening
    AFTER INSERT OR UPDATE ON scheduler_configs
    FOR EACH ROW EXECUTE FUNCTION note_waitlist_opening_from_config();
