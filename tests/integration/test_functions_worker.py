"""The function app in the real Azure Functions Python worker library, driven over the host's protocol.

``azure-functions-runtime`` (the library the ``4-python3.13`` base image runs a v2 app with) runs in a
Python 3.13 virtualenv built from ``requirements.txt`` and ``tests/worker/requirements.txt`` only
(``scripts/runtime_env.py --worker``). This test is the host: it serves the ``FunctionRpc`` event
stream (``tests/worker/host.py``, the messages compiled from ``tests/worker/function_rpc.proto`` at
test time), starts the worker process with the host's command line (``tests/worker/proxy_worker.py``,
the image's proxy: stream in, library call, stream out), and sends what the .NET host sends:
``WorkerInitRequest`` (the library indexes ``function_app.py``), ``FunctionsMetadataRequest``,
``FunctionLoadRequest`` for every function, then ``InvocationRequest`` s shaped as the Kafka
extension delivers a ``cardinality: many``, ``dataType: string`` batch (a JSON string per message,
the ``*Array`` trigger metadata, a retry context, a trace context) and one HTTP request.

The worker runs as the chart configures the event functions (``DAPR_ENABLED=true``) against the
test Postgres, beside a real gateway in cluster mode whose Dapr sidecar is the suite's fake daprd:
``task_events`` reaches the gateway's scheduler through service invocation, which schedules the Dapr
job; a job's callback makes the ``reminder-fire`` event that ``reminder_fire`` delivers.

Only the .NET host itself is not here (it cannot run on this machine): what it would send is built
by the test, from the real events the system wrote to its outbox.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent_gateway.main import create_app
from tests._scripts import load_script
from tests.fake_dapr import FakeDapr
from tests.fix_api import ServerThread, UserClient, free_port, make_settings
from tests.fix_db import create_database
from tests.fix_pipeline import Gateway, process_env, unparseable_audit_event, wait_until
from tests.worker.host import FunctionsHost, compile_protocol

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
APP_ID = "agent-gateway"
EVENT_FUNCTIONS = {
    "task_events": "task-events",
    "recurrence_due": "recurrence-due",
    "reminder_fire": "reminder-fire",
    "audit_append": "audit-append",
}
runtime_env = load_script("runtime_env.py", "todo_runtime_env")


@dataclass
class Cluster:
    gw: Gateway
    dapr: FakeDapr
    host: FunctionsHost
    pb: Any
    pb_grpc: Any

    def outbox(self, topic: str, key: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT payload FROM outbox WHERE topic = %(t)s" + (" AND key = %(k)s" if key else "") + " ORDER BY id"
        return [p for (p,) in self.gw.query(sql, {"t": topic, "k": key})]

    def deliver(
        self, function: str, envelopes: list[Any], *, retry: tuple[int, int] = (0, 5), traceparent: str = ""
    ) -> Any:
        """The envelopes as one Kafka batch of ``function``'s topic (values as the relay publishes them)."""
        topic = EVENT_FUNCTIONS[function]
        messages = []
        for i, env in enumerate(envelopes):
            value = env if isinstance(env, str) else json.dumps(env)
            key = env.get("subject", "").split("/")[-1] if isinstance(env, dict) else "k"
            messages.append((key or "k", i % 3, 100 + i, value))
        batch = self.host.kafka_batch(function, topic, messages)
        return self.host.invoke(
            function, batch.input_data, batch.trigger_metadata, traceparent=traceparent, retry=retry
        )

    def ok(self, response: Any) -> None:
        assert response.result.status == self.pb.StatusResult.Success, response.result.exception.message


@pytest.fixture(scope="module")
def worker_python() -> Path:
    try:
        env = runtime_env.ensure_env(worker=True)
    except runtime_env.Unavailable as e:
        pytest.skip(f"no Functions worker environment here: {e}")
    assert env is not None
    return Path(env.python)


