"""DaprPublisher, DaprJobs and DaprInvoker against a fake sidecar over real HTTP."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from tests.fake_dapr import FakeDapr, ServerThread, fake_dapr  # noqa: F401
from todo_core.bus.base import CLOUDEVENTS_CONTENT_TYPE, OutboxRecord
from todo_core.bus.dapr import DaprPublisher
from todo_core.scheduling.dapr_jobs import DaprError, DaprInvoker, DaprJobs, reminder_job_name

pytestmark = pytest.mark.anyio


def record(rid: int, topic: str, key: str) -> OutboxRecord:
    payload = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/todo/api",
        "type": "todo.task.created.v1",
        "subject": f"task/{key}",
        "time": "2025-03-30T07:00:00Z",
        "datacontenttype": "application/json",
        "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "userid": "user-1",
        "data": {"title": f"Café ☕ {rid}", "tags": ["a", "b"], "due_at": None},
    }
    return OutboxRecord(id=rid, topic=topic, key=key, payload=payload)


def bulk_requests(fake: FakeDapr) -> list[list[dict[str, Any]]]:
    return [json.loads(r.body) for r in fake.requests if "/publish/bulk/" in r.path]


@pytest.fixture
async def publisher(fake_dapr: FakeDapr) -> Any:  # noqa: F811
    pub = DaprPublisher(fake_dapr.url, "kafka-pubsub")
    yield pub
    await pub.close()


# -- publishing ----------------------------------------------------------------------------------


async def test_bulk_publish_sends_envelopes_unchanged_in_order_across_topics(
    fake_dapr: FakeDapr,  # noqa: F811
    publisher: DaprPublisher,
) -> None:
    records = [
        record(1, "task-events", "t1"),
        record(2, "task-events", "t2"),
        record(3, "audit-append", "u1"),
        record(4, "task-events", "t3"),
    ]
    result = await publisher.publish(records)

    assert result.published == [1, 2, 3, 4]
    assert result.failed == {}
    assert [(e.topic, e.entry_id) for e in fake_dapr.published] == [
        ("task-events", "1"),
        ("task-events", "2"),
        ("audit-append", "3"),
        ("task-events", "4"),
    ]
    for sent, rec in zip(fake_dapr.published, records, strict=True):
        assert sent.via == "bulk"
        assert sent.pubsub == "kafka-pubsub"
        assert sent.event == rec.payload
        assert json.dumps(sent.event, separators=(",", ":"), ensure_ascii=False).encode() == rec.value()
        assert "data" not in sent.event["data"]  # no second envelope around ours
        assert sent.content_type == CLOUDEVENTS_CONTENT_TYPE
        assert not sent.wrapped
        assert sent.partition_key == rec.key
    # one request per run of a topic: t-e [1, 2], a-a [3], t-e [4]
    assert [[e["entryId"] for e in req] for req in bulk_requests(fake_dapr)] == [["1", "2"], ["3"], ["4"]]
    assert all(r.headers["content-type"] == "application/json" for r in fake_dapr.requests)


async def test_a_bulk_request_never_holds_two_records_of_one_key(
    fake_dapr: FakeDapr,  # noqa: F811
    publisher: DaprPublisher,
) -> None:
    records = [record(1, "task-events", "k1"), record(2, "task-events", "k2"), record(3, "task-events", "k1")]
    result = await publisher.publish(records)

    assert result.published == [1, 2, 3]
    assert [[e["entryId"] for e in req] for req in bulk_requests(fake_dapr)] == [["1", "2"], ["3"]]
    assert [e.entry_id for e in fake_dapr.published] == ["1", "2", "3"]


async def test_failed_entry_fails_later_records_of_its_key_without_sending_them(
    fake_dapr: FakeDapr,  # noqa: F811
    publisher: DaprPublisher,
) -> None:
    fake_dapr.fail_entries([1])
    records = [
        record(1, "task-events", "k1"),
        record(2, "task-events", "k2"),
        record(3, "task-events", "k1"),
        record(4, "task-events", "k2"),
        record(5, "audit-append", "k1"),
        record(6, "audit-append", "k3"),
    ]
    result = await publisher.publish(records)

    assert result.published == [2, 4, 6]
    assert set(result.failed) == {1, 3, 5}
    assert "injected failure for this entry" in result.failed[1]
    assert "record 1" in result.failed[3] and "not sent" in result.failed[3]
    assert "record 1" in result.failed[5]
    sent_ids = [e["entryId"] for req in bulk_requests(fake_dapr) for e in req]
    assert "3" not in sent_ids and "5" not in sent_ids
    assert [e.entry_id for e in fake_dapr.published] == ["2", "4", "6"]


async def test_http_500_fails_the_whole_request_and_later_records_of_those_keys(
    fake_dapr: FakeDapr,  # noqa: F811
    publisher: DaprPublisher,
) -> None:
    fake_dapr.fail_next(1)
    records = [
        record(1, "task-events", "k1"),
        record(2, "task-events", "k2"),
        record(3, "audit-append", "k1"),
        record(4, "audit-append", "k3"),
    ]
    result = await publisher.publish(records)

    assert result.published == [4]
    assert set(result.failed) == {1, 2, 3}
    assert "broker unavailable" in result.failed[1]
    assert "not sent" in result.failed[3]
    assert [e.entry_id for e in fake_dapr.published] == ["4"]


async def test_a_500_without_failed_entries_fails_every_entry(
    fake_dapr: FakeDapr,  # noqa: F811
    publisher: DaprPublisher,
) -> None:
    fake_dapr.fail_next(1, status=503)
    result = await publisher.publish([record(1, "task-events", "k1"), record(2, "task-events", "k2")])

    assert result.published == []
    assert set(result.failed) == {1, 2}
    assert "HTTP 503" in result.failed[1]


async def test_unreachable_sidecar_fails_the_batch_without_raising() -> None:
    with ServerThread(FastAPI()) as server:  # take a free port, then close it
        url = server.url
    pub = DaprPublisher(url, timeout=2.0)
    try:
        result = await pub.publish([record(1, "task-events", "k1"), record(2, "audit-append", "k1")])
    finally:
        await pub.close()
    assert result.published == []
    assert "ConnectError" in result.failed[1]
    assert "not sent" in result.failed[2]


async def test_falls_back_to_single_publish_when_the_sidecar_has_no_bulk_route(
    fake_dapr: FakeDapr,  # noqa: F811
    publisher: DaprPublisher,
) -> None:
    fake_dapr.disable_bulk()
    records = [record(1, "task-events", "k1"), record(2, "audit-append", "u1"), record(3, "task-events", "k1")]

    result = await publisher.publish(records)

    assert result.published == [1, 2, 3]
    assert publisher.bulk_supported is False
    assert [(e.via, e.topic) for e in fake_dapr.published] == [
        ("publish", "task-events"),
        ("publish", "audit-append"),
        ("publish", "task-events"),
    ]
    for sent, rec in zip(fake_dapr.published, records, strict=True):
        assert sent.body == rec.value()  # byte for byte
        assert sent.content_type == CLOUDEVENTS_CONTENT_TYPE
        assert not sent.wrapped
        assert sent.partition_key == rec.key
    # the next batch goes straight to single publish
    later = record(4, "task-events", "k9")
    await publisher.publish([later])
    assert sum("/publish/bulk/" in r.path for r in fake_dapr.requests) == 1
    assert (fake_dapr.published[-1].via, fake_dapr.published[-1].body) == ("publish", later.value())


async def test_single_publish_failure_fails_later_records_of_its_key(
    fake_dapr: FakeDapr,  # noqa: F811
    publisher: DaprPublisher,
) -> None:
    fake_dapr.disable_bulk()
    assert (await publisher.publish([record(1, "task-events", "k0")])).published == [1]
    fake_dapr.fail_next(1)

    result = await publisher.publish(
        [record(2, "task-events", "k1"), record(3, "task-events", "k2"), record(4, "task-events", "k1")]
    )

    assert result.published == [3]
    assert "HTTP 500" in result.failed[2]
    assert "not sent" in result.failed[4]
    assert [e.event["subject"] for e in fake_dapr.published] == ["task/k0", "task/k2"]


async def test_unknown_pubsub_is_a_failure_not_a_missing_bulk_route(
    fake_dapr: FakeDapr,  # noqa: F811
    publisher: DaprPublisher,
) -> None:
    fake_dapr.known_pubsubs = {"another-pubsub"}
    result = await publisher.publish([record(1, "task-events", "k1")])

    assert "HTTP 404" in result.failed[1] and "ERR_PUBSUB_NOT_FOUND" in result.failed[1]
    assert publisher.bulk_supported is True


async def test_api_token_is_sent_to_the_sidecar(fake_dapr: FakeDapr) -> None:  # noqa: F811
    fake_dapr.api_token = "s3cret"
    with_token = DaprPublisher(fake_dapr.url, api_token="s3cret")
    without = DaprPublisher(fake_dapr.url)
    try:
        ok = await with_token.publish([record(1, "task-events", "k1")])
        refused = await without.publish([record(2, "task-events", "k1")])
    finally:
        await with_token.close()
        await without.close()
    assert ok.published == [1]
    assert fake_dapr.requests[0].headers["dapr-api-token"] == "s3cret"
    assert "HTTP 401" in refused.failed[2]
    assert [e.entry_id for e in fake_dapr.published] == ["1"]


async def test_empty_batch_sends_nothing(fake_dapr: FakeDapr, publisher: DaprPublisher) -> None:  # noqa: F811
    result = await publisher.publish([])
    assert (result.published, result.failed) == ([], {})
    assert fake_dapr.requests == []


# -- jobs ----------------------------------------------------------------------------------------


@pytest.fixture
async def jobs(fake_dapr: FakeDapr) -> Any:  # noqa: F811
    client = DaprJobs(fake_dapr.url)
    yield client
    await client.close()


async def test_schedule_get_replace_delete(fake_dapr: FakeDapr, jobs: DaprJobs) -> None:  # noqa: F811
    name = reminder_job_name(uuid.UUID("0b1e1f0e-8c4b-4f1e-9f55-3c7a1d2b9e10"))
    assert name == "reminder-0b1e1f0e-8c4b-4f1e-9f55-3c7a1d2b9e10"
    cest = timezone(timedelta(hours=2))
    due = datetime(2999, 3, 30, 9, 0, tzinfo=cest)

    await jobs.schedule(name, due, {"reminder_id": "r1", "attempt": 1})

    sent = fake_dapr.requests[-1]
    assert (sent.method, sent.path) == ("POST", f"/v1.0-alpha1/jobs/{name}")
    assert json.loads(sent.body) == {
        "dueTime": "2999-03-30T07:00:00Z",
        "data": {"reminder_id": "r1", "attempt": 1},
        "overwrite": True,
    }
    got = await jobs.get(name)
    assert got is not None
    assert got["name"] == name
    assert got["dueTime"] == "2999-03-30T07:00:00Z"
    assert got["data"] == {"reminder_id": "r1", "attempt": 1}

    await jobs.schedule(name, due + timedelta(minutes=5), {"reminder_id": "r1", "attempt": 2})
    got = await jobs.get(name)
    assert got is not None and got["data"]["attempt"] == 2 and got["dueTime"] == "2999-03-30T07:05:00Z"

    with pytest.raises(DaprError) as refused:
        await jobs.schedule(name, due, {"reminder_id": "r1"}, overwrite=False)
    assert refused.value.status == 500
    assert (await jobs.get(name) or {})["data"]["attempt"] == 2

    assert await jobs.delete(name) is True
    assert await jobs.get(name) is None
    assert await jobs.delete(name) is False
    assert name not in fake_dapr.jobs


async def test_unknown_job_as_daprd_reports_it(fake_dapr: FakeDapr, jobs: DaprJobs) -> None:  # noqa: F811
    fake_dapr.use_daprd_not_found()
    assert await jobs.get("reminder-missing") is None  # daprd: 500 SCHEDULER_GET_JOB "job not found"
    assert await jobs.delete("reminder-missing") is True  # daprd: 204 for an unknown name
    fake_dapr.fail_next(1)
    with pytest.raises(DaprError):  # a 500 that is not "not found" stays an error
        await jobs.get("reminder-missing")


async def test_naive_datetime_and_bad_names_are_rejected_before_any_call(
    fake_dapr: FakeDapr,  # noqa: F811
    jobs: DaprJobs,
) -> None:
    with pytest.raises(ValueError, match="naive"):
        await jobs.schedule("reminder-x", datetime(2999, 1, 1, 9, 0), {})  # noqa: DTZ001
    with pytest.raises(ValueError):
        await jobs.schedule("", datetime(2999, 1, 1, tzinfo=UTC), {})
    with pytest.raises(ValueError):
        await jobs.schedule("a|b", datetime(2999, 1, 1, tzinfo=UTC), {})
    assert fake_dapr.requests == []


async def test_microseconds_are_kept_so_a_job_never_fires_early(fake_dapr: FakeDapr, jobs: DaprJobs) -> None:  # noqa: F811
    await jobs.schedule("j", datetime(2999, 1, 1, 8, 59, 59, 250000, tzinfo=UTC), {})
    assert json.loads(fake_dapr.requests[-1].body)["dueTime"] == "2999-01-01T08:59:59.250000Z"


async def test_jobs_api_version_is_configurable(fake_dapr: FakeDapr) -> None:  # noqa: F811
    stable = DaprJobs(fake_dapr.url, api_version="v1.0")
    try:
        await stable.schedule("j1", datetime(2999, 1, 1, tzinfo=UTC), {"a": 1})
        assert await stable.get("j1") is not None
    finally:
        await stable.close()
    assert [r.path for r in fake_dapr.requests] == ["/v1.0/jobs/j1", "/v1.0/jobs/j1"]


async def test_sidecar_errors_raise_dapr_error(fake_dapr: FakeDapr, jobs: DaprJobs) -> None:  # noqa: F811
    fake_dapr.fail_next(1)
    with pytest.raises(DaprError) as err:
        await jobs.schedule("j", datetime(2999, 1, 1, tzinfo=UTC), {})
    assert err.value.status == 500
    assert "ERR_INJECTED" in err.value.body
    fake_dapr.fail_next(1, status=503)
    with pytest.raises(DaprError) as err:
        await jobs.delete("j")
    assert err.value.status == 503


async def test_jobs_send_the_api_token(fake_dapr: FakeDapr) -> None:  # noqa: F811
    fake_dapr.api_token = "tok"
    client = DaprJobs(fake_dapr.url, api_token="tok")
    anonymous = DaprJobs(fake_dapr.url)
    try:
        await client.schedule("j", datetime(2999, 1, 1, tzinfo=UTC), {})
        with pytest.raises(DaprError) as err:
            await anonymous.get("j")
    finally:
        await client.close()
        await anonymous.close()
    assert err.value.status == 401
    assert fake_dapr.requests[0].headers["dapr-api-token"] == "tok"


# -- an app behind the sidecar: job callbacks and service invocation -----------------------------


@pytest.fixture
def app_server() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    app = FastAPI()

    @app.post("/job/{name}")
    async def job(name: str, request: Request) -> dict[str, str]:
        received.append({"kind": "job", "name": name, "body": await request.json(), "at": datetime.now(UTC)})
        return {"status": "SUCCESS"}

    @app.api_route("/tasks/{rest:path}", methods=["GET", "POST", "DELETE"])
    async def tasks(rest: str, request: Request) -> Response:
        body = await request.body()
        received.append({"kind": "invoke", "path": rest, "method": request.method, "headers": dict(request.headers)})
        if rest == "boom":
            return Response("app exploded", status_code=500)
        if rest == "missing":
            return Response('{"detail":"no such task"}', status_code=404, media_type="application/json")
        echo = {"path": rest, "method": request.method, "body": json.loads(body) if body else None}
        return Response(json.dumps(echo), status_code=201, media_type="application/json")

    with ServerThread(app) as server:
        yield server.url, received


async def test_a_due_job_calls_back_the_app_with_its_data(
    fake_dapr: FakeDapr,  # noqa: F811
    jobs: DaprJobs,
    app_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = app_server
    fake_dapr.set_job_callback_target(url)
    name = reminder_job_name(uuid.uuid4())
    due = datetime.now(UTC) + timedelta(seconds=1)

    await jobs.schedule(name, due, {"reminder_id": "r-42", "task_id": "t-7"})
    assert received == []  # not before its time
    await fake_dapr.wait_for(lambda: len(fake_dapr.callbacks) >= 1, seconds=5)

    assert [(r["name"], r["body"]) for r in received] == [(name, {"reminder_id": "r-42", "task_id": "t-7"})]
    assert received[0]["at"] >= due
    callback = fake_dapr.callbacks[0]
    assert (callback.name, callback.status, callback.url) == (name, 200, f"{url}/job/{name}")
    await fake_dapr.wait_for(lambda: name not in fake_dapr.jobs, seconds=2)  # one-shot: gone once delivered
    assert await jobs.get(name) is None


async def test_a_deleted_job_never_calls_back(
    fake_dapr: FakeDapr,  # noqa: F811
    jobs: DaprJobs,
    app_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = app_server
    fake_dapr.set_job_callback_target(url)
    await jobs.schedule("reminder-cancelled", datetime.now(UTC) + timedelta(milliseconds=300), {"x": 1})
    await jobs.schedule("reminder-kept", datetime.now(UTC) + timedelta(milliseconds=600), {"x": 2})
    assert await jobs.delete("reminder-cancelled") is True

    await fake_dapr.wait_for(lambda: len(fake_dapr.callbacks) >= 1, seconds=5)
    assert [r["name"] for r in received] == ["reminder-kept"]


@pytest.fixture
async def invoker(fake_dapr: FakeDapr) -> Any:  # noqa: F811
    client = DaprInvoker(fake_dapr.url, api_token="tok")
    yield client
    await client.close()


async def test_service_invocation_reaches_the_app_and_returns_its_response(
    fake_dapr: FakeDapr,  # noqa: F811
    invoker: DaprInvoker,
    app_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = app_server
    fake_dapr.set_app("agent-gateway", url)

    resp = await invoker.invoke(
        "agent-gateway", "tasks/sync", {"task_id": "t-1"}, headers={"traceparent": "00-abc-def-01"}
    )
    assert resp.status_code == 201
    assert resp.json() == {"path": "sync", "method": "POST", "body": {"task_id": "t-1"}}
    assert received[0]["headers"]["traceparent"] == "00-abc-def-01"
    assert "dapr-api-token" not in received[0]["headers"]
    assert fake_dapr.requests[-1].headers["dapr-api-token"] == "tok"

    got = await invoker.invoke("agent-gateway", "tasks/list", {}, http_verb="GET")
    assert got.json() == {"path": "list", "method": "GET", "body": None}

    missing = await invoker.invoke("agent-gateway", "tasks/missing", {}, http_verb="DELETE")
    assert missing.status_code == 404  # an app's 4xx is the caller's to handle
    assert [(i.app_id, i.method, i.http_verb, i.status) for i in fake_dapr.invocations] == [
        ("agent-gateway", "tasks/sync", "POST", 201),
        ("agent-gateway", "tasks/list", "GET", 201),
        ("agent-gateway", "tasks/missing", "DELETE", 404),
    ]


async def test_service_invocation_raises_on_5xx(
    fake_dapr: FakeDapr,  # noqa: F811
    invoker: DaprInvoker,
    app_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, _ = app_server
    fake_dapr.set_app("agent-gateway", url)
    with pytest.raises(DaprError) as from_app:
        await invoker.invoke("agent-gateway", "tasks/boom", {})
    assert (from_app.value.status, from_app.value.body) == (500, "app exploded")
    with pytest.raises(DaprError) as unknown_app:
        await invoker.invoke("no-such-app", "tasks/x", {})
    assert unknown_app.value.status == 500 and "ERR_DIRECT_INVOKE" in unknown_app.value.body


class _RefuseFirstConnections(httpx.AsyncBaseTransport):
    """A real transport that reports "connection refused" for the first ``n`` requests."""

    def __init__(self, n: int) -> None:
        self.refusals_left = n
        self.attempts = 0
        self._real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.refusals_left:
            self.refusals_left -= 1
            raise httpx.ConnectError("connection refused", request=request)
        return await self._real.handle_async_request(request)

    async def aclose(self) -> None:
        await self._real.aclose()


async def test_service_invocation_retries_once_when_it_cannot_connect(
    fake_dapr: FakeDapr,  # noqa: F811
    app_server: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = app_server
    fake_dapr.set_app("agent-gateway", url)
    flaky = _RefuseFirstConnections(1)
    async with httpx.AsyncClient(transport=flaky) as http:
        resp = await DaprInvoker(fake_dapr.url, client=http, retry_backoff=0.01).invoke(
            "agent-gateway", "tasks/sync", {"n": 1}
        )
    assert resp.status_code == 201
    assert flaky.attempts == 2
    assert len(received) == 1  # the method ran once

    down = _RefuseFirstConnections(2)
    async with httpx.AsyncClient(transport=down) as http:
        with pytest.raises(DaprError) as err:
            await DaprInvoker(fake_dapr.url, client=http, retry_backoff=0.01).invoke(
                "agent-gateway", "tasks/sync", {"n": 2}
            )
    assert err.value.status is None and "ConnectError" in err.value.body
    assert down.attempts == 2
    assert len(received) == 1


async def test_the_fake_sidecar_refuses_what_daprd_refuses(fake_dapr: FakeDapr) -> None:  # noqa: F811
    """Guards the fake itself: a client sending these would fail its tests, as against daprd."""
    async with httpx.AsyncClient(base_url=fake_dapr.url) as http:
        naive = await http.post("/v1.0-alpha1/jobs/j", json={"dueTime": "2999-01-01T09:00:00", "data": {}})
        no_due = await http.post("/v1.0-alpha1/jobs/j", json={"data": {}})
        name_in_body = await http.post("/v1.0-alpha1/jobs/j", json={"name": "j", "dueTime": "10s"})
        not_json = await http.post("/v1.0-alpha1/jobs/j", content=b"dueTime=10s")
        no_entry_id = await http.post(
            "/v1.0-alpha1/publish/bulk/p/t", json=[{"event": {}, "contentType": CLOUDEVENTS_CONTENT_TYPE}]
        )
        twice = [{"entryId": "1", "event": {}, "contentType": CLOUDEVENTS_CONTENT_TYPE}] * 2
        duplicate_ids = await http.post("/v1.0-alpha1/publish/bulk/p/t", json=twice)
        not_a_cloudevent = await http.post(
            "/v1.0/publish/p/t", content=b"[1, 2]", headers={"Content-Type": CLOUDEVENTS_CONTENT_TYPE}
        )
    assert [r.status_code for r in (naive, no_due, name_in_body, not_json)] == [400, 400, 400, 400]
    assert no_due.json()["errorCode"] == "SCHEDULER_SCHEDULE_EMPTY"
    assert [r.status_code for r in (no_entry_id, duplicate_ids, not_a_cloudevent)] == [400, 400, 400]
    assert fake_dapr.jobs == {} and fake_dapr.published == []
