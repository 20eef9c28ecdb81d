"""todo_core.observability: the latency histogram labels requests by route template (never the raw
path), SSE streams are timed to their headers, reminder lateness is recorded, and Azure Monitor
telemetry stays off by default without importing anything heavy."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import types
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import StreamingResponse
from prometheus_client import REGISTRY, CollectorRegistry, Histogram
from pydantic import SecretStr

from todo_core import observability as obs
from todo_core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
METRIC = "todo_http_request_duration_seconds"


def count(route: str, method: str = "GET", status: str = "200", registry: CollectorRegistry = REGISTRY) -> float:
    value = registry.get_sample_value(f"{METRIC}_count", {"route": route, "method": method, "status": status})
    return value or 0.0


def series_routes(registry: CollectorRegistry) -> set[str]:
    return {s.labels["route"] for m in registry.collect() if m.name == METRIC for s in m.samples if "route" in s.labels}


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def app(registry: CollectorRegistry) -> FastAPI:
    app = FastAPI()
    hist = Histogram(METRIC, "test", ["route", "method", "status"], registry=registry)
    app.add_middleware(obs.RequestMetricsMiddleware, histogram=hist)

    @app.get("/items/{item_id}")
    async def item(item_id: int) -> dict[str, int]:
        return {"id": item_id}

    @app.post("/boom")
    async def boom() -> None:
        raise RuntimeError("handler failed")

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def events() -> AsyncIterator[str]:
            yield "data: first\n\n"
            await asyncio.sleep(1.0)
            yield "data: second\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    sub = FastAPI()

    @sub.get("/things/{name}")
    async def thing(name: str) -> dict[str, str]:
        return {"name": name}

    app.mount("/sub", sub)
    router = APIRouter(prefix="/api/v1")

    @router.delete("/tasks/{task_id}", status_code=204)
    async def delete(task_id: str) -> None:
        return None

    # the API's own shape: resource routers included in the /api/v1 router, which the app includes
    tasks = APIRouter(prefix="/tasks")

    @tasks.post("/{task_id}/complete")
    async def complete(task_id: str) -> dict[str, str]:
        return {"id": task_id}

    router.include_router(tasks)
    app.include_router(router)
    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


@pytest.mark.anyio
async def test_one_sample_per_request_labelled_by_route_template(app: FastAPI, registry: CollectorRegistry) -> None:
    async with client(app) as c:
        assert (await c.get("/items/41")).status_code == 200
        assert (await c.get("/items/42")).status_code == 200
        assert (await c.get("/items/not-a-number")).status_code == 422
        assert (await c.delete("/api/v1/tasks/0b5c")).status_code == 204
        assert (await c.post("/api/v1/tasks/0b5c/complete")).status_code == 200
        assert (await c.get("/sub/things/lamp")).status_code == 200
        assert (await c.get("/nowhere/7")).status_code == 404
        assert (await c.post("/boom")).status_code == 500
        assert (await c.post("/items/1")).status_code == 405

    assert count("/items/{item_id}", registry=registry) == 2
    assert count("/items/{item_id}", status="422", registry=registry) == 1
    assert count("/api/v1/tasks/{task_id}", "DELETE", "204", registry=registry) == 1
    assert count("/api/v1/tasks/{task_id}/complete", "POST", registry=registry) == 1  # nested routers: full prefix
    assert count("/sub/things/{name}", registry=registry) == 1
    assert count(obs.UNMATCHED, status="404", registry=registry) == 1
    assert count("/boom", "POST", "500", registry=registry) == 1
    assert count("/items/{item_id}", "POST", "405", registry=registry) == 1
    # no raw path (ids, names) ever becomes a label value
    assert series_routes(registry) == {
        "/items/{item_id}",
        "/api/v1/tasks/{task_id}",
        "/api/v1/tasks/{task_id}/complete",
        "/sub/things/{name}",
        obs.UNMATCHED,
        "/boom",
    }


@pytest.mark.anyio
async def test_event_streams_are_timed_to_their_headers(app: FastAPI, registry: CollectorRegistry) -> None:
    async with client(app) as c:
        r = await c.get("/stream")
        assert r.text.count("data:") == 2  # the whole stream (>= 1 s) was read
    total = registry.get_sample_value(f"{METRIC}_sum", {"route": "/stream", "method": "GET", "status": "200"})
    assert count("/stream", registry=registry) == 1
    assert total is not None and total < 0.5


@pytest.mark.anyio
async def test_create_api_installs_the_middleware_on_the_default_registry() -> None:
    from todo_core.api.main import create_api

    app = create_api(Settings(), include_task_api=False)
    before = count("/healthz")
    async with client(app) as c:
        assert (await c.get("/healthz")).status_code == 200
        metrics = (await c.get("/metrics")).text
    assert count("/healthz") == before + 1
    assert 'todo_http_request_duration_seconds_count{method="GET",route="/healthz",status="200"}' in metrics


def test_reminder_lateness_is_observed_and_early_callbacks_count_as_zero() -> None:
    name = "todo_reminder_lateness_seconds"
    before_n = REGISTRY.get_sample_value(f"{name}_count") or 0.0
    before_sum = REGISTRY.get_sample_value(f"{name}_sum") or 0.0
    fire_at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    obs.observe_reminder_lateness(fire_at, fire_at + timedelta(seconds=90))
    obs.observe_reminder_lateness(fire_at, fire_at - timedelta(milliseconds=300))  # Dapr job a moment early
    assert REGISTRY.get_sample_value(f"{name}_count") == before_n + 2
    assert REGISTRY.get_sample_value(f"{name}_sum") == pytest.approx(before_sum + 90.0)


# -- Azure Monitor / OpenTelemetry ----------------------------------------------------------------


def test_telemetry_switch() -> None:
    conn = SecretStr("InstrumentationKey=00000000-0000-0000-0000-000000000000")
    assert not obs.telemetry_enabled(Settings())
    assert obs.telemetry_enabled(Settings(applicationinsights_connection_string=conn))
    assert not obs.telemetry_enabled(Settings(applicationinsights_connection_string=conn, otel_enabled=False))
    assert not obs.telemetry_enabled(Settings(applicationinsights_connection_string=SecretStr("  ")))
    assert obs.telemetry_enabled(Settings(otel_enabled=True))


def test_off_by_default_and_imports_nothing_heavy() -> None:
    """A fresh interpreter builds both apps and runs the telemetry setup: no exporter, SDK or
    instrumentation module gets imported, and nothing is switched on."""
    code = """