@pytest.fixture(scope="module")
def cluster(worker_python: Path, pg_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    gen = tmp_path_factory.mktemp("function-rpc")
    pb, pb_grpc = compile_protocol(gen)
    pg_url = create_database(pg_server_url)
    dapr = FakeDapr().start()
    settings = make_settings(pg_url, tmp_path_factory.mktemp("data"), dapr_enabled=True, dapr_http_endpoint=dapr.url)
    app = create_app(settings)
    server = ServerThread(app, free_port()).__enter__()
    gw = Gateway(server.url, pg_url, app, settings, server)
    dapr.set_app(APP_ID, gw.url)
    dapr.set_job_callback_target(gw.url)
    host = FunctionsHost(pb, pb_grpc)
    environ = {k: v for k, v in process_env(gw).items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    environ |= {
        "PYTHONPATH": f"{gen}{os.pathsep}{ROOT}",
        "DAPR_ENABLED": "true",  # as the chart sets it on every function Deployment
        "DAPR_HTTP_ENDPOINT": dapr.url,
        "DAPR_GATEWAY_APP_ID": APP_ID,
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "AzureWebJobsScriptRoot": str(ROOT),
        "KafkaBrokers": settings.kafka_bootstrap_servers,
        "LOG_LEVEL": "INFO",
    }
    log = tmp_path_factory.mktemp("worker") / "worker.log"
    try:
        host.start_worker(worker_python, ROOT, environ, log)
        cl = Cluster(gw, dapr, host, pb, pb_grpc)
        init = host.init(ROOT)
        cl.ok(init)
        meta = host.metadata(ROOT)
        cl.ok(meta)
        for m in meta.function_metadata_results:
            cl.ok(host.load(m))
        yield cl
    finally:
        host.stop()
        gw.stop()
        dapr.stop()
        if os.environ.get("CI") and log.exists():
            shutil.copy(log, ROOT / ".pytest_cache" / "worker.log") if (ROOT / ".pytest_cache").is_dir() else None


def test_the_worker_indexes_every_function_with_its_trigger_and_retry(cluster: Cluster) -> None:
    funcs = cluster.host.functions
    assert set(funcs) == {"http_api", *EVENT_FUNCTIONS}
    for name, topic in EVENT_FUNCTIONS.items():
        bindings = {b["name"]: b for b in map(json.loads, funcs[name].raw_bindings)}
        trigger = bindings["events"]
        assert trigger["type"] == "kafkaTrigger"
        assert (trigger["topic"], trigger["consumerGroup"]) == (topic, name)
        assert trigger["cardinality"].lower() == "many" and trigger["dataType"].lower() == "string"
        assert (trigger["brokerList"], trigger["username"], trigger["password"]) == (
            "KafkaBrokers",
            "KafkaUsername",
            "KafkaPassword",
        )
        assert funcs[name].bindings["events"].direction == cluster.pb.BindingInfo.Direction.Value("in")
        retry = funcs[name].retry_options
        assert retry.max_retry_count == 5
        assert retry.retry_strategy == cluster.pb.RpcRetryOptions.exponential_backoff
        assert (retry.minimum_interval.seconds, retry.maximum_interval.seconds) == (1, 30)
    http = {b["type"]: b for b in map(json.loads, funcs["http_api"].raw_bindings)}
    assert http["httpTrigger"]["route"] == "{*route}" and http["http"]["direction"].lower() == "out"


def _task(alice: UserClient, **body: Any) -> dict[str, Any]:
    return alice.create(**body)


def test_task_events_schedules_the_reminder_job_through_the_gateway(cluster: Cluster) -> None:
    alice = cluster.gw.user("Europe/Berlin")
    due = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    task = _task(alice, title="Dentist", due_at=due.isoformat(), reminders=[{"offset_minutes": 60}])
    (created,) = list(cluster.outbox("task-events", task["id"]))
    response = cluster.deliver("task_events", [created])
    cluster.ok(response)
    calls = [i for i in cluster.dapr.invocations if i.method == "internal/reminders/sync"]
    assert [json.loads(c.body)["task_id"] for c in calls] == [task["id"]]
    assert calls[0].status == 200
    reminder = task["reminders"][0]["id"]
    assert f"reminder-{reminder}" in cluster.dapr.jobs, sorted(cluster.dapr.jobs)


def test_audit_append_stores_a_batch_once_even_when_redelivered(cluster: Cluster) -> None:
    alice = cluster.gw.user()
    task = _task(alice, title="Audit me")
    alice.http.patch(f"/api/v1/tasks/{task['id']}", json={"priority": "high"}).raise_for_status()
    events = [e for e in cluster.outbox("audit-append") if e["userid"] == alice.user_id]
    assert len(events) == 2
    cluster.ok(cluster.deliver("audit_append", events))
    cluster.ok(cluster.deliver("audit_append", events, retry=(1, 5)))  # the batch again: a redelivery
    rows = cluster.gw.query("SELECT count(*) FROM audit_log WHERE user_id = %(u)s", {"u": alice.user_id})
    assert rows == [(2,)]


def test_recurrence_due_creates_the_next_occurrence_and_continues_the_trace(cluster: Cluster) -> None:
    alice = cluster.gw.user()
    due = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    task = _task(alice, title="Water plants", due_at=due.isoformat(), recurrence={"rrule": "FREQ=WEEKLY"})
    alice.http.post(f"/api/v1/tasks/{task['id']}/complete").raise_for_status()
    (due_event,) = [e for e in cluster.outbox("recurrence-due") if e["userid"] == alice.user_id]
    trace_id = due_event["traceparent"].split("-")[1]
    response = cluster.deliver("recurrence_due", [due_event], traceparent=due_event["traceparent"])
    cluster.ok(response)
    cluster.ok(cluster.deliver("recurrence_due", [due_event], retry=(1, 5)))  # redelivered: still one
    open_ = alice.http.get("/api/v1/tasks", params={"status": "open", "q": "Water plants"}).json()["items"]
    assert len(open_) == 1 and open_[0]["occurrence"] == task["occurrence"] + 1
    assert datetime.fromisoformat(open_[0]["due_at"]) == due + timedelta(days=7)
    (made,) = list(cluster.outbox("task-events", open_[0]["id"]))
    assert made["traceparent"].split("-")[1] == trace_id, "the next occurrence's event continues the trace"


def test_reminder_fire_delivers_the_notification_once(cluster: Cluster) -> None:
    alice = cluster.gw.user()
    at = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0)
    task = _task(alice, title="Stretch", reminders=[{"at": at.isoformat()}])
    (created,) = cluster.outbox("task-events", task["id"])
    cluster.ok(cluster.deliver("task_events", [created]))  # schedules the Dapr job
    reminder = task["reminders"][0]["id"]
    fire = wait_until(
        lambda: [e for e in cluster.outbox("reminder-fire") if e["data"]["reminder_id"] == reminder],
        timeout=60,
        what="the job's callback to write the reminder-fire event",
    )
    cluster.ok(cluster.deliver("reminder_fire", fire))
    cluster.ok(cluster.deliver("reminder_fire", fire, retry=(1, 5)))
    notes = cluster.gw.query("SELECT title FROM notifications WHERE user_id = %(u)s", {"u": alice.user_id})
    assert notes == [("Stretch",)]
    status = cluster.gw.query("SELECT status FROM reminders WHERE id = %(r)s", {"r": reminder})
    assert status == [("delivered",)]


def test_a_malformed_message_is_dead_lettered_and_the_batch_goes_on(cluster: Cluster) -> None:
    alice = cluster.gw.user()
    task = _task(alice, title="After the poison")
    (good,) = [e for e in cluster.outbox("audit-append") if e["userid"] == alice.user_id]
    marker = f"not json {uuid.uuid4()}"
    cluster.ok(cluster.deliver("audit_append", [marker, good]))
    letters = [e for e in cluster.outbox("audit-append.dlq") if e["data"]["event"] == marker]
    assert len(letters) == 1 and letters[0]["data"]["function"] == "audit_append"  # the value as it was
    assert cluster.gw.query("SELECT count(*) FROM audit_log WHERE user_id = %(u)s", {"u": alice.user_id}) == [(1,)]
    assert task["id"]


def test_a_failing_event_fails_the_invocation_until_the_last_retry(cluster: Cluster) -> None:
    bad = unparseable_audit_event(str(uuid.uuid4()))
    first = cluster.deliver("audit_append", [bad], retry=(0, 5))
    assert first.result.status == cluster.pb.StatusResult.Failure  # the host retries the batch
    assert first.result.exception.message
    last = cluster.deliver("audit_append", [bad], retry=(5, 5))
    cluster.ok(last)
    letters = [e for e in cluster.outbox("audit-append.dlq") if e["data"]["event"] == bad]
    # the letter holds the CloudEvent as produced (not the extension's JSON around it) and its user
    assert len(letters) == 1 and letters[0]["data"]["attempts"] == 6 and letters[0]["userid"] == bad["userid"]
    assert letters[0]["data"]["offset"] == 100


def test_the_http_function_serves_the_task_api(cluster: Cluster) -> None:
    pb = cluster.pb

    def call(method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        headers = {"content-type": "application/json", "host": "localhost"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        req = pb.RpcHttp(
            method=method,
            url=f"http://localhost{path}",
            headers=headers,
            params={"route": path.lstrip("/").split("?")[0]},
            body=pb.TypedData(bytes=json.dumps(body).encode()) if body is not None else pb.TypedData(),
        )
        binding = pb.ParameterBinding(name="req", data=pb.TypedData(http=req))
        meta = {"sys": cluster.host.sys_metadata("http_api")}
        response = cluster.host.invoke("http_api", [binding], meta)
        cluster.ok(response)
        http = response.return_value.http
        kind = http.body.WhichOneof("data")
        raw = getattr(http.body, kind) if kind else b""
        text = raw.decode() if isinstance(raw, bytes) else raw
        return int(http.status_code), (json.loads(text) if text else None)

    email = f"w{uuid.uuid4().hex[:10]}@example.com"
    status, reg = call("POST", "/api/v1/auth/register", {"email": email, "password": "correct horse battery"})
    assert status == 201, reg
    status, made = call("POST", "/api/v1/tasks", {"title": "From the function"}, reg["access_token"])
    assert status == 201 and made["title"] == "From the function"
    status, listed = call("GET", "/api/v1/tasks?status=open", None, reg["access_token"])
    assert status == 200 and [t["title"] for t in listed["items"]] == ["From the function"]
    status, err = call("POST", "/api/v1/tasks", {"title": ""}, reg["access_token"])
    assert status == 422 and err["error"]["code"]


def test_the_worker_refuses_pep_585_binding_annotations(cluster: Cluster, worker_python: Path, tmp_path: Path) -> None:
    """The check can fail: the app as it was before the fix (``events: list[func.KafkaEvent]``), in a
    scratch copy, is refused by the worker library when it indexes - no function would load."""
    app = tmp_path / "app"
    app.mkdir()
    for name in ("function_app.py", "host.json"):
        shutil.copy(ROOT / name, app / name)
    for pkg in ("functions", "todo_core", "agent_gateway"):
        shutil.copytree(ROOT / pkg, app / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    source = app / "functions" / "audit_append.py"
    text = source.read_text()
    assert "events: List[func.KafkaEvent]" in text
    source.write_text(text.replace("events: List[func.KafkaEvent]", "events: list[func.KafkaEvent]"))
    host = FunctionsHost(cluster.pb, cluster.pb_grpc)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    environ |= {"PYTHONPATH": f"{Path(cluster.pb.__file__).parent}{os.pathsep}{app}", "ENVIRONMENT": "test"}
    environ |= {"DATABASE_URL": cluster.gw.pg_url, "JWT_SECRET": "x" * 40, "FUNCTIONS_METRICS_PORT": ""}
    try:
        host.start_worker(worker_python, app, environ, tmp_path / "worker.log")
        init = host.init(app)
        refused = init.result
        if refused.status == cluster.pb.StatusResult.Success:  # indexing errors may surface with the metadata
            refused = host.metadata(app).result
        assert refused.status == cluster.pb.StatusResult.Failure
        assert "invalid non-type annotation" in refused.exception.message, refused.exception.message
        assert "list[azure.functions.kafka.KafkaEvent]" in refused.exception.message
    finally:
        host.stop()
