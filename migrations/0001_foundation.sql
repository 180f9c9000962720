-- slotproof foundation schema: accounts, practice configuration, patients, appointments,
-- partner clients and grants, audit log. Core PostgreSQL only (no extensions), so it runs on
-- the embedded server and on managed services without extension rights.

CREATE TABLE accounts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    time_zone   text NOT NULL DEFAULT 'UTC',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE locations (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    store_id      text,
    active        boolean NOT NULL DEFAULT true,
    time_zone     text NOT NULL,
    address_line1 text,
    address_line2 text,
    city          text,
    state         text,
    postal_code   text,
    country       text,
    phone         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX locations_account_idx ON locations (account_id, id);

CREATE TABLE practitioners (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id    bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    first_name    text NOT NULL,
    last_name     text NOT NULL,
    display_name  text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    credentials   text,
    npi           text CHECK (npi ~ '^[0-9]{10}$'),
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX practitioners_account_idx ON practitioners (account_id, id);

CREATE TABLE appointment_types (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id        bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    duration_minutes  integer NOT NULL CHECK (duration_minutes BETWEEN 5 AND 720),
    telehealth        boolean NOT NULL DEFAULT false,
    description       text,
    form_count        integer NOT NULL DEFAULT 0 CHECK (form_count >= 0),
    color             text,
    active            boolean NOT NULL DEFAULT true,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX appointment_types_account_idx ON appointment_types (account_id, id);

CREATE TABLE self_scheduling_settings (
    id                              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id                      bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name                            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    active                          boolean NOT NULL DEFAULT true,
    verification_method             text CHECK (verification_method IN ('EMAIL', 'SMS', 'EMAIL_AND_SMS')),
    location_ids                    bigint[] NOT NULL DEFAULT '{}',
    location_selectable             boolean NOT NULL DEFAULT true,
    location_visible                boolean NOT NULL DEFAULT true,
    fixed_location_id               bigint REFERENCES locations(id),
    appointment_type_ids            bigint[] NOT NULL DEFAULT '{}',
    appointment_type_selectable     boolean NOT NULL DEFAULT true,
    appointment_type_visible        boolean NOT NULL DEFAULT true,
    fixed_appointment_type_id       bigint REFERENCES appointment_types(id),
    practitioner_ids                bigint[] NOT NULL DEFAULT '{}',
    are_practitioners_selectable    boolean NOT NULL DEFAULT true,
    forward_booking_limit           integer NOT NULL DEFAULT 60 CHECK (forward_booking_limit >= 0),
    forward_booking_limit_active    boolean NOT NULL DEFAULT true,
    forward_booking_limit_unit      text NOT NULL DEFAULT 'DAYS'
        CHECK (forward_booking_limit_unit IN ('HOURS', 'DAYS', 'WEEKS', 'MONTHS')),
    afterward_booking_limit         integer NOT NULL DEFAULT 0 CHECK (afterward_booking_limit >= 0),
    afterward_booking_limit_active  boolean NOT NULL DEFAULT false,
    afterward_booking_limit_unit    text NOT NULL DEFAULT 'HOURS'
        CHECK (afterward_booking_limit_unit IN ('HOURS', 'DAYS', 'WEEKS', 'MONTHS')),
    publishable_key                 text NOT NULL UNIQUE,
    allowed_origins                 text[] NOT NULL DEFAULT '{}',
    allowed_phone_countries         text[] NOT NULL DEFAULT '{US,CA}',
    theme                           jsonb NOT NULL DEFAULT '{}',
    created_at                      timestamptz NOT NULL DEFAULT now(),
    updated_at                      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX self_scheduling_settings_account_idx ON self_scheduling_settings (account_id, id);

-- Weekly rules and dated overrides are wall-clock times in the location's zone; blocks are
-- absolute instants. They are read whole with their config by the availability engine, and
-- validated by the API before they are written.
CREATE TABLE scheduler_configs (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id             bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    setting_id             bigint NOT NULL REFERENCES self_scheduling_settings(id) ON DELETE CASCADE,
    practitioner_id        bigint NOT NULL REFERENCES practitioners(id),
    location_id            bigint NOT NULL REFERENCES locations(id),
    appointment_type_ids   bigint[] NOT NULL DEFAULT '{}',
    slot_interval_minutes  integer NOT NULL CHECK (slot_interval_minutes BETWEEN 5 AND 240),
    buffer_before_minutes  integer NOT NULL DEFAULT 0 CHECK (buffer_before_minutes BETWEEN 0 AND 240),
    buffer_after_minutes   integer NOT NULL DEFAULT 0 CHECK (buffer_after_minutes BETWEEN 0 AND 240),
    max_per_day            integer CHECK (max_per_day > 0),
    rules                  jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(rules) = 'array'),
    overrides              jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(overrides) = 'array'),
    blocks                 jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(blocks) = 'array'),
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scheduler_configs_setting_idx ON scheduler_configs (setting_id, id);
CREATE INDEX scheduler_configs_practitioner_idx ON scheduler_configs (practitioner_id);

CREATE TABLE patients (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id     bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    first_name     text NOT NULL,
    last_name      text NOT NULL,
    date_of_birth  date NOT NULL,
    email          text,
    mobile_phone   text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX patients_match_idx ON patients (account_id, date_of_birth);

-- blocked_from/blocked_until = the appointment widened by its config's buffers. Overlapping
-- live appointments of one practitioner are impossible: the exclusion constraint is the last
-- word, whatever the application checked before. int8range(x, x, '[]') stands in for
-- btree_gist's equality so no extension is needed.
CREATE TABLE appointments (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id           bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    location_id          bigint NOT NULL REFERENCES locations(id),
    practitioner_id      bigint NOT NULL REFERENCES practitioners(id),
    patient_id           bigint NOT NULL REFERENCES patients(id),
    appointment_type_id  bigint NOT NULL REFERENCES appointment_types(id),
    scheduler_config_id  bigint REFERENCES scheduler_configs(id) ON DELETE SET NULL,
    start_at             timestamptz NOT NULL,
    end_at               timestamptz NOT NULL,
    blocked_from         timestamptz NOT NULL,
    blocked_until        timestamptz NOT NULL,
    status               text NOT NULL DEFAULT 'SCHEDULED' CHECK (status IN (
        'SCHEDULED', 'CANCELLED', 'NO_SHOW', 'CHECKED_IN', 'IN_TREATMENT', 'CHECKED_OUT',
        'CONFIRMED', 'RESCHEDULED', 'VOIDED')),
    telehealth           boolean NOT NULL DEFAULT false,
    form_count           integer NOT NULL DEFAULT 0,
    note                 text,
    generated_from_type  text CHECK (generated_from_type IN ('RULE', 'OVERRIDE')),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    CHECK (end_at > start_at),
    CHECK (blocked_from <= start_at AND blocked_until >= end_at),
    CONSTRAINT appointments_no_overlap EXCLUDE USING gist (
        int8range(practitioner_id, practitioner_id, '[]') WITH =,
        tstzrange(blocked_from, blocked_until, '[)') WITH &&
    ) WHERE (status NOT IN ('CANCELLED', 'RESCHEDULED', 'VOIDED'))
);
CREATE INDEX appointments_location_idx ON appointments (location_id, start_at);
CREATE INDEX appointments_patient_idx ON appointments (patient_id);

CREATE TABLE partner_clients (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    client_id    text NOT NULL UNIQUE,
    secret_hash  text NOT NULL,
    name         text NOT NULL,
    scopes       text[] NOT NULL,
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE partner_grants (
    client_pk   bigint NOT NULL REFERENCES partner_clients(id) ON DELETE CASCADE,
    account_id  bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (client_pk, account_id)
);

-- Who touched which record, never the values.
CREATE TABLE audit_log (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             timestamptz NOT NULL DEFAULT now(),
    actor          text NOT NULL,
    action         text NOT NULL,
    resource_type  text NOT NULL,
    resource_id    text,
    account_id     bigint,
    request_id     text,
    outcome        text NOT NULL
);
CREATE INDEX audit_log_account_idx ON audit_log (account_id, at);
