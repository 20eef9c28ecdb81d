"""Metrics and traces shared by the gateway and the task API (issue 6, "Observability").

- ``RequestMetricsMiddleware``: ``todo_http_request_duration_seconds{route, method, status}``, a
  Prometheus histogram labelled with the route *template* (``/api/v1/tasks/{task_id}``), never the
  raw path, so ids do not explode the series count. Paths no route matches share the label
  ``<unmatched>``. Server-sent event streams are measured to their response headers (time to first
  byte), not to the end of a stream that may stay open for an hour.
- ``observe_reminder_lateness``: ``todo_reminder_lateness_seconds``, fired_at - fire_at of every
  reminder the fire gate turns into an event (a Dapr job on time is ~0 s; the reconciler's catch-up
  after an outage shows as the tail).
- Azure Monitor through OpenTelemetry, off unless ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set
  (``OTEL_ENABLED=false`` turns it off anyway, ``OTEL_ENABLED=true`` insists on it). The optional
  ``azure-monitor-opentelemetry`` distro is imported only then, so it is not a dependency of the
  app: ``instrument_app`` (when the app is built) wraps FastAPI, ``setup_telemetry`` (in the
  lifespan, before the pool opens) starts the exporter and instruments psycopg and httpx when their
  instrumentation packages are installed. Propagation is W3C ``traceparent``/``baggage``.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from typing import Any

from prometheus_client import Histogram

from todo_core.settings import Settings

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNMATCHED = "<unmatched>"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUEST_DURATION = Histogram(
    "todo_http_request_duration_seconds",
    "HTTP request latency by route template, method and status (SSE streams: time to headers)",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
REMINDER_LATENESS = Histogram(
    "todo_reminder_lateness_seconds",
    "Seconds between a reminder's fire_at and the moment the fire gate fired it",
    buckets=(0.1, 0.5, 1.0, 2.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0),
)


def route_template(scope: Scope) -> str:
    """The template of the route that handled the request (mount prefixes included), or ``<unmatched>``."""
    # FastAPI >= 0.165 keeps a router included in a router as one nested route, and scope["route"] is
    # then the innermost route, whose path lacks the outer prefixes (POST /api/v1/tasks -> "/tasks");
    # the full template is on the effective route context FastAPI records in its own scope entry.
    context = (scope.get("fastapi") or {}).get("effective_route_context")
    path = getattr(context, "path_format", None)
    if not isinstance(path, str) or not path:
        path = getattr(scope.get("route"), "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    # inside a Mount, root_path grew by the mount's matched prefix (Starlette >= 0.35)
    root = scope.get("root_path", "")
    app_root = scope.get("app_root_path", root)
    mount = root[len(app_root) :] if root.startswith(app_root) else ""
    return (mount + path) or "/"


class RequestMetricsMiddleware:
    """Pure ASGI middleware (streams pass through untouched): one histogram sample per HTTP request."""

    def __init__(self, app: ASGIApp, histogram: Histogram = REQUEST_DURATION) -> None:
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception escaping the app becomes a 500 further out
        recorded = False

        def record() -> None:
            nonlocal recorded
            recorded = True
            method = scope.get("method", "GET")
            self.histogram.labels(
                route=route_template(scope),
                method=method if method in METHODS else "OTHER",
                status=str(status),
            ).observe(time.perf_counter() - started)

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if _is_event_stream(message.get("headers", ())):
                    record()
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            if not recorded:
                record()


def _is_event_stream(headers: Any) -> bool:
    for name, value in headers:
        if bytes(name).lower() == b"content-type":
            return bytes(value).lower().startswith(b"text/event-stream")
    return False


def install_request_metrics(app: Any) -> None:
    """Add the latency middleware to a FastAPI/Starlette app (before it starts)."""
    app.add_middleware(RequestMetricsMiddleware)


def observe_reminder_lateness(fire_at: datetime, fired_at: datetime) -> None:
    """Record how late a reminder fired (a Dapr job may call back a moment early: counted as 0)."""
    REMINDER_LATENESS.observe(max(0.0, (fired_at - fire_at).total_seconds()))


# -- Azure Monitor via OpenTelemetry ---------------------------------------------------------------

_telemetry_started = False


def telemetry_enabled(settings: Settings) -> bool:
    """OTEL_ENABLED when given, else: on exactly when an Application Insights connection string is set."""
    if settings.otel_enabled is not None:
        return settings.otel_enabled
    conn = settings.applicationinsights_connection_string
    return conn is not None and bool(conn.get_secret_value().strip())


def instrument_app(app: Any, settings: Settings) -> bool:
    """Wrap the app in OpenTelemetry's FastAPI middleware (no export starts here). False when off."""
    if not telemetry_enabled(settings):
        return False
    try:
        fastapi_instrumentation = importlib.import_module("opentelemetry.instrumentation.fastapi")
    except ImportError as exc:
        raise RuntimeError(_MISSING) from exc
    # the probes and the scrape endpoint would be most of the spans and tell nothing
    fastapi_instrumentation.FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")
    return True


def setup_telemetry(settings: Settings) -> bool:
    """Start the Azure Monitor exporter and the psycopg/httpx instrumentation once per process.

    Call it in the lifespan before connections and clients are created. False when telemetry is off.
    """
    global _telemetry_started
    if not telemetry_enabled(settings):
        return False
    if _telemetry_started:
        return True
    conn = settings.applicationinsights_connection_string
    connection_string = conn.get_secret_value().strip() if conn is not None else ""
    if not connection_string:
        raise RuntimeError("OTEL_ENABLED is true but APPLICATIONINSIGHTS_CONNECTION_STRING is not set")
    try:
        distro = importlib.import_module("azure.monitor.opentelemetry")
        from opentelemetry.baggage.propagation import W3CBaggagePropagator
        from opentelemetry.propagate import set_global_textmap
        from opentelemetry.propagators.composite import CompositePropagator
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
    except ImportError as exc:
        raise RuntimeError(_MISSING) from exc

    os.environ.setdefault("OTEL_SERVICE_NAME", settings.otel_service_name)
    distro.configure_azure_monitor(
        connection_string=connection_string,
        # FastAPI is instrumented per app by instrument_app; psycopg 3 and httpx below
        instrumentation_options={"fastapi": {"enabled": False}},
    )
    set_global_textmap(CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()]))
    for module, cls in (
        ("opentelemetry.instrumentation.psycopg", "PsycopgInstrumentor"),
        ("opentelemetry.instrumentation.httpx", "HTTPXClientInstrumentor"),
    ):
        try:
            instrumentor = getattr(importlib.import_module(module), cls)
        except ImportError:
            log.warning("tracing without %s (package not installed)", module)
            continue
        instrumentor().instrument()
    _telemetry_started = True
    log.info("Azure Monitor telemetry on", extra={"service": settings.otel_service_name})
    return True


_MISSING = (
    "Azure Monitor telemetry is switched on but its optional packages are missing: install "
    "azure-monitor-opentelemetry (plus opentelemetry-instrumentation-psycopg and "
    "opentelemetry-instrumentation-httpx for database and HTTP client spans)"
)
