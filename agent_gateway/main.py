"""The agent gateway app. In embedded mode it also serves the task API, so one URL serves everything."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from todo_core.api import errors
from todo_core.api.main import add_health, api_router
from todo_core.api.runtime import open_runtime
from todo_core.settings import Settings, get_settings


def create_app(settings: Settings | None = None, *, serve_task_api: bool = True) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings, run_migrations=settings.migrate_on_start) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(title="Todo Cloud", version="1.0.0", lifespan=lifespan)
    errors.install(app)
    if serve_task_api:
        app.include_router(api_router())
    add_health(app)
    return app
