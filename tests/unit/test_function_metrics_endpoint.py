"""The event functions' own /metrics endpoint (functions/_metrics.py): on only with FUNCTIONS_METRICS_PORT,
started once per process, and a port that cannot be bound never stops the worker."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from functions import _metrics

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(autouse=True)
def no_server_left() -> Iterator[None]:
    _metrics.stop_metrics_server()
    yield
    _metrics.stop_metrics_server()


def test_off_without_the_variable() -> None:
    assert _metrics.start_metrics_server({}) is False
    assert _metrics.start_metrics_server({"FUNCTIONS_METRICS_PORT": " "}) is False
    assert _metrics._server is None


@pytest.mark.parametrize("value", ["nine", "0", "70000"])
def test_a_bad_port_value_warns_and_goes_on(value: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="functions"):
        assert _metrics.start_metrics_server({"FUNCTIONS_METRICS_PORT": value}) is False
    assert "not a port number" in caplog.text
    assert _metrics._server is None


def test_serves_the_function_series_and_starts_once() -> None:
    port = free_port()
    env = {"FUNCTIONS_METRICS_PORT": str(port)}
    assert _metrics.start_metrics_server(env, addr="127.0.0.1") is True
    first = _metrics._server
    _metrics.EVENTS.labels(function="unit_probe", outcome="appended").inc(3)
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    assert 'todo_function_events_total{function="unit_probe",outcome="appended"} 3.0' in body
    for family in ("todo_function_failures_total", "todo_function_dead_letters_total"):
        assert f"# TYPE {family} counter" in body
    assert "# TYPE todo_function_batch_duration_seconds histogram" in body
    # a second call (a second import of function_app) keeps the one server: no second bind, no warning
    assert _metrics.start_metrics_server(env, addr="127.0.0.1") is True
    assert _metrics._server is first


def test_a_port_in_use_warns_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with caplog.at_level(logging.WARNING, logger="functions"):
            assert _metrics.start_metrics_server({"FUNCTIONS_METRICS_PORT": str(port)}, addr="127.0.0.1") is False
    assert "cannot listen on port" in caplog.text
    assert _metrics._server is None
    # a later call may still start it (e.g. the port was freed)
    port = free_port()
    assert _metrics.start_metrics_server({"FUNCTIONS_METRICS_PORT": str(port)}, addr="127.0.0.1") is True


def _import_app(code: str, port: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FUNCTIONS_METRICS_PORT": str(port)}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_function_app_import_starts_it_once_even_when_imported_twice() -> None:
    port = free_port()
    proc = _import_app(
        "import runpy, httpx\n"
        "import function_app\n"
        "runpy.run_path('function_app.py')  # the module body a second time, under another name\n"
        "from functions import _metrics\n"
        "print(_metrics._server is not None)\n"
        f"print(httpx.get('http://127.0.0.1:{port}/metrics', timeout=5).status_code)\n",
        port,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "200"]
    assert "cannot listen" not in proc.stderr  # the second run did not try to bind again


def test_function_app_imports_even_when_the_port_is_taken() -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _import_app("import function_app\nprint(len(function_app.app.get_functions()))\n", port)
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout.split()[-1]) == 5  # the worker indexed every function
    assert f"cannot listen on port {port}" in proc.stderr  # logging's last resort: the warning


def test_each_function_serves_its_failure_and_dead_letter_series_at_zero_before_the_first() -> None:
    """increase() needs a sample before the first dead letter, or the dashboard never counts it."""
    port = free_port()
    proc = _import_app(
        f"import httpx, function_app\nprint(httpx.get('http://127.0.0.1:{port}/metrics', timeout=5).text)\n", port
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("task_events", "recurrence_due", "reminder_fire", "audit_append"):
        assert f'todo_function_dead_letters_total{{function="{name}"}} 0.0' in proc.stdout, name
        assert f'todo_function_failures_total{{function="{name}"}} 0.0' in proc.stdout, name
        assert f'todo_function_events_total{{function="{name}",outcome="dead-lettered"}} 0.0' in proc.stdout, name
