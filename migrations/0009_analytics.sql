-- Funnel analytics: indexes for the analytics API, the `analytics` schema of views for BI tools,
-- and the read-only role `slotproof_analytics` that may read those views and nothing else.
-- The views carry ids, statuses and times only: no names, contacts, dates of birth, and not
-- even patient or appointment ids.

-- GET …/self-scheduling/attempt pages through an account's attempts in id order
CREATE INDEX attempts_account_id_idx ON self_scheduling_attempts (account_id, id);
-- the funnel: an account's attempts created in a range, read from the index alone
CREATE INDEX attempts_funnel_idx ON self_scheduling_attempts (account_id, created_at)
    INCLUDE (id, setting_id, location_id);
-- ... and their steps, also from the index alone
CREATE INDEX attempt_steps_funnel_idx ON attempt_steps (attempt_id) INCLUDE (step, at);

CREATE SCHEMA analytics;
REVOKE ALL ON SCHEMA analytics FROM PUBLIC;

-- One row per attempt: its setting, location, source, status, times, the first time it reached
-- each step, and its whole history as a JSON array [{step, at}] in recorded order.
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
       coalesce(f.steps, '[]'::jsonb) AS steps
FROM self_scheduling_attempts a
LEFT JOIN LATERAL (
    SELECT min(s.at) FILTER (WHERE s.step = 'STARTED')             AS started_at,
           min(s.at) FILTER (WHERE s.step = 'AVAILABILITY_VIEWED') AS availability_viewed_at,
           min(s.at) FILTER (WHERE s.step = 'SLOT_SELECTED')       AS slot_selected_at,
           min(s.at) FILTER (WHERE s.step = 'CODE_SENT')           AS code_sent_at,
           min(s.at) FILTER (WHERE s.step = 'VERIFIED')            AS verified_at,
           min(s.at) FILTER (WHERE s.step = 'PATIENT_SET')         AS patient_set_at,
           min(s.at) FILTER (WHERE s.step = 'BOOKED')              AS booked_at,
           min(s.at) FILTER (WHERE s.step = 'ABANDONED')           AS abandoned_at,
           jsonb_agg(jsonb_build_object('step', s.step, 'at', s.at) ORDER BY s.id) AS steps
    FROM attempt_steps s
    WHERE s.attempt_id = a.id
) f ON true;

-- Per account, local day of creation (the account's zone), setting and location: how many
-- attempts reached each step, and the median / p90 seconds from start to booking. Counts add
-- up across rows; percentiles do not (use attempts_with_steps for other cuts).
CREATE VIEW analytics.funnel_daily AS
SELECT w.account_id,
       (w.created_at AT TIME ZONE acc.time_zone)::date AS day,
       acc.time_zone,
       w.setting_id,
       w.location_id,
       count(*)                          AS attempts,
       count(w.started_at)               AS started,
       count(w.availability_viewed_at)   AS availability_viewed,
       count(w.slot_selected_at)         AS slot_selected,
       count(w.code_sent_at)             AS code_sent,
       count(w.verified_at)              AS verified,
       count(w.patient_set_at)           AS patient_set,
       count(w.booked_at)                AS booked,
       count(w.abandoned_at)             AS abandoned,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM w.booked_at - w.started_at))
           AS median_seconds_to_booking,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM w.booked_at - w.started_at))
           AS p90_seconds_to_booking
FROM analytics.attempts_with_steps w
JOIN accounts acc ON acc.id = w.account_id
GROUP BY w.account_id, 2, acc.time_zone, w.setting_id, w.location_id;

-- The BI role: NOLOGIN (grant it to a login role: GRANT slotproof_analytics TO bi_reader).
-- Roles are cluster-wide while grants are per database, and several databases may migrate at
-- once: create it only when missing, tolerate a concurrent creator, and grant in every database.
-- A migrating role without CREATEROLE skips the role with a notice (create it as a DBA, then
-- run the two GRANT statements below).
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
