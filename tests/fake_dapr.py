"""A fake Dapr sidecar: a real HTTP server that speaks the parts of daprd's HTTP API we use.

Load as a plugin (``-p tests.fake_dapr``) or import the fixture into a test module::

    from tests.fake_dapr import fake_dapr  # noqa: F401

Fixture ``fake_dapr`` (function scope) yields a started :class:`FakeDapr` on 127.0.0.1 and a
free port (Starlette served by uvicorn in a background thread); the port is freed at teardown.

Routes, validated the way daprd validates them (so a client bug fails a test):

* ``POST|PUT /v1.0/publish/{pubsub}/{topic}[?metadata.k=v]`` — 204. With
  ``Content-Type: application/cloudevents+json`` the body must be a JSON object (400
  ``ERR_PUBSUB_CLOUD_EVENTS_SER`` otherwise) and is forwarded as is; any other content type
  would be wrapped by daprd in a new CloudEvent, which the record shows as ``wrapped=True``.
* ``POST|PUT /v1.0-alpha1/publish/bulk/{pubsub}/{topic}`` — body a JSON array of
  ``{entryId, event, contentType, metadata}``; entry ids present and unique (400
  ``ERR_PUBSUB_EVENTS_SER``); 204 when all went out, else 500
  ``{"failedEntries": [{"entryId", "error"}], "errorCode": "ERR_PUBSUB_PUBLISH_MESSAGE"}``.
* ``POST|GET|DELETE /v1.0-alpha1/jobs/{name}`` and ``/v1.0/jobs/{name}`` — POST needs a JSON
  object with ``dueTime`` (RFC 3339 with offset, or a Go duration such as ``"10s"``) and no
  ``name``; 204. An existing job without ``"overwrite": true`` is a 500, as in daprd. GET
  answers the job as ``{name, dueTime, data}`` with ``data`` in daprd's protojson form
  (``{"@type": "type.googleapis.com/google.protobuf.Value", "value": ...}``). Unknown job: 404 for
  GET and DELETE, or, after :meth:`FakeDapr.use_daprd_not_found`, what daprd really answers
  (GET 500 ``SCHEDULER_GET_JOB`` "job not found", DELETE 204). At ``dueTime`` the fake calls
  ``POST {job callback target}/job/{name}`` with the data as JSON body, like daprd does; a
  non-2xx answer other than 404 is retried 3 times, 1 s apart (daprd's default failure policy);
  every attempt lands in ``callbacks``; the one-shot job is then removed.
* ``* /v1.0/invoke/{app_id}/method/{method}`` — forwarded to the URL set with
  :meth:`FakeDapr.set_app` with verb, query, body and headers (minus ``dapr-api-token`` and
  hop-by-hop headers); the app's status, body and content type come back. Unknown app or app
  down: 500 ``ERR_DIRECT_INVOKE``.

Not part of daprd: ``fail_next``, ``fail_entries``, ``disable_bulk`` inject failures. With
``api_token`` set, calls without a matching ``dapr-api-token`` header get 401 as from daprd.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

CLOUDEVENTS_JSON = "application/cloudevents+json"
PROTOBUF_VALUE_TYPE = "type.googleapis.com/google.protobuf.Value"
JOB_RETRIES = 3
JOB_RETRY_INTERVAL = 1.0
_HOP_BY_HOP = frozenset(
    {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "upgrade", "te", "dapr-api-token"}
)
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")
_GO_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


# -- what the fake records -------------------------------------------------------------------


@dataclass(frozen=True)
class SidecarRequest:
    """Any call that reached the fake sidecar."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class PublishedEvent:
    """One event daprd accepted and handed to the broker."""

    pubsub: str
    topic: str
    event: Any  # the event as parsed from the request
    content_type: str
    metadata: dict[str, str]  # request-level ``metadata.*`` merged with entry metadata
    via: str  # "publish" or "bulk"
    body: bytes  # the whole HTTP request body that carried it
    entry_id: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def partition_key(self) -> str | None:
        return self.metadata.get("partitionKey")

    @property
    def wrapped(self) -> bool:
        """Whether daprd would wrap this event in a new CloudEvent envelope."""
        raw = self.metadata.get("rawPayload", "").lower() == "true"
        return not raw and self.content_type.split(";")[0].strip().lower() != CLOUDEVENTS_JSON


