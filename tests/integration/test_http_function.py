"""The task API as the HTTP-triggered function: function_app's own metadata, driven with func.HttpRequest."""

from __future__ import annotations

import importlib
import json
import sys
import uuid
from pathlib import Path

import azure.functions as func
import pytest

pytestmark = [pytest.mark.anyio, pytest.mark.integration]


@pytest.fixture
def function_app(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("DATABASE_URL", pg_url)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JWT_SECRET", "function-test-" + "z" * 40)
    monkeypatch.setenv("MIGRATE_ON_START", "false")
    from todo_core.settings import get_settings

    get_settings.cache_clear()
    for name in ("function_app", "functions.http_api"):
        sys.modules.pop(name, None)
    module = importlib.import_module("function_app")
    yield module.app
    get_settings.cache_clear()


def _request(method: str, path: str, body: object | None = None, token: str | None = None) -> func.HttpRequest:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return func.HttpRequest(
        method=method,
        url=f"http://localhost{path}",
        headers=headers,
        body=json.dumps(body).encode() if body is not None else b"",
    )


async def test_task_api_runs_as_an_http_function(function_app: object) -> None:
    functions = {f.get_function_name(): f for f in function_app.get_functions()}  # type: ignore[attr-defined]
    http = functions["http_api"]
    trigger = http.get_trigger().get_dict_repr()
    assert trigger["type"] == "httpTrigger" and trigger["route"] == "{*route}"
    handler = http.get_user_function()

    email = f"fn-{uuid.uuid4().hex[:8]}@example.com"
    r = await handler(_request("POST", "/api/v1/auth/register", {"email": email, "password": "a long password"}), None)
    assert r.status_code == 201, r.get_body()
    token = json.loads(r.get_body())["access_token"]
    r = await handler(_request("POST", "/api/v1/tasks", {"title": "from a function", "tags": ["fn"]}, token), None)
    assert r.status_code == 201, r.get_body()
    task = json.loads(r.get_body())
    r = await handler(_request("GET", f"/api/v1/tasks/{task['id']}", None, token), None)
    assert r.status_code == 200 and json.loads(r.get_body())["title"] == "from a function"
    r = await handler(_request("GET", f"/api/v1/tasks/{task['id']}"), None)
    assert r.status_code == 401 and json.loads(r.get_body())["error"]["code"] == "unauthorized"
