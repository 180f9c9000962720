-- Funnel analytics: a per-attempt funnel table kept by triggers, indexes for the analytics API,
-- the `analytics` schema of views for BI tools, and the read-only role `slotproof_analytics`
-- that may read those views and nothing else. Everything here carries ids, statuses and
-- times only: no names, contacts, dates of birth, nor patient or appointment ids.

-- GET …/self-scheduling/attempt pages through an account's attempts in id order
CREATE INDEX attempts_account_id_idx ON self_scheduling_attempts (account_id, id);

-- One row per attempt: the first time it reached each step, and the seconds between funnel
-- steps (NULL unless both happened, the later not before the earlier). Kept in step with
-- self_scheduling_attempts and attempt_steps by the triggers below, so the funnel query reads
-- one narrow row per attempt instead of aggregating its steps on every call (measured: 600 ms
-- -> under 100 ms for 82,000 attempts, bench/funnel.py). Rebuild it with
-- `SELECT attempt_funnel_rebuild()` if the triggers were ever bypassed.
CREATE TABLE attempt_funnel (
    attempt_id              bigint PRIMARY KEY
        REFERENCES self_scheduling_attempts(id) ON DELETE CASCADE,
    account_id              bigint NOT NULL,
    setting_id              bigint NOT NULL,
    location_id             bigint,
    created_at              timestamptz NOT NULL,
    started_at              timestamptz,
    availability_viewed_at  timestamptz,
    slot_selected_at        timestamptz,
    code_sent_at            timestamptz,
    verified_at             timestamptz,
    patient_set_at          timestamptz,
    booked_at               timestamptz,
    abandoned_at            timestamptz,
    -- seconds from the previous funnel step
    wait_availability_viewed float8 GENERATED ALWAYS AS (CASE WHEN availability_viewed_at >= started_at
        THEN date_part('epoch', availability_viewed_at - started_at) END) STORED,
    wait_slot_selected       float8 GENERATED ALWAYS AS (CASE WHEN slot_selected_at >= availability_viewed_at
        THEN date_part('epoch', slot_selected_at - availability_viewed_at) END) STORED,
    wait_code_sent           float8 GENERATED ALWAYS AS (CASE WHEN code_sent_at >= slot_selected_at
        THEN date_part('epoch', code_sent_at - slot_selected_at) END) STORED,
    wait_verified            float8 GENERATED ALWAYS AS (CASE WHEN verified_at >= code_sent_at
        THEN date_part('epoch', verified_at - code_sent_at) END) STORED,
    wait_patient_set         float8 GENERATED ALWAYS AS (CASE WHEN patient_set_at >= verified_at
        THEN date_part('epoch', patient_set_at - verified_at) END) STORED,
    wait_booked              float8 GENERATED ALWAYS AS (CASE WHEN booked_at >= patient_set_at
        THEN date_part('epoch', booked_at - patient_set_at) END) STORED,
    -- seconds from a step to booking
    booking_from_started             float8 GENERATED ALWAYS AS (CASE WHEN booked_at >= started_at
        THEN date_part('epoch', booked_at - started_at) END) STORED,
    booking_from_availability_viewed float8 GENERATED ALWAYS AS (CASE WHEN booked_at >= availability_viewed_at
        THEN date_part('epoch', booked_at - availability_viewed_at) END) STORED,
    booking_from_slot_selected       float8 GENERATED ALWAYS AS (CASE WHEN booked_at >= slot_selected_at
        THEN date_part('epoch', booked_at - slot_selected_at) END) STORED,
    booking_from_code_sent           float8 GENERATED ALWAYS AS (CASE WHEN booked_at >= code_sent_at
        THEN date_part('epoch', booked_at - code_sent_at) END) STORED,
    booking_from_verified            float8 GENERATED ALWAYS AS (CASE WHEN booked_at >= verified_at
        THEN date_part('epoch', booked_at - verified_at) END) STORED,
    booking_from_patient_set         float8 GENERATED ALWAYS AS (CASE WHEN booked_at >= patient_set_at
        THEN date_part('epoch', booked_at - patient_set_at) END) STORED
) WITH (fillfactor = 80);  -- room for the few updates of a live attempt on its page
CREATE INDEX attempt_funnel_account_created_idx ON attempt_funnel (account_id, created_at);