import json, sys
from todo_core.settings import Settings
from todo_core.api.main import create_api
from todo_core import observability as obs
settings = Settings()
create_api(settings)
started = obs.setup_telemetry(settings)
heavy = sorted(m for m in sys.modules if m.startswith(("azure.monitor", "opentelemetry.sdk",
    "opentelemetry.instrumentation", "opentelemetry.exporter")))
print(json.dumps({"started": started, "heavy": heavy}))
"""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "ENVIRONMENT": "development"}
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"started": False, "heavy": []}


@pytest.fixture
def fake_distro(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Stand-ins for the optional packages (not installed here): they record how they are called."""
    pytest.importorskip("opentelemetry.propagate")
    calls: dict[str, Any] = {"configure": [], "instrument_app": []}

    distro = types.ModuleType("azure.monitor.opentelemetry")
    distro.configure_azure_monitor = lambda **kw: calls["configure"].append(kw)  # type: ignore[attr-defined]
    fastapi_inst = types.ModuleType("opentelemetry.instrumentation.fastapi")

    class FastAPIInstrumentor:
        @staticmethod
        def instrument_app(app: Any, **kw: Any) -> None:
            calls["instrument_app"].append((app, kw))

    fastapi_inst.FastAPIInstrumentor = FastAPIInstrumentor  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "azure.monitor.opentelemetry", distro)
    monkeypatch.setitem(sys.modules, "opentelemetry.instrumentation.fastapi", fastapi_inst)
    monkeypatch.setattr(obs, "_telemetry_started", False)
    monkeypatch.setenv("OTEL_SERVICE_NAME", "todo-gateway-test")
    from opentelemetry import propagate

    original = propagate.get_global_textmap()
    yield calls
    propagate.set_global_textmap(original)


def test_switched_on_it_configures_azure_monitor_with_w3c_propagation(fake_distro: dict[str, Any]) -> None:
    from opentelemetry import propagate

    from todo_core.api.main import create_api

    conn = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=https://example.invalid/"
    settings = Settings(applicationinsights_connection_string=SecretStr(conn))
    app = create_api(settings, include_task_api=False)
    assert [a for a, _ in fake_distro["instrument_app"]] == [app]
    assert "healthz" in fake_distro["instrument_app"][0][1]["excluded_urls"]

    assert obs.setup_telemetry(settings) is True
    assert obs.setup_telemetry(settings) is True  # once per process
    assert len(fake_distro["configure"]) == 1
    assert fake_distro["configure"][0]["connection_string"] == conn
    assert {"traceparent", "baggage"} <= set(propagate.get_global_textmap().fields)


def test_forced_on_without_a_connection_string_is_an_error(fake_distro: dict[str, Any]) -> None:
    with pytest.raises(RuntimeError, match="APPLICATIONINSIGHTS_CONNECTION_STRING"):
        obs.setup_telemetry(Settings(otel_enabled=True))


def test_switched_on_without_the_packages_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azure.monitor.opentelemetry", None)  # import fails
    monkeypatch.setitem(sys.modules, "opentelemetry.instrumentation.fastapi", None)
    monkeypatch.setattr(obs, "_telemetry_started", False)
    settings = Settings(applicationinsights_connection_string=SecretStr("InstrumentationKey=x"))
    with pytest.raises(RuntimeError, match="azure-monitor-opentelemetry"):
        obs.setup_telemetry(settings)
    with pytest.raises(RuntimeError, match="azure-monitor-opentelemetry"):
        obs.instrument_app(FastAPI(), settings)
