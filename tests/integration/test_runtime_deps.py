"""The runtime dependencies are exactly ``requirements.txt``: what the images install, and nothing else.

Two bugs reached the images while the whole suite passed, because the suite's own virtualenv holds the
dev requirements too: ``httpx`` was only in ``requirements-dev.txt`` (the gateway died at import, and
every function invocation with ``DAPR_ENABLED=true``), and other packages came only as somebody else's
dependencies. Here:

- every third-party module the runtime code imports belongs to a distribution that
  ``requirements.txt`` names itself (so a change in another package's dependencies cannot break it);
- the gateway and the function app import and start from a virtualenv built from ``requirements.txt``
  alone (``scripts/runtime_env.py``, cached outside the repository): the gateway over real HTTP against
  the test Postgres (``/readyz``, register, create a task), the function app's five functions indexed,
  and the Dapr clients (``DAPR_ENABLED=true``) imported.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests._scripts import load_script
from tests.fix_api import free_port
from tests.fix_pipeline import stop_process, wait_until

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
RUNTIME_CODE = ("todo_core", "agent_gateway", "functions", "function_app.py")
# imported only when an optional feature is configured, never by default, and so not requirements:
# Azure Monitor's OpenTelemetry distro (todo_core/observability.py, only with a connection string)
OPTIONAL = {
    "opentelemetry": "azure-monitor-opentelemetry, imported only when APPLICATIONINSIGHTS_CONNECTION_STRING is set"
}

runtime_env = load_script("runtime_env.py", "todo_runtime_env")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _required() -> set[str]:
    names = set()
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(_normalise(re.split(r"[\s\[<>=!~;]", line, maxsplit=1)[0]))
    return names


def _imports() -> dict[str, list[str]]:
    """Top-level module -> the files importing it, over the runtime code (absolute imports)."""
    found: dict[str, list[str]] = {}
    for entry in RUNTIME_CODE:
        path = ROOT / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            for node in ast.walk(ast.parse(file.read_text(), str(file))):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    found.setdefault(name.split(".")[0], []).append(str(file.relative_to(ROOT)))
    return found


@pytest.fixture(scope="module")
def env() -> Any:
    try:
        built = runtime_env.ensure_env()
    except runtime_env.Unavailable as e:
        pytest.skip(f"no virtualenv from requirements.txt alone here: {e}")
    assert built is not None
    return built


def _run(env: Any, code: str, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    return subprocess.run(
        [str(env.python), "-c", code],
        cwd=ROOT,
        env={**environ, "PYTHONPATH": str(ROOT), **(extra or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_runtime_import_is_a_requirement_of_its_own(env: Any) -> None:
    local = {"todo_core", "agent_gateway", "functions", "function_app"}
    modules = {m: files for m, files in _imports().items() if m not in local and m not in sys.stdlib_module_names}
    probe = _run(env, "import importlib.metadata as m, json; print(json.dumps(m.packages_distributions()))")
    assert probe.returncode == 0, probe.stderr
    dists: dict[str, list[str]] = json.loads(probe.stdout)
    required = _required()
    missing = []
    for module, files in sorted(modules.items()):
        if module in OPTIONAL:
            continue
        owners = {_normalise(d) for d in dists.get(module, [])}
        if not owners:
            missing.append(f"{module} (imported by {files[0]}) is not installed by requirements.txt at all")
        elif not owners & required:
            missing.append(
                f"{module} (imported by {files[0]}) comes from {sorted(owners)}, not named in requirements.txt"
            )
    assert missing == [], "\n".join(missing)
    assert set(OPTIONAL) <= set(modules), "an optional import is gone: drop it from OPTIONAL"


def test_the_check_sees_a_dev_only_import(env: Any) -> None:
    """The detector itself: a dev-only package (pytest) and a transitive one are caught."""
    probe = _run(env, "import importlib.metadata as m, json; print(json.dumps(m.packages_distributions()))")
    dists = json.loads(probe.stdout)
    assert "pytest" not in dists, "the runtime env must not hold dev requirements"
    assert "anyio" in dists and "anyio" not in _required(), "anyio: installed only as a dependency of others"


def test_the_function_app_indexes_its_functions_from_requirements_alone(env: Any) -> None:
    code = (
        "import json, function_app\n"
        "fns = function_app.app.get_functions()\n"
        "print(json.dumps(sorted(f.get_function_name() for f in fns)))\n"
        "import todo_core.bus.dapr, todo_core.scheduling.dapr_jobs, todo_core.scheduling.remote\n"
    )
    proc = _run(env, code, {"DAPR_ENABLED": "true", "FUNCTIONS_METRICS_PORT": ""})
    assert proc.returncode == 0, proc.stderr[-4000:]
    names = json.loads(proc.stdout.strip().splitlines()[-1])
    assert names == ["audit_append", "http_api", "recurrence_due", "reminder_fire", "task_events"]


def test_the_gateway_starts_and_serves_from_requirements_alone(env: Any, fresh_pg_url: str, tmp_path: Path) -> None:
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    environ.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=fresh_pg_url,
        ENVIRONMENT="test",
        JWT_SECRET="runtime-deps-" + "y" * 40,
        DATA_DIR=str(tmp_path / "data"),
        HOST="127.0.0.1",
        PORT=str(port),
        LOG_LEVEL="WARNING",
        OPENAI_API_KEY="",
    )
    log = tmp_path / "gateway.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([str(env.python), "-m", "agent_gateway"], cwd=ROOT, env=environ, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            assert proc.poll() is None, f"the gateway exited ({proc.returncode}):\n{log.read_text()[-4000:]}"
            try:
                return httpx.get(f"{base}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, timeout=90, what="the gateway's /readyz")
        with httpx.Client(base_url=base, timeout=10) as c:
            r = c.post("/api/v1/auth/register", json={"email": "deps@example.com", "password": "a long passphrase"})
            assert r.status_code == 201, r.text
            c.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            t = c.post("/api/v1/tasks", json={"title": "from requirements.txt alone", "priority": "high"})
            assert t.status_code == 201, t.text
            assert [x["title"] for x in c.get("/api/v1/tasks").json()["items"]] == ["from requirements.txt alone"]
            assert c.get("/openapi.json").status_code == 200
    finally:
        stop_process(proc, timeout=30)
