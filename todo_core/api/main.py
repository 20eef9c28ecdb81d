"""Builds the task API (FastAPI). Served by the HTTP function and, in embedded mode, by the gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse

from todo_core.api import errors
from todo_core.api.routes import auth, notifications, parse, tasks
from todo_core.api.runtime import Runtime, open_runtime
from todo_core.observability import install_request_metrics, instrument_app, setup_telemetry
from todo_core.settings import Settings, get_settings

API_PREFIX = "/api/v1"

# Something that runs beside the API for the app's lifetime (realtime hub, relay, scheduler, ...):
# entered in order after the runtime is open, left in reverse order before it closes.
Component = Callable[[FastAPI, Runtime], AbstractAsyncContextManager[object]]


def api_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)
    router.include_router(auth.router)
    router.include_router(tasks.router)
    router.include_router(notifications.router)
    router.include_router(parse.router)
    return router


def add_health(app: FastAPI) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> PlainTextResponse:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        runtime = getattr(app.state, "runtime", None)
        if runtime is None:
            return JSONResponse({"ready": False}, status_code=503)
        try:
            async with runtime.pool.connection(timeout=2) as conn:
                await conn.execute("SELECT 1")
        except Exception:
            return JSONResponse({"ready": False, "database": "unreachable"}, status_code=503)
        return JSONResponse({"ready": True})


def create_api(
    settings: Settings | None = None,
    *,
    include_task_api: bool = True,
    title: str = "Todo Cloud task API",
    components: Sequence[Component] = (),
) -> FastAPI:
    """An app with the runtime in its lifespan (pool, services), health probes and, by default, the task API."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        setup_telemetry(settings)  # before the pool and clients exist, so they are traced (off by default)
        async with (
            open_runtime(settings, run_migrations=settings.migrate_on_start) as runtime,
            AsyncExitStack() as stack,
        ):
            app.state.runtime = runtime
            for component in components:
                await stack.enter_async_context(component(app, runtime))
            yield

    app = FastAPI(title=title, version="1.0.0", lifespan=lifespan)
    errors.install(app)
    install_request_metrics(app)
    instrument_app(app, settings)
    if include_task_api:
        app.include_router(api_router())
    add_health(app)
    return app
