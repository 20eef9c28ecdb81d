"""The task API as an HTTP-triggered function: the FastAPI app behind the ASGI middleware."""

from __future__ import annotations

import azure.functions as func

from todo_core.api.main import create_api

bp = func.Blueprint()
_asgi = func.AsgiMiddleware(create_api())
_started = False


@bp.function_name(name="http_api")
@bp.route(
    route="{*route}",
    auth_level=func.AuthLevel.ANONYMOUS,
    methods=["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS", "HEAD"],
)
async def http_api(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    global _started
    if not _started:  # run the app's lifespan (pool, services) once per worker
        if not await _asgi.notify_startup():
            raise RuntimeError("task API startup failed")
        _started = True
    response: func.HttpResponse = await _asgi.handle_async(req, context)
    return response
