"""The functions' Prometheus series, counted by the functions themselves (functions/_metrics.py):

- the standalone functions host (``python -m agent_gateway.functions_host``, as an event-function pod
  runs one function) serves them on ``FUNCTIONS_METRICS_PORT``: exact counts of the events it
  handled, a poison message as dead-lettered;
- the gateway's /metrics shows the same series from its in-process host, each series once (no second
  registration through the pipeline's collector), failed attempts and dead letters included.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.fix_api import free_port
from tests.fix_pipeline import Gateway, insert_outbox_event, start_functions_host, unparseable_audit_event, wait_until

ROOT = Path(__file__).resolve().parents[2]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    """Every sample of a /metrics page, keyed by name and labels; a series listed twice fails."""
    text = httpx.get(url, timeout=5).raise_for_status().text
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in out, f"series exposed twice: {key}"
            out[key] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def of(samples: Samples, name: str, function: str) -> dict[tuple[tuple[str, str], ...], float]:
    return {k[1]: v for k, v in samples.items() if k[0] == name and ("function", function) in k[1]}


def _count(gw: Gateway, sql: str) -> int:
    return int(gw.query(sql)[0][0])


def test_standalone_host_serves_exact_counts_and_the_dead_letter(start_gateway: Any, pipeline_mode: str) -> None:
    gw = start_gateway(pipeline_mode, functions_host_enabled=False)
    alice = gw.user()
    n = 25
    for i in range(n):
        alice.create(title=f"metered {i}")
    # a poison message: not a CloudEvents 1.0 event, dead-lettered at once (no retries)
    poison = {"id": str(uuid.uuid4()), "specversion": "0.3", "hello": "poison"}
    insert_outbox_event(gw, poison, alice.user_id)
    total = _count(gw, "SELECT count(*) FROM outbox WHERE topic = 'audit-append'")
    good = total - 1
    assert good >= n  # a task.created per create (and whatever registration audits)
    assert _count(gw, "SELECT count(*) FROM audit_log") == 0  # nobody consumed yet

    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    host = start_functions_host(gw, "audit_append", env={"FUNCTIONS_METRICS_PORT": str(port)})
    try:
        wait_until(lambda: _count(gw, "SELECT count(*) FROM audit_log") == good, timeout=90, what="the audit log")
        wait_until(
            lambda: _count(gw, "SELECT count(*) FROM outbox WHERE topic = 'audit-append.dlq'") == 1,
            what="the letter",
        )

        def counted() -> Samples | None:
            try:
                m = scrape(url)
            except httpx.TransportError:
                return None
            done = value(m, "todo_function_events_total", function="audit_append", outcome="appended") == good
            return m if done and value(m, "todo_function_dead_letters_total", function="audit_append") == 1 else None

        wait_until(counted, timeout=30, what="the host's metrics")
        time.sleep(1.0)  # nothing more may come
        m = scrape(url)
    finally:
        host.terminate()
        host.wait(15)
    assert host.returncode == 0

    assert of(m, "todo_function_events_total", "audit_append") == {
        (("function", "audit_append"), ("outcome", "appended")): good,
        (("function", "audit_append"), ("outcome", "dead-lettered")): 1,
    }
    assert value(m, "todo_function_dead_letters_total", function="audit_append") == 1
    # no attempt failed (the series exists at 0 from the start, so increase() sees a first failure)
    assert of(m, "todo_function_failures_total", "audit_append") == {(("function", "audit_append"),): 0}
    batches = value(m, "todo_function_batch_duration_seconds_count", function="audit_append")
    assert 1 <= batches <= total
    assert value(m, "todo_function_batch_duration_seconds_bucket", function="audit_append", le="+Inf") == batches
    # the host ran audit_append only: no other function's series
    functions = {dict(k[1]).get("function") for k in m if k[0].startswith("todo_function_")}
    assert functions == {"audit_append"}
    # the counts are the work done: every good event appended once, the poison one in the letter
    assert _count(gw, "SELECT count(*) FROM audit_log") == good
    (letter,) = gw.query("SELECT payload FROM outbox WHERE topic = 'audit-append.dlq'")[0]
    assert letter["data"]["event"] == poison


def test_gateway_metrics_show_each_function_series_once_with_failures_and_dead_letters(start_gateway: Any) -> None:
    gw = start_gateway("embedded", functions_retry_backoff_scale=0.01)
    url = f"{gw.url}/metrics"
    # the counters live in this (test) process, which earlier gateways may have used: count the difference
    before = scrape(url)
    alice = gw.user()
    tasks = [alice.create(title=f"gateway metered {i}") for i in range(3)]
    # handled before the failing event comes: its retries then replay nothing already appended
    good = _count(gw, "SELECT count(*) FROM outbox WHERE topic = 'audit-append'")
    wait_until(lambda: _count(gw, "SELECT count(*) FROM audit_log") == good, timeout=60, what="the audit log")
    # well-formed, but its time cannot be parsed: the handler fails on every attempt, then dead-letters
    bad = unparseable_audit_event(alice.user_id)
    insert_outbox_event(gw, bad, alice.user_id)
    wait_until(lambda: gw.query("SELECT 1 FROM outbox WHERE topic = 'audit-append.dlq'"), timeout=60, what="letter")

    def delta(m: Samples, name: str, **labels: str) -> float:
        return value(m, name, **labels) - value(before, name, **labels)

    def settled() -> Samples | None:
        m = scrape(url)
        ok = delta(m, "todo_function_events_total", function="audit_append", outcome="appended") == good
        return m if ok and delta(m, "todo_function_dead_letters_total", function="audit_append") == 1 else None

    wait_until(settled, timeout=30, what="the gateway's metrics")
    time.sleep(0.5)
    text = httpx.get(url, timeout=5).text
    m = scrape(url)  # fails on any series listed twice

    # one family each: the functions' counters, not a second copy from the pipeline's collector
    for family in ("todo_function_events_total", "todo_function_failures_total", "todo_reminders_fired_total"):
        assert text.count(f"# TYPE {family} counter") == 1, family
    lines = [ln for ln in text.splitlines() if ln.startswith("todo_function_events_total{")]
    assert len(lines) == len(set(lines))
    assert sum('function="audit_append"' in ln and 'outcome="appended"' in ln for ln in lines) == 1
    assert delta(m, "todo_function_events_total", function="audit_append", outcome="appended") == good
    assert delta(m, "todo_function_events_total", function="audit_append", outcome="dead-lettered") == 1
    assert delta(m, "todo_function_failures_total", function="audit_append") == 5  # the five declared retries
    assert delta(m, "todo_function_dead_letters_total", function="audit_append") == 1
    # the other functions of the in-process host count under their own label
    wait_until(
        lambda: (
            delta(scrape(url), "todo_function_events_total", function="task_events", outcome="no-reminders")
            >= len(tasks)
        ),
        what="task_events",
    )
    # the gateway never starts the worker's endpoint (FUNCTIONS_METRICS_PORT is not set for it)
    from functions import _metrics

    assert _metrics._server is None
