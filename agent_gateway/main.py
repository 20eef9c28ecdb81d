"""The agent gateway app. In embedded mode it also serves the task API, so one URL serves everything.

Beside the API it runs, for the app's lifetime, background components (each an async context
manager factory taking the app and the runtime): realtime hub, outbox relay, reminder scheduler,
local functions host, chat runtime (``/api/v1/chat``, ``/chatkit``),
MCP server (``/mcp``, bearer-authenticated; see ``agent_gateway.mcp_server``).
"""

from __future__ import annotations

from fastapi import FastAPI

from agent_gateway import chat, chatkit_server, mcp_server, realtime
from todo_core.api.main import API_PREFIX, Component, create_api
from todo_core.settings import Settings, get_settings


def gateway_components(settings: Settings) -> list[Component]:
    from agent_gateway.pipeline import pipeline_component

    components: list[Component] = [pipeline_component]
    if settings.dapr_enabled:
        from agent_gateway.jobs import dapr_scheduler_component

        components.append(dapr_scheduler_component)
    components.append(realtime.realtime_component)
    components.append(chat.chat_component)  # thread store and model client of /chat and /chatkit
    components.append(mcp_server.mcp_component)  # entered last, so it stops first
    return components


def create_app(settings: Settings | None = None, *, serve_task_api: bool = True) -> FastAPI:
    settings = settings or get_settings()
    app = create_api(
        settings, include_task_api=serve_task_api, title="Todo Cloud", components=gateway_components(settings)
    )
    app.include_router(realtime.router, prefix=API_PREFIX)
    app.include_router(chat.router, prefix=API_PREFIX)
    app.include_router(chatkit_server.router)
    mcp_server.mount_mcp(app)
    if settings.dapr_enabled:  # Dapr job callbacks and service invocation, cluster mode only
        from agent_gateway import jobs

        app.include_router(jobs.router)
    return app