-- the first occurrence of every step of the attempts in `ids`, as attempt_funnel columns
CREATE FUNCTION attempt_funnel_refresh(ids bigint[]) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO attempt_funnel AS f (attempt_id, account_id, setting_id, location_id, created_at,
        started_at, availability_viewed_at, slot_selected_at, code_sent_at, verified_at,
        patient_set_at, booked_at, abandoned_at)
    SELECT a.id, a.account_id, a.setting_id, a.location_id, a.created_at,
           min(s.at) FILTER (WHERE s.step = 'STARTED'),
           min(s.at) FILTER (WHERE s.step = 'AVAILABILITY_VIEWED'),
           min(s.at) FILTER (WHERE s.step = 'SLOT_SELECTED'),
           min(s.at) FILTER (WHERE s.step = 'CODE_SENT'),
           min(s.at) FILTER (WHERE s.step = 'VERIFIED'),
           min(s.at) FILTER (WHERE s.step = 'PATIENT_SET'),
           min(s.at) FILTER (WHERE s.step = 'BOOKED'),
           min(s.at) FILTER (WHERE s.step = 'ABANDONED')
    FROM self_scheduling_attempts a
    LEFT JOIN attempt_steps s ON s.attempt_id = a.id
    WHERE a.id = ANY(ids)
    GROUP BY a.id
    ON CONFLICT (attempt_id) DO UPDATE SET
        account_id = EXCLUDED.account_id, setting_id = EXCLUDED.setting_id,
        location_id = EXCLUDED.location_id, created_at = EXCLUDED.created_at,
        started_at = EXCLUDED.started_at,
        availability_viewed_at = EXCLUDED.availability_viewed_at,
        slot_selected_at = EXCLUDED.slot_selected_at, code_sent_at = EXCLUDED.code_sent_at,
        verified_at = EXCLUDED.verified_at, patient_set_at = EXCLUDED.patient_set_at,
        booked_at = EXCLUDED.booked_at, abandoned_at = EXCLUDED.abandoned_at
$$;

CREATE FUNCTION attempt_funnel_rebuild() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    done bigint;
BEGIN
    DELETE FROM attempt_funnel;
    PERFORM attempt_funnel_refresh(array_agg(id)) FROM self_scheduling_attempts;
    SELECT count(*) INTO done FROM attempt_funnel;
    RETURN done;
END
$$;

-- new attempts (one statement may insert many)
CREATE FUNCTION attempt_funnel_on_attempts_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO attempt_funnel (attempt_id, account_id, setting_id, location_id, created_at)
    SELECT id, account_id, setting_id, location_id, created_at FROM new_attempts
    ON CONFLICT (attempt_id) DO NOTHING;
    RETURN NULL;
END
$$;
CREATE TRIGGER attempt_funnel_attempts_insert
    AFTER INSERT ON self_scheduling_attempts
    REFERENCING NEW TABLE AS new_attempts
    FOR EACH STATEMENT EXECUTE FUNCTION attempt_funnel_on_attempts_insert();

-- an attempt's grouping columns changed (a hold or a booking sets the location)
CREATE FUNCTION attempt_funnel_on_attempt_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE attempt_funnel
    SET account_id = NEW.account_id, setting_id = NEW.setting_id,
        location_id = NEW.location_id, created_at = NEW.created_at
    WHERE attempt_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER attempt_funnel_attempt_update
    AFTER UPDATE OF account_id, setting_id, location_id, created_at ON self_scheduling_attempts
    FOR EACH ROW
    WHEN (OLD.account_id IS DISTINCT FROM NEW.account_id
          OR OLD.setting_id IS DISTINCT FROM NEW.setting_id
          OR OLD.location_id IS DISTINCT FROM NEW.location_id
          OR OLD.created_at IS DISTINCT FROM NEW.created_at)
    EXECUTE FUNCTION attempt_funnel_on_attempt_update();

-- new steps: each step column keeps its earliest time
CREATE FUNCTION attempt_funnel_on_steps_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE attempt_funnel f SET
        started_at = least(f.started_at, n.started_at),
        availability_viewed_at = least(f.availability_viewed_at, n.availability_viewed_at),
        slot_selected_at = least(f.slot_selected_at, n.slot_selected_at),
        code_sent_at = least(f.code_sent_at, n.code_sent_at),
        verified_at = least(f.verified_at, n.verified_at),
        patient_set_at = least(f.patient_set_at, n.patient_set_at),
        booked_at = least(f.booked_at, n.booked_at),
        abandoned_at = least(f.abandoned_at, n.abandoned_at)
    FROM (
        SELECT attempt_id,
               min(at) FILTER (WHERE step = 'STARTED') AS started_at,
               min(at) FILTER (WHERE step = 'AVAILABILITY_VIEWED') AS availability_viewed_at,
               min(at) FILTER (WHERE step = 'SLOT_SELECTED') AS slot_selected_at,
               min(at) FILTER (WHERE step = 'CODE_SENT') AS code_sent_at,
               min(at) FILTER (WHERE step = 'VERIFIED') AS verified_at,
               min(at) FILTER (WHERE step = 'PATIENT_SET') AS patient_set_at,
               min(at) FILTER (WHERE step = 'BOOKED') AS booked_at,
               min(at) FILTER (WHERE step = 'ABANDONED') AS abandoned_at
        FROM new_steps
        GROUP BY attempt_id
    ) n
    WHERE f.attempt_id = n.attempt_id
      AND (f.started_at IS DISTINCT FROM least(f.started_at, n.started_at)
           OR f.availability_viewed_at IS DISTINCT FROM least(f.availability_viewed_at, n.availability_viewed_at)
           OR f.slot_selected_at IS DISTINCT FROM least(f.slot_selected_at, n.slot_selected_at)
           OR f.code_sent_at IS DISTINCT FROM least(f.code_sent_at, n.code_sent_at)
           OR f.verified_at IS DISTINCT FROM least(f.verified_at, n.verified_at)
           OR f.patient_set_at IS DISTINCT FROM least(f.patient_set_at, n.patient_set_at)
           OR f.booked_at IS DISTINCT FROM least(f.booked_at, n.booked_at)
           OR f.abandoned_at IS DISTINCT FROM least(f.abandoned_at, n.abandoned_at));
    RETURN NULL;
