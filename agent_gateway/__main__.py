"""`python -m agent_gateway`: the whole system on embedded defaults (the README's run command)."""

from __future__ import annotations

import logging
import sys

import uvicorn

from agent_gateway.main import create_app
from todo_core.api.runtime import resolve_database_url
from todo_core.settings import get_settings


def main() -> int:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # start the database first, so a broken data folder fails here with a clear message
    url = resolve_database_url(settings)
    settings = settings.model_copy(update={"database_url": url})
    app = create_app(settings)
    where = (
        "embedded PostgreSQL in " + str(settings.data_dir.resolve())
        if not get_settings().database_url
        else "DATABASE_URL"
    )
    sys.stdout.write(
        f"\nTodo Cloud is starting on http://{settings.host}:{settings.port}/  (database: {where})\n"
        f"  API docs: http://{settings.host}:{settings.port}/docs\n\n"
    )
    sys.stdout.flush()
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