@dataclass
class StoredJob:
    name: str
    due_time: str  # as sent
    due_at: datetime
    data: Any
    overwrite: bool
    request_body: dict[str, Any]


@dataclass(frozen=True)
class JobCallback:
    """One attempt to deliver a due job to the app."""

    name: str
    data: Any
    url: str | None
    status: int | None  # None when the app could not be reached
    response_body: str
    at: datetime
    error: str | None = None


@dataclass(frozen=True)
class Invocation:
    app_id: str
    method: str
    http_verb: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    status: int
    response_body: bytes


def _dapr_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"errorCode": code, "message": message}, status_code=status)


def parse_due_time(value: Any, now: datetime) -> datetime:
    """daprd's accepted ``dueTime`` forms we support: RFC 3339 with offset, or a Go duration."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"dueTime must be a non-empty string, got {value!r}")
    text = value.strip()
    if _RFC3339.match(text):
        return datetime.fromisoformat(text.replace("z", "Z"))  # digits past microseconds are dropped
    if text == "0":
        return now
    pos, seconds = 0, 0.0
    for m in _GO_DURATION_PART.finditer(text):
        if m.start() != pos:
            break
        seconds += float(m.group(1)) * _GO_UNITS[m.group(2)]
        pos = m.end()
    if pos == 0 or pos != len(text):
        raise ValueError(f"dueTime {value!r} is neither RFC 3339 with an offset nor a Go duration")
    return now + timedelta(seconds=seconds)


# -- the fake --------------------------------------------------------------------------------


class FakeDapr:
    """State and behaviour of the fake sidecar. Use :attr:`url` as the Dapr HTTP endpoint."""

    def __init__(self, *, api_token: str | None = None, app_url: str | None = None) -> None:
        self.api_token = api_token
        self.requests: list[SidecarRequest] = []
        self.published: list[PublishedEvent] = []
        self.jobs: dict[str, StoredJob] = {}
        self.callbacks: list[JobCallback] = []
        self.invocations: list[Invocation] = []
        self.known_pubsubs: set[str] | None = None  # None: every pub/sub name exists
        self._lock = threading.Lock()
        self._fail_next: list[int] = []  # statuses of the next calls to fail
        self._fail_entries: set[str] = set()
        self._bulk_enabled = True
        self._daprd_not_found = False
        self._apps: dict[str, str] = {}
        self._job_target = app_url.rstrip("/") if app_url else None
        self._job_tasks: dict[str, asyncio.Task[None]] = {}
        self._server: ServerThread | None = None

    # -- control -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("fake dapr is not running")
        return self._server.url

    def fail_next(self, n: int, status: int = 500) -> None:
        """The next ``n`` sidecar calls (any route) answer ``status``."""
        with self._lock:
            self._fail_next.extend([status] * n)

    def fail_entries(self, ids: Iterable[str | int]) -> None:
        """Bulk entries with these ids fail in every bulk answer until called again with other ids."""
        with self._lock:
            self._fail_entries = {str(i) for i in ids}

    def disable_bulk(self) -> None:
        """Answer the bulk route with 404, like a sidecar without bulk publish."""
        self._bulk_enabled = False

    def use_daprd_not_found(self) -> None:
        """Unknown jobs as daprd reports them: GET 500 SCHEDULER_GET_JOB, DELETE 204."""
        self._daprd_not_found = True

    def set_app(self, app_id: str, url: str) -> None:
        """Where service invocation of ``app_id`` goes."""
        self._apps[app_id] = url.rstrip("/")

    def set_job_callback_target(self, url: str) -> None:
        """The app that receives ``POST /job/{name}`` (daprd's own app channel)."""
        self._job_target = url.rstrip("/")

    async def wait_for(self, predicate: Callable[[], bool], seconds: float = 5.0) -> None:
        """Poll ``predicate`` until true; TimeoutError after ``seconds``."""
        with anyio.fail_after(seconds):
            while True:  # the state changes on the server thread, so poll
                if predicate():
                    return
                await anyio.sleep(0.02)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeDapr:
        self._server = ServerThread(self._app()).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def _app(self) -> Starlette:
        pub = ["POST", "PUT"]
        return Starlette(
            routes=[
                Route("/v1.0/publish/{pubsub}/{topic:path}", self._publish, methods=pub),
                Route("/v1.0-alpha1/publish/bulk/{pubsub}/{topic:path}", self._bulk_publish, methods=pub),
                Route("/v1.0-alpha1/jobs/{name}", self._jobs, methods=["POST", "GET", "DELETE"]),
                Route("/v1.0/jobs/{name}", self._jobs, methods=["POST", "GET", "DELETE"]),
                Route(
                    "/v1.0/invoke/{app_id}/method/{method:path}",
                    self._invoke,
                    methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
                ),
            ]
        )

    # -- shared request handling ---------------------------------------------------------

    async def _enter(self, request: Request) -> tuple[bytes, Response | None]:
        """Record the call; an injected failure or a bad token ends it here."""
        body = await request.body()
        self.requests.append(
            SidecarRequest(
                method=request.method,
                path=request.url.path,
                query=dict(request.query_params),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=body,
            )
        )
        if self.api_token is not None and request.headers.get("dapr-api-token") != self.api_token:
            return body, PlainTextResponse("invalid api token", status_code=401)
        with self._lock:
            status = self._fail_next.pop(0) if self._fail_next else None
        if status is not None:
            return body, self._injected_failure(request, body, status)
        return body, None

    def _injected_failure(self, request: Request, body: bytes, status: int) -> Response:
        if "/publish/bulk/" in request.url.path and status == 500:
            try:
                ids = [str(e.get("entryId")) for e in json.loads(body)]
            except (ValueError, TypeError, AttributeError):
                ids = []
            return JSONResponse(
                {
                    "failedEntries": [{"entryId": i, "error": "injected failure: broker unavailable"} for i in ids],
                    "errorCode": "ERR_PUBSUB_PUBLISH_MESSAGE",
                },
                status_code=500,
            )
        return _dapr_error(status, "ERR_INJECTED", f"injected failure {status}")

    def _pubsub_missing(self, pubsub: str) -> Response | None:
        if self.known_pubsubs is not None and pubsub not in self.known_pubsubs:
            return _dapr_error(404, "ERR_PUBSUB_NOT_FOUND", f"pubsub {pubsub} not found")
        return None

    # -- pub/sub -------------------------------------------------------------------------

    async def _publish(self, request: Request) -> Response:
        body, early = await self._enter(request)
        if early is not None:
            return early
        pubsub, topic = request.path_params["pubsub"], request.path_params["topic"]
        if (missing := self._pubsub_missing(pubsub)) is not None:
            return missing
        content_type = request.headers.get("content-type", "text/plain")
        metadata = {k[len("metadata.") :]: v for k, v in request.query_params.items() if k.startswith("metadata.")}
        event: Any
        if content_type.split(";")[0].strip().lower() in (CLOUDEVENTS_JSON, "application/json"):
            try:
                event = json.loads(body)
            except ValueError as exc:
                return _dapr_error(400, "ERR_PUBSUB_CLOUD_EVENTS_SER", f"error when unmarshalling the event: {exc}")
            if content_type.startswith(CLOUDEVENTS_JSON) and not isinstance(event, dict):
                return _dapr_error(400, "ERR_PUBSUB_CLOUD_EVENTS_SER", "a CloudEvent must be a JSON object")
        else:
            event = body.decode(errors="replace")
        self.published.append(
            PublishedEvent(
                pubsub=pubsub,
                topic=topic,
                event=event,
                content_type=content_type,
                metadata=metadata,
                via="publish",
                body=body,
                headers={k.lower(): v for k, v in request.headers.items()},
            )
        )
        return Response(status_code=204)

    async def _bulk_publish(self, request: Request) -> Response:
        body, early = await self._enter(request)
        if early is not None:
            return early
        if not self._bulk_enabled:
            return PlainTextResponse("404 page not found", status_code=404)
        pubsub, topic = request.path_params["pubsub"], request.path_params["topic"]
        if (missing := self._pubsub_missing(pubsub)) is not None:
            return missing
        try:
            entries = json.loads(body)
        except ValueError as exc:
            return _dapr_error(400, "ERR_PUBSUB_EVENTS_SER", f"error when unmarshaling the request: {exc}")
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            return _dapr_error(400, "ERR_PUBSUB_EVENTS_SER", "the request body must be a JSON array of entries")
        request_md = {k[len("metadata.") :]: v for k, v in request.query_params.items() if k.startswith("metadata.")}
        seen: set[str] = set()
        for e in entries:
            entry_id = e.get("entryId")
            if not isinstance(entry_id, str) or not entry_id or entry_id in seen:
                return _dapr_error(400, "ERR_PUBSUB_EVENTS_SER", "entryId is duplicated or not present for entry")
            seen.add(entry_id)
            ct = str(e.get("contentType") or "")
            if ct.split(";")[0].strip().lower() == CLOUDEVENTS_JSON and not isinstance(e.get("event"), dict):
                return _dapr_error(
                    400, "ERR_PUBSUB_CLOUD_EVENTS_SER", f"entry {entry_id}: a CloudEvent must be an object"
                )
            md = e.get("metadata")
            if md is not None and not (isinstance(md, dict) and all(isinstance(v, str) for v in md.values())):
                return _dapr_error(400, "ERR_PUBSUB_EVENTS_SER", f"entry {entry_id}: metadata must map strings")
        with self._lock:
            failing = set(self._fail_entries)
        failed = []
        headers = {k.lower(): v for k, v in request.headers.items()}
        for e in entries:
            if e["entryId"] in failing:
                failed.append({"entryId": e["entryId"], "error": "injected failure for this entry"})
                continue
            self.published.append(
                PublishedEvent(
                    pubsub=pubsub,
                    topic=topic,
                    event=e.get("event"),
                    content_type=str(e.get("contentType") or ""),
                    metadata={**request_md, **(e.get("metadata") or {})},
                    via="bulk",
                    body=body,
                    entry_id=e["entryId"],
                    headers=headers,
                )
            )
        if failed:
            return JSONResponse({"failedEntries": failed, "errorCode": "ERR_PUBSUB_PUBLISH_MESSAGE"}, status_code=500)
        return Response(status_code=204)

    # -- jobs ------------------------------------------------------------------------------

    async def _jobs(self, request: Request) -> Response:
        body, early = await self._enter(request)
        if early is not None:
            return early
        name = request.path_params["name"].strip()
        if not name or "|" in name:
            return _dapr_error(400, "SCHEDULER_JOB_NAME_EMPTY", "Name is empty")
        if request.method == "GET":
            job = self.jobs.get(name)
            if job is None:
                if self._daprd_not_found:
                    return _dapr_error(
                        500, "SCHEDULER_GET_JOB", f"failed to get job due to: rpc error: job not found: {name}"
                    )
                return _dapr_error(404, "SCHEDULER_JOB_NOT_FOUND", f"job {name} not found")
            return JSONResponse(
                {"name": job.name, "dueTime": job.due_time, "data": {"@type": PROTOBUF_VALUE_TYPE, "value": job.data}}
            )
        if request.method == "DELETE":
            existed = self.jobs.pop(name, None) is not None
            task = self._job_tasks.pop(name, None)
            if task is not None:
                task.cancel()
            if not existed and not self._daprd_not_found:
                return _dapr_error(404, "SCHEDULER_JOB_NOT_FOUND", f"job {name} not found")
            return Response(status_code=204)
        return self._schedule(name, body)

    def _schedule(self, name: str, body: bytes) -> Response:
        try:
            spec = json.loads(body)
        except ValueError as exc:
            return _dapr_error(400, "ERR_MALFORMED_REQUEST", f"failed deserializing HTTP body: {exc}")
        if not isinstance(spec, dict):
            return _dapr_error(400, "ERR_MALFORMED_REQUEST", "the job must be a JSON object")
        if "name" in spec:
            return _dapr_error(400, "SCHEDULER_JOB_NAME", "Set the job name in the url only")
        due_value = spec.get("dueTime", spec.get("due_time"))
        if due_value is None and spec.get("schedule") is None:
            return _dapr_error(400, "SCHEDULER_SCHEDULE_EMPTY", "Schedule is empty")
        if spec.get("schedule") is not None:
            return _dapr_error(501, "FAKE_UNSUPPORTED", "the fake sidecar supports one-shot dueTime jobs only")
        now = datetime.now(UTC)
        try:
            due_at = parse_due_time(due_value, now)
        except ValueError as exc:
            return _dapr_error(400, "SCHEDULER_SCHEDULE_JOB", f"error parsing due time: {exc}")
        overwrite = spec.get("overwrite", False)
        if not isinstance(overwrite, bool):
            return _dapr_error(400, "ERR_MALFORMED_REQUEST", "overwrite must be a boolean")
        if name in self.jobs and not overwrite:
            return _dapr_error(500, "SCHEDULER_SCHEDULE_JOB", f"failed to schedule job due to: job {name} exists")
        old = self._job_tasks.pop(name, None)
        if old is not None:
            old.cancel()
        job = StoredJob(
            name=name,
            due_time=str(due_value),
            due_at=due_at,
            data=spec.get("data"),
            overwrite=overwrite,
            request_body=spec,
        )
        self.jobs[name] = job
        self._job_tasks[name] = asyncio.get_running_loop().create_task(self._trigger(job))
        return Response(status_code=204)

    async def _trigger(self, job: StoredJob) -> None:
        delay = (job.due_at - datetime.now(UTC)).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        for attempt in range(1 + JOB_RETRIES):
            if attempt:
                await asyncio.sleep(JOB_RETRY_INTERVAL)
            if await self._deliver(job):
                break
        if self.jobs.get(job.name) is job:
            del self.jobs[job.name]
            self._job_tasks.pop(job.name, None)

    async def _deliver(self, job: StoredJob) -> bool:
        target = self._job_target
        url = f"{target}/job/{job.name}" if target else None
        status: int | None = None
        text, error = "", None
        if url is None:
            error = "received job, but app channel not initialized"
        else:
            try:
                async with httpx.AsyncClient(timeout=10.0) as client:
                    resp = await client.post(
                        url, content=json.dumps(job.data).encode(), headers={"Content-Type": "application/json"}
                    )
                status, text = resp.status_code, resp.text
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
        self.callbacks.append(
            JobCallback(
                name=job.name,
                data=job.data,
                url=url,
                status=status,
                response_body=text,
                at=datetime.now(UTC),
                error=error,
            )
        )
        # daprd treats 404 from the app as final (not retriable), i.e. done.
        return status is not None and (200 <= status < 300 or status == 404)

    # -- service invocation -----------------------------------------------------------------

    async def _invoke(self, request: Request) -> Response:
        body, early = await self._enter(request)
        if early is not None:
            return early
        app_id, method = request.path_params["app_id"], request.path_params["method"]
        headers = {k.lower(): v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        query = dict(request.query_params)
        target = self._apps.get(app_id)
        if target is None:
            return self._record_invocation(
                app_id, method, request.method, query, headers, body,
                _dapr_error(500, "ERR_DIRECT_INVOKE", f"failed to invoke, id: {app_id}, err: couldn't find service"),
            )  # fmt: skip
        try:
            async with httpx.AsyncClient(timeout=30.0) as client:
                resp = await client.request(
                    request.method, f"{target}/{method}", params=query, content=body, headers=headers
                )
        except httpx.HTTPError as exc:
            return self._record_invocation(
                app_id, method, request.method, query, headers, body,
                _dapr_error(500, "ERR_DIRECT_INVOKE", f"failed to invoke, id: {app_id}, err: {exc}"),
            )  # fmt: skip
        out_headers = {"content-type": resp.headers["content-type"]} if "content-type" in resp.headers else {}
        return self._record_invocation(
            app_id, method, request.method, query, headers, body,
            Response(content=resp.content, status_code=resp.status_code, headers=out_headers),
        )  # fmt: skip

    def _record_invocation(
        self,
        app_id: str,
        method: str,
        verb: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        response: Response,
    ) -> Response:
        self.invocations.append(
            Invocation(
                app_id=app_id,
                method=method,
                http_verb=verb,
                query=query,
                headers=headers,
                body=body,
                status=response.status_code,
                response_body=bytes(response.body),
            )
        )
        return response


# -- serving ---------------------------------------------------------------------------------


class ServerThread:
    """Serve an ASGI app with uvicorn on 127.0.0.1 (a port the OS picks) in a daemon thread."""

    def __init__(self, app: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name=f"uvicorn-{port}", daemon=True
        )

    def start(self) -> ServerThread:
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def fake_dapr() -> Iterator[FakeDapr]:
    fake = FakeDapr().start()
    try:
        yield fake
    finally:
        fake.stop()
