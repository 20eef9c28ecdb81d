"""`python -m agent_gateway`: the whole system on embedded defaults (the README's run command)."""

from __future__ import annotations

import logging
import os
import sys

import uvicorn

from todo_core.api.runtime import resolve_database_url
from todo_core.settings import get_settings


def main() -> int:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    embedded = not settings.database_url
    # start the database first (embedded unless DATABASE_URL), so a broken data folder fails here clearly;
    # worker processes inherit its URL and the development token secret through the environment
    os.environ["DATABASE_URL"] = resolve_database_url(settings)
    os.environ.setdefault("JWT_SECRET", settings.signing_secret())
    where = f"embedded PostgreSQL in {settings.data_dir.resolve()}" if embedded else "DATABASE_URL"
    sys.stdout.write(
        f"\nTodo Cloud is starting on http://{settings.host}:{settings.port}/  (database: {where})\n"
        f"  API docs: http://{settings.host}:{settings.port}/docs\n\n"
    )
    sys.stdout.flush()
    uvicorn.run(
        "agent_gateway.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level.lower(),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
