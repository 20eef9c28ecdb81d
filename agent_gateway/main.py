"""The agent gateway app. In embedded mode it also serves the task API, so one URL serves everything.

Beside the API it runs, for the app's lifetime, background components (each an async context
manager factory taking the app and the runtime): realtime hub, outbox relay, reminder scheduler,
local functions host.
"""

from __future__ import annotations

from fastapi import FastAPI

from todo_core.api.main import Component, create_api
from todo_core.settings import Settings, get_settings


def gateway_components(settings: Settings) -> list[Component]:
    components: list[Component] = []
    return components


def create_app(settings: Settings | None = None, *, serve_task_api: bool = True) -> FastAPI:
    settings = settings or get_settings()
    app = create_api(
        settings, include_task_api=serve_task_api, title="Todo Cloud", components=gateway_components(settings)
    )
    return app
