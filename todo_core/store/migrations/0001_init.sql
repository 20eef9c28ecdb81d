-- Todo Cloud initial schema. Applied once, in order, recorded in schema_migrations.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

-- Immutable helpers for generated columns (casts of text literals are only STABLE).
CREATE FUNCTION todo_due_key(ts timestamptz, nulls_high boolean) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(ts, CASE WHEN nulls_high THEN 'infinity'::timestamptz ELSE '-infinity'::timestamptz END) $$;
CREATE FUNCTION todo_search_vector(title text, description text, tags text[]) RETURNS tsvector
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT setweight(to_tsvector('simple'::regconfig, title), 'A')
              || setweight(to_tsvector('simple'::regconfig, description), 'B')
              || setweight(to_tsvector('simple'::regconfig, array_to_string(tags, ' ')), 'C') $$;

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL,
    password_hash text NOT NULL,
    timezone      text NOT NULL DEFAULT 'UTC',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_uq ON users (lower(email));

-- priority is stored as a rank so that "sort=priority" is a plain ascending key:
-- 0 = high, 1 = medium, 2 = low, 3 = none.
CREATE TABLE tasks (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    description  text NOT NULL DEFAULT '' CHECK (length(description) <= 20000),
    status       text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    priority     smallint NOT NULL DEFAULT 3 CHECK (priority BETWEEN 0 AND 3),
    tags         text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 30),
    due_at       timestamptz,
    all_day      boolean NOT NULL DEFAULT false,
    timezone     text NOT NULL DEFAULT 'UTC',
    rrule        text,
    anchor       text CHECK (anchor IN ('schedule', 'completion')),
    series_id    uuid,
    occurrence   integer NOT NULL DEFAULT 1 CHECK (occurrence >= 1),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    version      integer NOT NULL DEFAULT 1,
    -- sort keys without NULLs, so that keyset pagination can use row comparisons
    due_key      timestamptz GENERATED ALWAYS AS (todo_due_key(due_at, true)) STORED,
    due_key_desc timestamptz GENERATED ALWAYS AS (todo_due_key(due_at, false)) STORED,
    title_key    text GENERATED ALWAYS AS (lower(title)) STORED,
    search       tsvector GENERATED ALWAYS AS (todo_search_vector(title, description, tags)) STORED,
    CHECK ((rrule IS NULL) = (anchor IS NULL)),
    CHECK (rrule IS NULL OR due_at IS NOT NULL)
);
-- One index per sort key, led by the owner and the status filter (the default list is open tasks).
CREATE INDEX tasks_by_due      ON tasks (user_id, status, due_key, id);
CREATE INDEX tasks_by_due_desc ON tasks (user_id, status, due_key_desc, id);  -- "-due": nulls stay last
CREATE INDEX tasks_by_priority ON tasks (user_id, status, priority, due_key, id);
CREATE INDEX tasks_by_title    ON tasks (user_id, status, title_key, id);
CREATE INDEX tasks_by_created  ON tasks (user_id, status, created_at, id);
CREATE INDEX tasks_by_updated  ON tasks (user_id, status, updated_at, id);
-- Filters: tags (any/all), keyword search (words and prefixes), typo-tolerant title match, recurring.
-- A small GIN pending list: searches scan it linearly, so the default 4 MB makes them slow after bursts of writes.
CREATE INDEX tasks_tags        ON tasks USING gin (user_id, tags) WITH (gin_pending_list_limit = 128);
CREATE INDEX tasks_search      ON tasks USING gin (user_id, search) WITH (gin_pending_list_limit = 128);
CREATE INDEX tasks_title_trgm  ON tasks USING gin (user_id, title gin_trgm_ops) WITH (gin_pending_list_limit = 128);
CREATE INDEX tasks_recurring   ON tasks (user_id, status, due_key, id) WHERE rrule IS NOT NULL;
-- Exactly one task per occurrence of a series: the next occurrence is created once.
CREATE UNIQUE INDEX tasks_series_occurrence ON tasks (series_id, occurrence) WHERE series_id IS NOT NULL;

-- Tags live on the task row (text[] with a GIN index, so any/all filters are one index scan);
-- this view is the per-user tag list.
CREATE VIEW tags AS
    SELECT t.user_id, tag AS name, count(*) AS task_count,
           count(*) FILTER (WHERE t.status = 'open') AS open_count
    FROM tasks t, unnest(t.tags) AS tag
    GROUP BY t.user_id, tag;

CREATE TABLE reminders (
    id             uuid PRIMARY KEY,
    task_id        uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    offset_minutes integer CHECK (offset_minutes BETWEEN 0 AND 525600),
    at             timestamptz,
    fire_at        timestamptz,
    status         text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'fired', 'delivered', 'cancelled')),
    late           boolean NOT NULL DEFAULT false,
    fired_at       timestamptz,
    delivered_at   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK ((offset_minutes IS NULL) <> (at IS NULL))
);
CREATE INDEX reminders_task ON reminders (task_id);
CREATE INDEX reminders_due ON reminders (fire_at) WHERE status = 'pending';

-- Transactional outbox: written in the same transaction as the state change.
-- tx_id lets the embedded dispatcher read only rows whose transactions are settled.
CREATE TABLE outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     uuid NOT NULL UNIQUE,
    topic        text NOT NULL,
    key          text NOT NULL,
    type         text NOT NULL,
    payload      jsonb NOT NULL,
    tx_id        xid8 NOT NULL DEFAULT pg_current_xact_id(),
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
CREATE INDEX outbox_topic ON outbox (topic, id);

-- Consumer offsets of the embedded event bus (per consumer group and topic).
CREATE TABLE consumer_offsets (
    consumer_group text NOT NULL,
    topic          text NOT NULL,
    position       bigint NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic)
);

-- Processed-event ledger: effects happen once per (consumer, event id).
CREATE TABLE processed_events (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

CREATE TABLE idempotency_keys (
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key          text NOT NULL,
    request_hash text NOT NULL,
    status_code  integer,
    response     jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

-- Append-only, hash-chained audit trail (filled by the audit_append function).
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    uuid NOT NULL UNIQUE,
    user_id     uuid NOT NULL,
    task_id     uuid,
    action      text NOT NULL,
    actor       text NOT NULL,
    channel     text NOT NULL,
    before      jsonb,
    after       jsonb,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    prev_hash   text NOT NULL,
    hash        text NOT NULL
);
CREATE INDEX audit_log_user ON audit_log (user_id, id);
CREATE INDEX audit_log_task ON audit_log (user_id, task_id, id);
