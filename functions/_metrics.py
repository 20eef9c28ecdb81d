"""Prometheus metrics of the Kafka-triggered functions, counted where the work happens (``run_batch``
and ``dead_letter`` in ``functions/_events.py``), so the same series come from every process that runs
the functions: an event-function pod in the cluster, the standalone local host, or the gateway's
in-process host (which serves them on its own ``/metrics``).

Series (``function`` is the function name, e.g. ``audit_append``):

- ``todo_function_events_total{function, outcome}``: events of batches that went through, by the
  handler's outcome string (``appended``, ``duplicate``, ``created``, ``synced``, ...) or
  ``dead-lettered``. An event handled in an attempt that failed is counted once, with the outcome of
  the attempt that succeeded (a retried batch sees its already-applied events as ``duplicate``).
- ``todo_function_failures_total{function}``: failed batch attempts (the batch is retried).
- ``todo_function_dead_letters_total{function}``: events written to ``<topic>.dlq``.
- ``todo_function_batch_duration_seconds{function}``: duration of every batch attempt (histogram).

In the cluster the worker serves them over HTTP: ``FUNCTIONS_METRICS_PORT`` set makes
``start_metrics_server`` (called by ``function_app.py`` when the worker imports it) start
``prometheus_client``'s server on that port, once per process. The chart sets
``FUNCTIONS_WORKER_PROCESS_COUNT=1`` so that a single worker process holds all the counts of a pod
(the functions scale by replicas, not by worker processes); a second process could not bind the port
and would only log a warning. The gateway never sets the variable: it has its own ``/metrics``.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server

log = logging.getLogger("functions")

PORT_ENV = "FUNCTIONS_METRICS_PORT"
DEAD_LETTERED = "dead-lettered"

EVENTS = Counter(
    "todo_function_events",
    "Events of completed batches handled by a function, by outcome (the handler's, or dead-lettered)",
    ["function", "outcome"],
)
FAILURES = Counter(
    "todo_function_failures",
    "Failed batch attempts of a function (the batch is retried)",
    ["function"],
)
DEAD_LETTERS = Counter(
    "todo_function_dead_letters",
    "Events a function wrote to <topic>.dlq (malformed, or failing on the last retry)",
    ["function"],
)
BATCH_DURATION = Histogram(
    "todo_function_batch_duration_seconds",
    "Duration of a function's batch attempts (failed attempts included)",
    ["function"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)


HOST_FUNCTIONS_PREFIX = "AzureFunctionsJobHost__functions__"


def runs_here(function_name: str) -> bool:
    """Whether this process runs the function: the Functions host's own ``functions`` list
    (``AzureFunctionsJobHost__functions__<i>``, which the chart sets per Deployment) names it, or no
    list is set (every function runs)."""
    listed = {v for k, v in os.environ.items() if k.startswith(HOST_FUNCTIONS_PREFIX)}
    return not listed or function_name in listed


def function_registered(function_name: str) -> None:
    """Create a function's series at 0 when it registers: a counter child that appears only on its first
    increment makes ``increase()``/``rate()`` miss that first event (there is no earlier sample), so the
    first dead letter or failure of a pod would never show on the dashboard. Only for the functions this
    process runs, so a pod shows no series of the functions it never runs."""
    if not runs_here(function_name):
        return
    FAILURES.labels(function=function_name)
    DEAD_LETTERS.labels(function=function_name)
    EVENTS.labels(function=function_name, outcome=DEAD_LETTERED)
    BATCH_DURATION.labels(function=function_name)


def batch_done(function_name: str, outcomes: dict[str, int], seconds: float) -> None:
    """A batch went through: count its events by outcome."""
    for outcome, n in outcomes.items():
        EVENTS.labels(function=function_name, outcome=outcome).inc(n)
    BATCH_DURATION.labels(function=function_name).observe(seconds)


def batch_failed(function_name: str, seconds: float) -> None:
    """A batch attempt failed (the whole batch is retried)."""
    FAILURES.labels(function=function_name).inc()
    BATCH_DURATION.labels(function=function_name).observe(seconds)


def dead_lettered(function_name: str) -> None:
    DEAD_LETTERS.labels(function=function_name).inc()


# -- the worker's HTTP endpoint --------------------------------------------------------------------

_server_lock = threading.Lock()
_server: Any = None  # (server, thread) once started in this process


def start_metrics_server(
    environ: dict[str, str] | None = None, registry: CollectorRegistry = REGISTRY, addr: str = "0.0.0.0"
) -> bool:
    """Serve ``/metrics`` on ``FUNCTIONS_METRICS_PORT`` when it is set; at most once per process.

    Never raises: a bad value or a port that cannot be bound logs a warning and the worker goes on
    without the endpoint (a function that runs unobserved beats a worker that does not start).
    True when this process serves the endpoint (now or from an earlier call).
    """
    global _server
    raw = (os.environ if environ is None else environ).get(PORT_ENV, "").strip()
    if not raw:
        return False
    with _server_lock:
        if _server is not None:
            return True
        try:
            port = int(raw)
            if not 0 < port < 65536:
                raise ValueError(raw)
        except ValueError:
            log.warning("metrics endpoint off: %s is not a port number", PORT_ENV, extra={"value": raw})
            return False
        try:
            _server = start_http_server(port, addr=addr, registry=registry)
        except OSError as exc:
            log.warning(
                "metrics endpoint off: cannot listen on port %s", port, extra={"port": port, "error": repr(exc)}
            )
            return False
        log.info("metrics endpoint listening", extra={"port": port})
        return True


def stop_metrics_server() -> None:
    """Close the endpoint this process started (tests)."""
    global _server
    with _server_lock:
        if _server is not None:
            server, thread = _server
            server.shutdown()
            server.server_close()
            thread.join(5)
            _server = None
