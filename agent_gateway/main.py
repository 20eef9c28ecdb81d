"""The agent gateway app. In embedded mode it also serves the task API, so one URL serves everything.

Beside the API it runs, for the app's lifetime, background components (each an async context
manager factory taking the app and the runtime): realtime hub, outbox relay, reminder scheduler,
local functions host, chat runtime (``/api/v1/chat``, ``/chatkit``),
MCP server (``/mcp``, bearer-authenticated; see ``agent_gateway.mcp_server``).

When the web UI was built (``make ui`` -> ``ui/out``, a Next.js static export), the app also serves it
at ``/`` (see :func:`mount_ui`), so the run command shows the whole product at one URL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from agent_gateway import chat, chatkit_server, mcp_server, realtime
from todo_core.api.main import API_PREFIX, Component, create_api
from todo_core.settings import Settings, get_settings

#: Where ``make ui`` puts the static export of the web UI.
UI_DIR: Final = Path(__file__).resolve().parent.parent / "ui" / "out"
#: Paths the UI never answers: a miss there stays the API's 404, never the app's HTML.
RESERVED_PREFIXES: Final = (
    "/api/",
    "/mcp",
    "/chatkit",
    "/job/",
    "/dapr/",
    "/internal/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/docs",
    "/redoc",
)
RESERVED_PATHS: Final = frozenset({"/api", "/job", "/openapi.json"})


def _reserved(path: str) -> bool:
    return path in RESERVED_PATHS or path.startswith(RESERVED_PREFIXES)


class SpaStaticFiles(StaticFiles):
    """The UI's static export; any other page path gets ``index.html`` (the app routes on the client).

    Hashed assets (``/_next/static``) are cached for a year; HTML and the service worker are revalidated
    on every load, so a new build is picked up at once.
    """

    async def get_response(self, path: str, scope: Scope) -> Response:
        request_path: str = scope["path"]
        try:
            response: Response | None = await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404:
                raise
            response = None
        if response is None or response.status_code == 404:
            # a missing page path (no file extension) is the client-side app; a missing asset stays a 404
            if "." in request_path.rsplit("/", 1)[-1]:
                if response is None:
                    raise HTTPException(status_code=404)
                return response
            response = FileResponse(Path(str(self.directory)) / "index.html", media_type="text/html")
        if request_path.startswith("/_next/static/"):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        else:
            response.headers.setdefault("Cache-Control", "no-cache")
        return response


def mount_ui(app: FastAPI, directory: Path | None = None) -> bool:
    """Serve the built UI, when it exists, for the GET requests no route matches at all.

    It is the router's fallback rather than a mount at ``/``: a path a route knows keeps its answers
    (405 for a wrong method included), and API, MCP, ChatKit, job, health, metrics and docs paths
    never get the app's HTML.
    """
    directory = directory or UI_DIR
    if not (directory / "index.html").is_file():
        return False
    static = SpaStaticFiles(directory=directory, html=True)
    not_found = app.router.default

    async def ui_or_not_found(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD") and not _reserved(scope["path"]):
            await static(scope, receive, send)
        else:
            await not_found(scope, receive, send)

    app.router.default = ui_or_not_found
    return True


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
    mount_ui(app)  # the UI answers only what no route does
    return app
