"""The web UI: the gateway serving its static export, and the UI itself in a real browser.

The browser suite (``ui/e2e/ui.test.mjs``, node's test runner) starts the system as the run command
does (``python -m agent_gateway`` on a temp DATA_DIR and a free port) and drives Debian's Chromium
with playwright-core. It needs Node.js, ``make ui`` (``ui/node_modules``, ``ui/out``) and
``/usr/bin/chromium`` (``ui/scripts/ensure-chromium.sh``); without them it is skipped with the reason.
Screenshots of the main screens land in ``ui/artifacts/e2e/`` (ignored by git).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from agent_gateway import main as gateway
from tests.fix_api import make_settings

pytestmark = [pytest.mark.e2e]

UI = Path(__file__).resolve().parents[2] / "ui"
CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
INDEX = "<!doctype html><title>Todo Cloud</title><div id=app></div>"


# -- the gateway serves the static export -------------------------------------------------------------


@pytest.fixture
async def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    out = tmp_path / "out"
    (out / "_next" / "static" / "chunks").mkdir(parents=True)
    (out / "index.html").write_text(INDEX)
    (out / "404.html").write_text("<!doctype html><title>404</title>")
    (out / "sw.js").write_text("self.addEventListener('push', () => {});")
    (out / "_next" / "static" / "chunks" / "app-1a2b.js").write_text("console.log(1)")
    monkeypatch.setattr(gateway, "UI_DIR", out)
    app = gateway.create_app(make_settings("postgresql://unused", tmp_path / "data"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ui.test") as client:
        yield client


@pytest.mark.anyio
async def test_gateway_serves_the_ui_with_a_client_side_fallback(served: httpx.AsyncClient) -> None:
    root = await served.get("/")
    assert root.status_code == 200
    assert root.text == INDEX
    assert root.headers["cache-control"] == "no-cache"
    deep = await served.get("/?task=0123")
    assert deep.text == INDEX
    page = await served.get("/some/client/route")
    assert (page.status_code, page.text) == (200, INDEX)
    sw = await served.get("/sw.js")
    assert sw.status_code == 200
    assert "javascript" in sw.headers["content-type"]
    assert sw.headers["cache-control"] == "no-cache"  # a new service worker is picked up at once
    asset = await served.get("/_next/static/chunks/app-1a2b.js")
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert (await served.get("/_next/static/chunks/gone.js")).status_code == 404  # a missing asset is no page
    assert (await served.head("/")).status_code == 200


@pytest.mark.anyio
async def test_the_ui_shadows_no_route_of_the_api(served: httpx.AsyncClient) -> None:
    missing = await served.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert (await served.put("/api/v1/tasks/abc", json={})).status_code == 405  # the route's own answer
    assert (await served.get("/chatkit")).status_code == 405
    assert (await served.post("/some/client/route")).status_code in (404, 405)
    for path in ("/mcp", "/job/reminder-1", "/api", "/redoc/x"):
        r = await served.get(path)
        assert r.status_code >= 400, path
        assert not r.text.startswith("<!doctype html><title>Todo Cloud"), path
    assert (await served.get("/healthz")).text == "ok"
    assert (await served.get("/openapi.json")).json()["info"]["title"] == "Todo Cloud"
    assert "text/html" in (await served.get("/docs")).headers["content-type"]
    assert "Todo Cloud" not in (await served.get("/metrics")).text[:200]


@pytest.mark.anyio
async def test_without_a_build_the_gateway_serves_only_the_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gateway, "UI_DIR", tmp_path / "not-built")
    app = gateway.create_app(make_settings("postgresql://unused", tmp_path / "data"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ui.test") as client:
        r = await client.get("/")
        assert r.status_code == 404
        assert r.json()["error"]["code"] == "not_found"


# -- the UI in Chromium ---------------------------------------------------------------------------------


def _browser_suite_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed: the web UI and its browser tests are skipped (install Node.js >= 20.19)"
    if not (UI / "node_modules" / "playwright-core").is_dir():
        return "ui/node_modules is missing: run `make ui` (npm ci) first"
    if not (UI / "out" / "index.html").is_file():
        return "ui/out is missing: run `make ui` first"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing: run ui/scripts/ensure-chromium.sh (apt-get install -y chromium)"
    return None


@pytest.mark.timeout(900)
def test_ui_end_to_end_in_chromium() -> None:
    """Register, quick add, edit every field, search/filter/sort, a recurring completion, a reminder's
    notification, two tabs in sync, chat, undo, keyboard and phone width: each test in a browser
    context and an account of its own, with no console errors."""
    reason = _browser_suite_missing()
    if reason:
        pytest.skip(reason)
    result = subprocess.run(
        ["node", "--test", "--test-concurrency=1", "--test-reporter=spec", "e2e/"],
        cwd=UI,
        env={**os.environ, "PYTHON": sys.executable, "CHROMIUM_PATH": str(CHROMIUM), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=850,
        check=False,
    )
    sys.stdout.write(result.stdout)
    assert result.returncode == 0, f"browser suite failed:\n{result.stdout[-12000:]}\n{result.stderr[-4000:]}"
    passed = re.search(r"^\S pass (\d+)$", result.stdout, re.M)  # the spec reporter's summary line
    # every test is its own (context, account): one failing step fails one test, named with its step
    ran = int(passed.group(1)) if passed else 0
    assert ran >= 11, f"the browser suite ran {ran} tests, not the 11 or more it has:\n{result.stdout[-4000:]}"