END
$$;
CREATE TRIGGER attempt_funnel_steps_insert
    AFTER INSERT ON attempt_steps
    REFERENCING NEW TABLE AS new_steps
    FOR EACH STATEMENT EXECUTE FUNCTION attempt_funnel_on_steps_insert();

-- steps are append-only in the application; an edit or a delete recomputes the attempt
CREATE FUNCTION attempt_funnel_on_steps_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- an attempt being deleted is gone from self_scheduling_attempts: nothing is written
    IF TG_OP = 'UPDATE' THEN
        PERFORM attempt_funnel_refresh(ARRAY[OLD.attempt_id, NEW.attempt_id]);
    ELSE
        PERFORM attempt_funnel_refresh(ARRAY[OLD.attempt_id]);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER attempt_funnel_steps_change
    AFTER UPDATE OR DELETE ON attempt_steps
    FOR EACH ROW EXECUTE FUNCTION attempt_funnel_on_steps_change();

-- existing attempts (the triggers above already hold their tables' write locks)
SELECT attempt_funnel_rebuild();

-- The analytics schema for BI tools -------------------------------------------------------

CREATE SCHEMA analytics;
REVOKE ALL ON SCHEMA analytics FROM PUBLIC;

-- One row per attempt: setting, location, source, status, whether a patient was set, its
-- times, the first time it reached each step, and its whole history as a JSON array
-- [{step, at}] in recorded order.
CREATE VIEW analytics.attempts_with_steps AS
SELECT a.id                        AS attempt_id,
       a.account_id,
       a.setting_id,
       a.location_id,
       a.source,
       a.status,
       (a.patient_id IS NOT NULL)  AS has_patient,
       a.created_at,
       a.updated_at,
       f.started_at,
       f.availability_viewed_at,
       f.slot_selected_at,
       f.code_sent_at,
       f.verified_at,
       f.patient_set_at,
       f.booked_at,
       f.abandoned_at,
       coalesce((SELECT jsonb_agg(jsonb_build_object('step', s.step, 'at', s.at) ORDER BY s.id)
                 FROM attempt_steps s WHERE s.attempt_id = a.id), '[]'::jsonb) AS steps
FROM self_scheduling_attempts a
LEFT JOIN attempt_funnel f ON f.attempt_id = a.id;

-- Per account, local day of creation (in the account's zone), setting and location: attempts,
-- how many reached each step, and the median / p90 seconds from start to booking. Counts add
-- up across rows; percentiles do not (cut attempts_with_steps for other groupings).
CREATE VIEW analytics.funnel_daily AS
SELECT f.account_id,
       (f.created_at AT TIME ZONE acc.time_zone)::date AS day,
       acc.time_zone,
       f.setting_id,
       f.location_id,
       count(*)                          AS attempts,
       count(f.started_at)               AS started,
       count(f.availability_viewed_at)   AS availability_viewed,
       count(f.slot_selected_at)         AS slot_selected,
       count(f.code_sent_at)             AS code_sent,
       count(f.verified_at)              AS verified,
       count(f.patient_set_at)           AS patient_set,
       count(f.booked_at)                AS booked,
       count(f.abandoned_at)             AS abandoned,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY f.booking_from_started)
           AS median_seconds_to_booking,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY f.booking_from_started)
           AS p90_seconds_to_booking
FROM attempt_funnel f
JOIN accounts acc ON acc.id = f.account_id
GROUP BY f.account_id, 2, acc.time_zone, f.setting_id, f.location_id;

-- The BI role: NOLOGIN (give it to a login role: GRANT slotproof_analytics TO bi_reader).
-- Roles are cluster-wide while grants are per database, and several databases may migrate at
-- once: create it only when missing, tolerate a concurrent creator, grant in every database.
-- A migrating role without CREATEROLE skips the role with a notice (a DBA then creates it and
-- runs the two GRANT statements below). The views run with their owner's rights, so the role
-- needs no grant on any table.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'slotproof_analytics') THEN
        BEGIN
            CREATE ROLE slotproof_analytics NOLOGIN;
        EXCEPTION
            WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created by a concurrent migration of another database
            WHEN insufficient_privilege THEN
                RAISE NOTICE 'no CREATEROLE: create role slotproof_analytics and grant it by hand';
        END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'slotproof_analytics') THEN
        GRANT USAGE ON SCHEMA analytics TO slotproof_analytics;
        GRANT SELECT ON analytics.attempts_with_steps, analytics.funnel_daily
            TO slotproof_analytics;
    END IF;
END
$$;
