-- Chat threads of the agent (/api/v1/chat and /chatkit share them), always scoped by their owner.
CREATE TABLE chat_threads (
    id         uuid PRIMARY KEY,
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      text NOT NULL DEFAULT '' CHECK (length(title) <= 200),
    -- ChatKit thread metadata (status, metadata, ...) as the ChatKit store saved it
    meta       jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, user_id)
);
-- The thread list: newest activity first, keyset pagination on (updated_at, id).
CREATE INDEX chat_threads_by_user ON chat_threads (user_id, updated_at DESC, id DESC);

-- Items of a thread, in insertion order:
--   kind 'session': the agent's conversation memory (Responses input items), the local Session;
--   kind 'chatkit': ChatKit thread items (what the ChatKit UI shows), addressed by item_id.
CREATE TABLE chat_items (
    id         bigserial PRIMARY KEY,
    thread_id  uuid NOT NULL,
    user_id    uuid NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('session', 'chatkit')),
    item_id    text CHECK (item_id IS NULL OR length(item_id) <= 200),
    data       jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- an item belongs to a thread of the same user: no row can join two users' data
    FOREIGN KEY (thread_id, user_id) REFERENCES chat_threads (id, user_id) ON DELETE CASCADE
);
CREATE INDEX chat_items_by_thread ON chat_items (thread_id, kind, id);
CREATE UNIQUE INDEX chat_items_item_uq ON chat_items (thread_id, kind, item_id) WHERE item_id IS NOT NULL;
