-- What availability shows depends on these tables. Every transaction that writes one of them
-- leaves rows here: for an appointment or hold, its practitioner and blocked time; for a
-- setting, scheduler config, appointment type, location or practitioner, practitioner 0 and no
-- time (everything in the account). A cached availability answer remembers the snapshot it
-- was computed under; it is still good while no row here for its account, practitioners and
-- time window is invisible to that snapshot (app/availability/cache.py). Rows are only ever
-- inserted, so writers never wait on each other here.
CREATE TABLE availability_changes (
    account_id      bigint    NOT NULL,
    xid             xid8      NOT NULL DEFAULT pg_current_xact_id(),
    practitioner_id bigint    NOT NULL,
    during          tstzrange            -- NULL: all time
);
CREATE INDEX availability_changes_idx ON availability_changes (account_id, practitioner_id, xid);

-- Pruning needs to know which transactions had ended some time ago: each pruning pass records
-- the oldest transaction still running, and later passes delete changes older than a horizon
-- recorded long enough ago that no cache entry can still need them.
CREATE TABLE availability_change_horizons (
    taken_at timestamptz PRIMARY KEY DEFAULT clock_timestamp(),
    oldest_running xid8 NOT NULL
);

CREATE FUNCTION note_practitioner_availability_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- closed ranges, never empty: the busy query also matches a zero-length block
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO availability_changes (account_id, practitioner_id, during)
        VALUES (OLD.account_id, OLD.practitioner_id,
                tstzrange(least(OLD.blocked_from, OLD.blocked_until),
                          greatest(OLD.blocked_from, OLD.blocked_until), '[]'));
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO availability_changes (account_id, practitioner_id, during)
        VALUES (NEW.account_id, NEW.practitioner_id,
                tstzrange(least(NEW.blocked_from, NEW.blocked_until),
                          greatest(NEW.blocked_from, NEW.blocked_until), '[]'));
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION note_account_availability_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        INSERT INTO availability_changes (account_id, practitioner_id) VALUES (OLD.account_id, 0);
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.account_id <> OLD.account_id) THEN
        INSERT INTO availability_changes (account_id, practitioner_id) VALUES (NEW.account_id, 0);
    END IF;
    RETURN NULL;
END $$;

-- appointments: only the columns the engine reads (a note or a form count is no change)
CREATE TRIGGER appointments_availability_insert_delete
    AFTER INSERT OR DELETE ON appointments
    FOR EACH ROW EXECUTE FUNCTION note_practitioner_availability_change();
CREATE TRIGGER appointments_availability_update
    AFTER UPDATE ON appointments
    FOR EACH ROW WHEN (
        (OLD.account_id, OLD.practitioner_id, OLD.status, OLD.blocked_from, OLD.blocked_until,
         OLD.scheduler_config_id, OLD.start_at)
        IS DISTINCT FROM
        (NEW.account_id, NEW.practitioner_id, NEW.status, NEW.blocked_from, NEW.blocked_until,
         NEW.scheduler_config_id, NEW.start_at))
    EXECUTE FUNCTION note_practitioner_availability_change();
CREATE TRIGGER holds_availability
    AFTER INSERT OR UPDATE OR DELETE ON holds
    FOR EACH ROW EXECUTE FUNCTION note_practitioner_availability_change();

DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['scheduler_configs', 'self_scheduling_settings',
                                'appointment_types', 'locations', 'practitioners'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I'
                       ' FOR EACH ROW EXECUTE FUNCTION note_account_availability_change()',
                       name || '_availability', name);
    END LOOP;
END $$;

-- TRUNCATE fires no row triggers: it marks every account (account 0, practitioner 0)
CREATE FUNCTION note_truncate_availability_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO availability_changes (account_id, practitioner_id) VALUES (0, 0);
    RETURN NULL;
END $$;
CREATE TRIGGER appointments_availability_truncate AFTER TRUNCATE ON appointments
    FOR EACH STATEMENT EXECUTE FUNCTION note_truncate_availability_change();
CREATE TRIGGER holds_availability_truncate AFTER TRUNCATE ON holds
    FOR EACH STATEMENT EXECUTE FUNCTION note_truncate_availability_change();
