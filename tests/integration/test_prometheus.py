"""Monitoring for real: Debian's ``prometheus`` scrapes the running system during a short workload, and
every PromQL query of the Grafana dashboard returns data through Prometheus's HTTP API.

What runs (once for the module), on the session's Postgres and Kafka, as the chart deploys it:

- the gateway (``python -m agent_gateway``, kafka mode, ``FUNCTIONS_HOST_ENABLED=false`` as the chart's
  ConfigMap sets it): task API, outbox relay, reminder timer; scraped on ``/metrics`` (the ServiceMonitor);
- the functions host (``python -m agent_gateway.functions_host``) with the four event functions and
  ``FUNCTIONS_METRICS_PORT``: the event-function pods' worker endpoint (the PodMonitor);
- the consumer-group series of Strimzi's Kafka Exporter, filtered with the ``groupRegex`` and
  ``topicRegex`` of infra/kafka/kafka.yaml. The real exporter (``github.com/danielqsj/kafka_exporter``)
  cannot be built here: the Go module proxy answers 403 "not available" for that module at every
  version, and no Debian package ships it. A stand-in computes its series with the exporter's rules
  (scripts/prometheus_check.py, ``KafkaExporterStandIn``);
- Prometheus itself, scraping all three every second, with the labels the Prometheus operator adds
  (``namespace`` and the rest), so the dashboard's ``$namespace`` variable resolves as in the cluster.

The workload: two users register and create tasks in two phases (so the counters that appear on first use
are already in the TSDB when the second phase increments them), two weekly tasks are completed (two next
occurrences), a reminder fires, a malformed event is dead-lettered at once, and an event that fails every
attempt is retried. Then every query must return a finite sample within a bounded wait, and the values
must be those of the workload.

The KEDA and kube-state-metrics panels need a Kubernetes API server (the control-plane stage): here each is
checked to be valid PromQL and to select only series and labels that the exporter's own code defines (KEDA
at the version the suite pins, kube-state-metrics' Deployment store, read from their Go modules), and is
reported as skipped. There are no alerting or recording rules in the
chart or in infra/; the dashboard's expressions pass ``promtool check rules`` as recording rules.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests._scripts import load_script
from tests.fix_api import free_port, make_settings, register
from tests.fix_db import create_database
from tests.fix_kafka import start_groups_at_the_end
from tests.fix_pipeline import (
    Gateway,
    insert_outbox_event,
    process_env,
    start_functions_host,
    stop_process,
    unparseable_audit_event,
    wait_until,
)

pytestmark = pytest.mark.integration

pc = load_script("prometheus_check.py", "todo_cloud_prometheus_check")
ROOT = Path(__file__).resolve().parents[2]

NAMESPACE = "todo-cloud"  # the namespace label the operator puts on the app's targets
RELEASE = "todo-cloud"
# the task API's POST /api/v1/tasks; also matched without its prefix, which the gateway's labels lose today
# (test_route_labels_carry_the_api_prefix)
TASKS_ROUTE = 'route=~"(/api/v1)?/tasks"'
FUNCTIONS = ("task_events", "recurrence_due", "reminder_fire", "audit_append")  # consumer group = topic name
QUERY_TIMEOUT = 45.0  # seconds for every query to return data once the workload is done
# series produced by components this stage cannot run, and why
NOT_RUN_HERE = {
    "keda_": "the KEDA operator, which needs a Kubernetes API server holding the chart's ScaledObjects",
    "kube_": "kube-state-metrics, which needs a Kubernetes API server",
}


def _needs(metrics: set[str]) -> str | None:
    reasons = {why for m in metrics for prefix, why in NOT_RUN_HERE.items() if m.startswith(prefix)}
    return "; ".join(sorted(reasons)) or None


@dataclass
class Stack:
    api: Any  # pc.PrometheusAPI
    prometheus: Any  # pc.LocalPrometheus
    gw: Gateway
    workload: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    failing_event: dict[str, Any] = field(default_factory=dict)
    # the moment the values are judged at (Unix seconds), and the database's numbers then
    at: float = 0.0
    db: dict[str, int] = field(default_factory=dict)

    def count(self, sql: str) -> int:
        return int(self.gw.query(sql)[0][0])

    def value(self, expr: str, **labels: str) -> float | None:
        """``expr`` at :attr:`at` (0: now)."""
        v: float | None = self.api.value(expr, self.at or None, **labels)
        return v

    def query(self, expr: str) -> list[Any]:
        return list(self.api.query(expr, self.at or None))


def _exporter_filters() -> tuple[str, str]:
    docs = [d for d in yaml.safe_load_all((ROOT / "infra/kafka/kafka.yaml").read_text()) if isinstance(d, dict)]
    (kafka,) = [d for d in docs if d.get("kind") == "Kafka"]
    spec = kafka["spec"].get("kafkaExporter") or {}
    return str(spec.get("groupRegex", ".*")), str(spec.get("topicRegex", ".*"))


def _launch_gateway(gw: Gateway, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = process_env(
        gw,
        KAFKA_PARTITIONS=str(gw.settings.kafka_partitions),
        FUNCTIONS_HOST_ENABLED="false",  # as the chart's ConfigMap: the event functions run on their own
        HOST="127.0.0.1",
        PORT=str(port),
    )
    with log.open("ab") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "agent_gateway"], cwd=ROOT, env=env, stdout=fh, stderr=fh)

    def ready() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the gateway exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{gw.url}/readyz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(ready, timeout=90, interval=0.2, what="the gateway's /readyz")
    return proc


@pytest.fixture(scope="module")
def stack(pg_server_url: str, kafka_broker: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if kafka_broker.external:
        pytest.skip("needs the session's own Kafka broker: the dashboard names unprefixed consumer groups and topics")
    kafka_bootstrap = kafka_broker.bootstrap_servers
    missing = [b for b in ("prometheus", "promtool") if pc.binary(b) is None]
    if missing:
        pytest.skip(
            f"Debian's prometheus is not installed ({', '.join(missing)} not found):"
            " apt-get install --no-install-recommends prometheus"
        )
    t0 = time.monotonic()
    work = tmp_path_factory.mktemp("prometheus")
    pg_url = create_database(pg_server_url)
    # unprefixed topics and groups, as in the cluster: the dashboard names the consumer groups
    settings = make_settings(
        pg_url,
        work / "data",
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix="",
        kafka_partitions=3,
        functions_host_enabled=False,
    )
    gw_port, fn_port, kx_port, prom_port = (free_port() for _ in range(4))
    gw = Gateway(f"http://127.0.0.1:{gw_port}", pg_url, None, settings)
    procs: list[subprocess.Popen[bytes]] = []
    exporter_server = None
    prometheus = None
    api = None
    try:
        procs.append(_launch_gateway(gw, gw_port, work / "gateway.log"))  # creates the topics
        # the shared broker's unprefixed topics may hold other tests' events (the image and Dapr stages
        # publish there through daprd): the functions' groups start at the end, on this workload only
        s_skipped = start_groups_at_the_end(kafka_bootstrap, {name: name.replace("_", "-") for name in FUNCTIONS})
        procs.append(start_functions_host(gw, env={"FUNCTIONS_METRICS_PORT": str(fn_port)}))
        group_re, topic_re = _exporter_filters()
        exporter = pc.KafkaExporterStandIn(kafka_bootstrap, group_regex=group_re, topic_regex=topic_re)
        exporter_server = pc.serve_collector(exporter, kx_port)
        app = {"namespace": NAMESPACE}
        targets = [
            pc.Target(
                f"{RELEASE}-gateway",
                f"127.0.0.1:{gw_port}",
                {**app, "service": f"{RELEASE}-gateway", "pod": f"{RELEASE}-gateway-0", "endpoint": "http"},
            ),
            pc.Target(
                f"{NAMESPACE}/{RELEASE}-event-functions",
                f"127.0.0.1:{fn_port}",
                {**app, "pod": f"{RELEASE}-event-functions-0", "endpoint": "metrics"},
            ),
            pc.Target(
                "kafka/todo-kafka-exporter",
                f"127.0.0.1:{kx_port}",
                {"namespace": "kafka", "pod": "todo-kafka-kafka-exporter-0", "endpoint": "tcp-prometheus"},
            ),
        ]
        prometheus = pc.LocalPrometheus(work, prom_port, targets)
        prometheus.check_config()
        prometheus.start()
        api = pc.PrometheusAPI(prometheus.url)
        s = Stack(api, prometheus, gw)

        def all_up() -> bool:
            ts = api.targets()
            return len(ts) == len(targets) and all(t["health"] == "up" for t in ts)

        wait_until(all_up, timeout=30, interval=0.2, what="every scrape target up")
        s.timings["stack_up_s"] = round(time.monotonic() - t0, 1)
        s.timings["foreign_events_skipped"] = sum(s_skipped.values())
        _workload(s)
        _settle(s)
        s.timings["workload_s"] = round(time.monotonic() - t0 - s.timings["stack_up_s"], 1)
        yield s
    finally:
        if api is not None:
            api.close()
        if prometheus is not None:
            prometheus.stop()
        if exporter_server is not None:
            server, thread = exporter_server
            server.shutdown()
            server.server_close()
            thread.join(5)
        for proc in reversed(procs):
            stop_process(proc)


def _workload(s: Stack) -> None:
    gw, api, w = s.gw, s.api, s.workload
    alice, bob = register(gw.url, "Europe/Berlin"), register(gw.url, "UTC")
    creates = 0
    # phase 1: the first use of each route and function creates its labelled series
    for i in range(3):
        alice.create(title=f"first {i}", tags=["phase1"])
        bob.create(title=f"first {i}")
        creates += 2
    assert bob.http.get(f"/api/v1/tasks/{uuid.uuid4()}").status_code == 404

    for expr in (
        f'todo_http_request_duration_seconds_count{{{TASKS_ROUTE}, method="POST"}}',
        # the 404 series too: scraped only after phase 2's 404 it would start at 2, and rate() sees no increase
        'todo_http_request_duration_seconds_count{status="404"}',
        'todo_function_events_total{function="task_events"}',
        'todo_function_events_total{function="audit_append", outcome="appended"}',
    ):
        wait_until(lambda e=expr: api.query(e), timeout=60, interval=0.2, what=f"{expr} in Prometheus")
    # phase 2: more of the same, two weekly tasks completed, a reminder two seconds ahead
    for i in range(5):
        alice.create(title=f"second {i}", priority="high")
        bob.create(title=f"second {i}", tags=["phase2"])
        creates += 2
    weekly = []
    for title in ("Water the plants", "Take out the bins"):
        weekly.append(
            alice.create(
                title=title,
                due_at="2026-03-23T09:00:00+01:00",
                timezone="Europe/Berlin",
                recurrence={"rrule": "FREQ=WEEKLY;BYDAY=MO", "anchor": "schedule"},
            )
        )
        creates += 1
    for t in weekly:
        r = alice.http.post(f"/api/v1/tasks/{t['id']}/complete")
        assert r.status_code == 200, r.text
    fire_at = datetime.now(UTC) + timedelta(seconds=2)
    reminded = bob.create(title="Call mum", reminders=[{"at": fire_at.isoformat()}])
    creates += 1
    assert alice.http.get("/api/v1/tasks").status_code == 200
    assert alice.http.get(f"/api/v1/tasks/{uuid.uuid4()}").status_code == 404
    # a poison message (not a CloudEvents 1.0 event): dead-lettered at once
    insert_outbox_event(gw, {"id": str(uuid.uuid4()), "specversion": "0.3", "hello": "poison"}, alice.user_id)
    w.update(creates=creates, completions=len(weekly), reminders=1, dead_letters=1)

    wait_until(
        lambda: s.count("SELECT count(*) FROM tasks WHERE occurrence = 2") == len(weekly),
        timeout=60,
        what="the next occurrences",
    )
    wait_until(
        lambda: (
            gw.query("SELECT status FROM reminders WHERE task_id = %(t)s", {"t": reminded["id"]}) == [("delivered",)]
        ),
        timeout=60,
        what="the reminder delivered",
    )
    wait_until(
        lambda: s.count("SELECT count(*) FROM outbox WHERE topic = 'audit-append.dlq'") == 1,
        timeout=60,
        what="the dead letter",
    )
    audit_good = s.count("SELECT count(*) FROM outbox WHERE topic = 'audit-append'") - 1
    wait_until(lambda: s.count("SELECT count(*) FROM audit_log") == audit_good, timeout=60, what="the audit log")
    # last, an event that fails on every attempt: retried with the declared backoff (1 s, 2 s, 4 s, ...),
    # holding its partition for about half a minute before it would be dead-lettered
    s.failing_event = unparseable_audit_event(alice.user_id)
    insert_outbox_event(gw, s.failing_event, alice.user_id)
    w["audit_appended"] = audit_good
    wait_until(
        lambda: (s.value('sum(todo_function_failures_total{function="audit_append"})') or 0) >= 2,
        timeout=30,
        interval=0.2,
        what="two failed attempts in Prometheus",
    )


def _db_snapshot(s: Stack) -> dict[str, int]:
    failing = s.failing_event["id"]
    return {
        "outbox": s.count("SELECT count(*) FROM outbox"),
        "task_events": s.count("SELECT count(*) FROM outbox WHERE topic = 'task-events'"),
        "audit_log": s.count("SELECT count(*) FROM audit_log"),
        "dead_letters": s.count("SELECT count(*) FROM outbox WHERE topic = 'audit-append.dlq'"),
        "failing_dead": s.count(
            "SELECT count(*) FROM outbox WHERE topic = 'audit-append.dlq'"
            f" AND payload->'data'->'event'->>'id' = '{failing}'"
        ),
    }


def _settle(s: Stack) -> None:
    """Wait until Prometheus shows what the database holds, then fix that moment: the value tests judge
    every query at it, so the failing event's later dead letter (after about 30 s of retries) cannot
    change the answers while the module runs."""
    api = s.api

    def agree() -> bool:
        db = _db_snapshot(s)
        lag = api.value('sum(kafka_consumergroup_lag{consumergroup="audit_append", topic="audit-append"} >= 0)')
        now = {
            "outbox": api.value("sum(todo_outbox_published_total)"),
            "task_events": api.value('sum(todo_function_events_total{function="task_events"})'),
            "audit_log": api.value('sum(todo_function_events_total{function="audit_append", outcome="appended"})'),
            "dead_letters": api.value(
                'sum(todo_function_events_total{function="audit_append", outcome="dead-lettered"})'
            ),
            "failing_dead": None if lag is None else 1 - lag,  # the failing event holds one offset until then
        }
        if now == {k: float(v) for k, v in db.items()} and _db_snapshot(s) == db:
            s.at, s.db = time.time(), db
            return True
        return False

    wait_until(agree, timeout=30, interval=0.3, what="Prometheus to show what the database holds")


# -- every query returns data -----------------------------------------------------------------------


def _dashboard() -> tuple[list[Any], dict[str, Any]]:
    dash = pc.load_dashboard()
    return pc.dashboard_queries(dash), pc.dashboard_variables(dash)


def test_the_namespace_variable_finds_the_apps_namespace(stack: Stack) -> None:
    _, variables = _dashboard()
    selector, label = pc.label_values_query(variables["namespace"].query)
    assert stack.api.label_values(label, selector) == [NAMESPACE]
    assert variables["release"].options == (RELEASE,)


def test_every_dashboard_query_returns_data(stack: Stack, record_property: Any) -> None:
    queries, variables = _dashboard()
    assert len(queries) >= 25, "the dashboard lost panels"
    found = stack.api.label_values("namespace", pc.label_values_query(variables["namespace"].query)[0])
    exprs: dict[str, str] = {}
    for q in queries:
        if _needs(pc.metrics_selected(q.expr)):
            continue
        # the namespace as picked in the variable, and "All" (its allValue)
        exprs[q.name] = pc.substitute(q.expr, {"namespace": found, "release": [RELEASE], "datasource": "prometheus"})
        exprs[f"{q.name} (All namespaces)"] = pc.substitute(
            q.expr, {"namespace": str(variables["namespace"].all_value), "release": [RELEASE], "datasource": "x"}
        )
    started = time.monotonic()
    _, missing = pc.wait_for_data(stack.api, exprs, QUERY_TIMEOUT)
    record_property("all_queries_data_s", round(time.monotonic() - started, 1))
    record_property("stack_up_s", stack.timings.get("stack_up_s"))
    record_property("workload_s", stack.timings.get("workload_s"))
    assert not missing, "queries that never returned data:\n" + "\n".join(
        f"- {name}: {out.describe()}\n    {exprs[name]}" for name, out in missing.items()
    )


def _cluster_exporters() -> dict[str, set[str]]:
    """Series -> labels of the KEDA operator (the version the suite's CRDs and scripts/minikube.sh pin)
    and of kube-state-metrics' Deployment store, read from their Go modules."""
    keda = load_script("infra_tools.py", "todo_cloud_infra_tools").CRD_SOURCES["keda"]
    assert keda["module"] == pc.KEDA_MODULE
    minikube = (ROOT / "scripts/minikube.sh").read_text()
    assert f'KEDA_VERSION="${{KEDA_VERSION:-{keda["version"].removeprefix("v")}}}"' in minikube
    try:
        files = [pc.go_module_file(pc.KEDA_MODULE, keda["version"], f) for f in pc.KEDA_METRICS_FILES]
        kube = pc.go_module_file(*pc.KUBE_STATE_METRICS)
    except pc.Unavailable as exc:
        pytest.skip(f"the exporters' definitions cannot be read here: {exc}")
    return {**pc.keda_series(*files), **pc.kube_state_series(kube)}


def test_cluster_only_queries_select_what_their_exporters_define(stack: Stack) -> None:
    """The KEDA and kube-state-metrics panels: Prometheus parses them (an empty answer, not bad_data), and
    every series and label they select is one the exporter's own code defines. Their data needs a
    Kubernetes API server, which this stage does not run: reported as skipped."""
    queries, _ = _dashboard()
    cluster = [q for q in queries if _needs(pc.metrics_selected(q.expr))]
    assert cluster, "no cluster-only panel left: drop this test"
    for q in cluster:
        expr = pc.substitute(q.expr, {"namespace": [NAMESPACE], "release": [RELEASE]})
        out = stack.api.outcome(expr)
        assert out.error is None, f"{q.name}: {out.error}\n    {expr}"
    defined = _cluster_exporters()
    assert {"keda_scaler_metrics_value", "kube_deployment_status_replicas"} <= set(defined)
    assert pc.unknown_series_and_labels('keda_scaler_active{scaled_object="x"}', defined)  # the check can fail
    problems = {q.name: pc.unknown_series_and_labels(q.expr, defined) for q in cluster}
    assert not any(problems.values()), {k: v for k, v in problems.items() if v}
    pytest.skip(
        "valid, and selecting what the exporters define; no data here for "
        + "; ".join(f"{q.name} ({_needs(pc.metrics_selected(q.expr))})" for q in cluster)
    )


# -- the values are those of the workload -------------------------------------------------------------


def test_counters_match_the_workload(stack: Stack) -> None:
    s, w, db = stack, stack.workload, stack.db
    created = f'sum(todo_http_request_duration_seconds_count{{namespace="{NAMESPACE}", {TASKS_ROUTE}, method="POST"}})'
    assert s.value(created) == w["creates"]
    assert s.value(f'todo_http_request_duration_seconds_count{{{TASKS_ROUTE}, method="POST"}}', status="201")
    one = 'todo_http_request_duration_seconds_count{route=~"(/api/v1)?/tasks/{task_id}", method="GET"}'
    assert s.value(one, status="404") == 2
    # every task event consumed once, by outcome; both completions made their next occurrence
    assert db["task_events"] >= w["creates"] + w["completions"]
    assert s.value('sum(todo_function_events_total{function="task_events"})') == db["task_events"]
    assert s.value('sum(todo_function_events_total{function="recurrence_due", outcome="created"})') == w["completions"]
    assert (
        s.value('sum(todo_function_events_total{function="audit_append", outcome="appended"})') == w["audit_appended"]
    )
    assert db["audit_log"] == w["audit_appended"]
    # the poison message, and the failing event too if its retries ran out by then
    assert db["dead_letters"] == w["dead_letters"] + db["failing_dead"]
    assert (
        s.value('sum(todo_function_events_total{function="audit_append", outcome="dead-lettered"})')
        == db["dead_letters"]
    )
    assert s.value('sum(todo_function_dead_letters_total{function="audit_append"})') == db["dead_letters"]
    failures = s.value('sum(todo_function_failures_total{function="audit_append"})') or 0
    assert 2 <= failures <= 6  # the failing event's attempts: the first and at most five retries
    assert s.value('sum(todo_function_failures_total{function!="audit_append"})') in (None, 0)  # nothing else failed
    # the reminder: fired once by the gateway's timer, on time, delivered once by reminder_fire
    assert s.value("sum(todo_reminders_fired_total)") == w["reminders"]
    assert s.value("sum(todo_reminder_lateness_seconds_count)") == w["reminders"]
    assert s.value('sum(todo_reminder_lateness_seconds_bucket{le="5.0"})') == w["reminders"]
    assert s.value('sum(todo_function_events_total{function="reminder_fire", outcome="delivered"})') == w["reminders"]
    # the relay published every outbox row once, and nothing is waiting
    assert s.value("sum(todo_outbox_published_total)") == db["outbox"]
    assert s.value("max(todo_outbox_backlog)") == 0
    assert s.value("sum(todo_outbox_publish_failures_total)") == 0


def _panels_at(stack: Stack) -> dict[tuple[int, str], str]:
    ns = {"namespace": [NAMESPACE], "release": [RELEASE]}
    return {(q.panel_id, q.ref): pc.substitute(q.expr, ns) for q in _dashboard()[0]}


def test_rate_panels_show_the_workload(stack: Stack) -> None:
    s, panel = stack, _panels_at(stack)
    rps = s.query(panel[(2, "A")])
    assert next(x.value for x in rps if x.labels.get("route") in {"/api/v1/tasks", "/tasks"}) > 0
    statuses = {x.labels["status"]: x.value for x in s.query(panel[(6, "A")])}
    assert statuses.get("201", 0) > 0 and statuses.get("404", 0) > 0
    assert s.value(panel[(4, "A")]) == 0  # 5xx ratio: no server error in the workload
    p99 = s.value(panel[(3, "C")])
    assert p99 is not None and 0 < p99 <= 10
    events = {(x.labels["function"], x.labels["outcome"]): x.value for x in s.query(panel[(14, "A")])}
    assert events[("audit_append", "appended")] > 0 and events[("task_events", "no-reminders")] > 0
    failed = {x.labels["function"]: x.value for x in s.query(panel[(15, "A")])}
    assert failed["audit_append"] > 0 and not any(v for f, v in failed.items() if f != "audit_append")
    assert (s.value(panel[(10, "B")]) or 0) > 0  # the relay's published_total rate
    assert (s.value(panel[(16, "A")]) or 0) > 0 and (s.value(panel[(16, "B")]) or 0) > 0
    lateness = s.value(panel[(17, "C")])
    assert lateness is not None and 0 <= lateness <= 5  # the reminder fired on time
    batch = {x.labels["function"]: x.value for x in s.query(panel[(24, "A")])}
    assert set(batch) >= {"audit_append", "task_events", "recurrence_due"}
    assert s.value(panel[(8, "A")]) == 0 and s.value(panel[(9, "A")]) == 0  # backlog drained


def test_kafka_lag_panel_shows_the_retried_event(stack: Stack) -> None:
    """While the failing event is retried it holds its offset of audit-append: a lag of one there and none
    elsewhere. Partitions a group never committed on (the exporter reports -1 for each) are no lag."""
    s = stack
    (expr,) = [e for e in _panels_at(s).values() if "kafka_consumergroup_lag" in e]
    got = {(x.labels["consumergroup"], x.labels["topic"]): x.value for x in s.query(expr)}
    assert got == {
        ("audit_append", "audit-append"): 1 - s.db["failing_dead"],
        ("task_events", "task-events"): 0,
        ("recurrence_due", "recurrence-due"): 0,
        ("reminder_fire", "reminder-fire"): 0,
    }
    # the exporter's per-partition series: the one message of reminder-fire left two partitions uncommitted
    per_partition = s.query('kafka_consumergroup_lag{consumergroup="reminder_fire"}')
    assert sorted(x.value for x in per_partition) == [-1.0, -1.0, 0.0]


def test_route_labels_carry_the_api_prefix(stack: Stack) -> None:
    routes = set(stack.api.label_values("route", "todo_http_request_duration_seconds_count"))
    assert {"/api/v1/tasks", "/api/v1/auth/register", "/api/v1/tasks/{task_id}/complete"} <= routes, routes


def test_dead_letter_panel_counts_the_first_dead_letter(stack: Stack) -> None:
    (q,) = [q for q in _dashboard()[0] if "todo_function_dead_letters_total" in q.expr]
    expr = pc.substitute(q.expr, {"namespace": [NAMESPACE], "release": [RELEASE]})
    increase = stack.value(expr, function="audit_append")
    # increase() extrapolates to the window's edges: a whole number only up to rounding
    assert increase is not None and round(increase) == stack.db["dead_letters"], increase


# -- rules and config -------------------------------------------------------------------------------


def _repo_rule_groups() -> list[dict[str, Any]]:
    docs: list[Any] = []
    for path in sorted((ROOT / "infra").rglob("*.y*ml")):
        if "templates" not in path.parts:
            docs.extend(yaml.safe_load_all(path.read_text()))
    return list(pc.rule_groups_in(docs))


def test_rules_pass_promtool(tmp_path: Path) -> None:
    promtool = pc.binary("promtool")
    if promtool is None:
        pytest.skip("Debian's prometheus is not installed (no promtool): apt-get install prometheus")
    templates = ROOT / "infra/helm/todo-cloud/templates"
    with_rules = [p for p in templates.rglob("*") if p.is_file() and "PrometheusRule" in p.read_text()]
    assert not with_rules, f"the chart now renders PrometheusRules ({with_rules}): render them here and evaluate them"
    groups = _repo_rule_groups()
    queries, _ = _dashboard()
    files = []
    if groups:
        (tmp_path / "repo-rules.yml").write_text(yaml.safe_dump({"groups": groups}))
        files.append(tmp_path / "repo-rules.yml")
    values = {"namespace": [NAMESPACE], "release": [RELEASE]}
    (tmp_path / "dashboard-rules.yml").write_text(yaml.safe_dump(pc.dashboard_as_rules(queries, values)))
    files.append(tmp_path / "dashboard-rules.yml")
    proc = subprocess.run(
        [promtool, "check", "rules", *map(str, files)], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"SUCCESS: {len(queries)} rules found" in proc.stdout
    # and a broken expression is refused (the check can fail)
    (tmp_path / "bad.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "x", "rules": [{"record": "a:b", "expr": "sum("}]}]})
    )
    bad = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "bad.yml")], capture_output=True, text=True, check=False
    )
    assert bad.returncode != 0
    assert not groups or pc.rule_expressions(groups)


def test_the_cli_names_each_query_without_data(
    stack: Stack, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """scripts/prometheus_check.py against this Prometheus (as against one on a cluster): every panel but
    the cluster-only ones passes, and those are named."""
    rules = tmp_path / "rules.json"
    code = pc.main(["--url", stack.prometheus.url, "--timeout", "3", "--rules-out", str(rules)])
    out = capsys.readouterr().out
    queries, _ = _dashboard()
    failed = {line.split(": ")[0].removeprefix("FAIL ") for line in out.splitlines() if line.startswith("FAIL ")}
    assert failed == {q.name for q in queries if _needs(pc.metrics_selected(q.expr))}, out
    assert code == 1 and sum(line.startswith("ok ") for line in out.splitlines()) == len(queries) - len(failed)
    assert len(json.loads(rules.read_text())["groups"][0]["rules"]) == len(queries)
