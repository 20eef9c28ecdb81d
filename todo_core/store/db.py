"""Connection pool and the migration runner (plain SQL files applied in order, recorded)."""

from __future__ import annotations

import logging
from importlib import resources

import psycopg
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

MIGRATIONS_PACKAGE = "todo_core.store.migrations"
MIGRATION_LOCK = 0x70D0C10D  # advisory lock id: one migrator at a time


async def _configure(conn: psycopg.AsyncConnection[object]) -> None:
    # typo tolerance of keyword search: how close a word of the query must be to a title word
    await conn.execute("SET pg_trgm.word_similarity_threshold = 0.45")
    await conn.execute("SET TIME ZONE 'UTC'")
    await conn.commit()


def make_pool(conninfo: str, *, min_size: int = 1, max_size: int = 10) -> AsyncConnectionPool:
    """A pool that is not yet open: open it in the application's lifespan."""
    return AsyncConnectionPool(
        conninfo, min_size=min_size, max_size=max_size, open=False, configure=_configure, name="todo"
    )


def migration_files() -> list[tuple[str, str]]:
    files = sorted(
        (p.name, p.read_text()) for p in resources.files(MIGRATIONS_PACKAGE).iterdir() if p.name.endswith(".sql")
    )
    return files


def migrate(conninfo: str) -> list[str]:
    """Apply pending migrations; returns the names applied. Safe to run concurrently and repeatedly."""
    applied: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%(k)s)", {"k": MIGRATION_LOCK})
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations").fetchall()}
            for name, sql in migration_files():
                if name in done:
                    continue
                with conn.transaction():
                    conn.execute(sql.encode())
                    conn.execute("INSERT INTO schema_migrations (name) VALUES (%(n)s)", {"n": name})
                applied.append(name)
                log.info("migration applied", extra={"migration": name})
        finally:
            conn.execute("SELECT pg_advisory_unlock(%(k)s)", {"k": MIGRATION_LOCK})
    return applied
