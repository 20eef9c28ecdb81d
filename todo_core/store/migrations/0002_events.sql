-- Event pipeline: inbox notifications, Web Push subscriptions, bus positions by (tx_id, id).

-- The embedded bus and the relay read outbox rows in (tx_id, id) order and only from settled
-- transactions (tx_id < pg_snapshot_xmin of the current snapshot): a row can never appear
-- behind a position that a consumer has already passed.
CREATE INDEX outbox_unpublished_tx ON outbox (tx_id, id) WHERE published_at IS NULL;
DROP INDEX outbox_unpublished;
CREATE INDEX outbox_topic_tx ON outbox (topic, tx_id, id);
DROP INDEX outbox_topic;

ALTER TABLE consumer_offsets ADD COLUMN position_tx xid8 NOT NULL DEFAULT '0'::xid8;

-- A reminder fires once per row: the scheduler flips pending -> fired and writes the outbox
-- event in one transaction; reminder_fire flips fired -> delivered with the inbox row.
CREATE INDEX reminders_fired ON reminders (fired_at) WHERE status = 'fired';

CREATE TABLE notifications (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    task_id      uuid,
    reminder_id  uuid UNIQUE,            -- one inbox row per reminder, whatever the redeliveries
    kind         text NOT NULL DEFAULT 'reminder',
    title        text NOT NULL,
    body         text NOT NULL DEFAULT '',
    data         jsonb NOT NULL DEFAULT '{}',
    late         boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    read_at      timestamptz,
    push_sent_at timestamptz
);
CREATE INDEX notifications_user ON notifications (user_id, created_at DESC, id DESC);
CREATE INDEX notifications_unread ON notifications (user_id, created_at DESC) WHERE read_at IS NULL;

CREATE TABLE push_subscriptions (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint    text NOT NULL UNIQUE,
    p256dh      text NOT NULL,
    auth        text NOT NULL,
    user_agent  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    last_ok_at  timestamptz
);
CREATE INDEX push_subscriptions_user ON push_subscriptions (user_id);
