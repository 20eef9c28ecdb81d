"""The agent gateway app. In embedded mode it also serves the task API, so one URL serves everything."""

from __future__ import annotations

from fastapi import FastAPI

from todo_core.api.main import create_api
from todo_core.settings import Settings


def create_app(settings: Settings | None = None, *, serve_task_api: bool = True) -> FastAPI:
    return create_api(settings, include_task_api=serve_task_api, title="Todo Cloud")
