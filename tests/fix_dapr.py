"""Real Dapr for the tests: ``daprd`` in self-hosted mode beside the gateway, with the Dapr scheduler,
the session's Kafka broker and Postgres, and the components of ``infra/dapr`` (the cluster's own files).

Load with ``-p tests.fix_dapr``.

Binaries come from ``scripts/dapr_build.py`` (built once per machine into
``~/.cache/todo-cloud/dapr-build/<version>/bin``, about five minutes cold on two cores), or from
``TODO_CLOUD_DAPRD`` and ``TODO_CLOUD_DAPR_SCHEDULER`` when both are set. When they cannot be built
here (no Go toolchain, no Go module proxy) the tests that need them are skipped with that reason;
a build that runs and fails is an error.

Fixtures:

* ``dapr_binaries``  (session) :class:`DaprBinaries` (``daprd``, ``scheduler``, ``version``).
* ``dapr_scheduler`` (session) a running scheduler (embedded etcd in a temp folder, free ports).
* ``start_daprd``    (function) factory ``start_daprd(app_id=..., app_port=..., resources=...) -> Daprd``.
* ``dapr_cluster``   (module) :class:`DaprCluster`: a database of its own, the topics, the gateway in
  cluster mode (``DAPR_ENABLED``) served over HTTP, its daprd (``--app-id agent-gateway``, API and app
  tokens set) and the local functions host on Kafka, its Dapr calls going through that daprd.

Components: :func:`derive_resources` reads ``infra/dapr/minikube/*.yaml``, ``resiliency.yaml`` and
``configuration.yaml`` and changes only what connects them to the cluster (:data:`ALLOWED_CHANGES`):
the Kafka brokers, the secret store (Kubernetes secrets do not exist here: ``secretstores.local.file``
with the same name and scopes, multi-valued like a Kubernetes Secret, serving the test database under
the secret name and key the state store's ``secretKeyRef`` names) and the trace exporter's endpoint.
The state store itself is unchanged: its connection string still comes from that secret.

Topics: Dapr publishes to the topics' real names (no test prefix), so the real-Dapr tests share one
database and one set of topics per module; no other test uses unprefixed topics.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml

from tests._scripts import load_script
from tests.fix_api import free_port
from tests.fix_pipeline import stop_process

ROOT = Path(__file__).resolve().parent.parent
INFRA_DAPR = ROOT / "infra" / "dapr"
APP_ID = "agent-gateway"


dapr_build = load_script("dapr_build.py", "todo_cloud_dapr_build")
DaprBinaries = dapr_build.DaprBinaries


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# -- processes ------------------------------------------------------------------------------------


class DaprProcess:
    """A Dapr binary run as a child process, its output in ``log``; stopped by its own pid."""

    name = "dapr"

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.log = log
        self._log_fh = log.open("ab")
        self.proc = subprocess.Popen(
            args,
            stdout=self._log_fh,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, probe: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{_tail(self.log)}")
            with contextlib.suppress(httpx.HTTPError):
                if probe():
                    return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f} s:\n{_tail(self.log)}")

    def stop(self, timeout: float = 10.0) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log_fh.close()

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


class DaprScheduler(DaprProcess):
    name = "dapr scheduler"

    def __init__(self, binary: Path, workdir: Path) -> None:
        self.port, self.healthz_port = free_port(), free_port()
        ports = {"metrics": free_port(), "etcd-client": free_port(), "etcd-peer": free_port()}
        args = [
            str(binary),
            "--log-level=info",
            "--id=dapr-scheduler-server-0",
            "--listen-address=127.0.0.1",
            f"--port={self.port}",
            f"--healthz-port={self.healthz_port}",
            "--healthz-listen-address=127.0.0.1",
            f"--metrics-port={ports['metrics']}",
            "--metrics-listen-address=127.0.0.1",
            f"--etcd-data-dir={workdir / 'etcd'}",
            f"--etcd-client-port={ports['etcd-client']}",
            f"--etcd-initial-cluster=dapr-scheduler-server-0=http://127.0.0.1:{ports['etcd-peer']}",
            f"--identity-directory-write={workdir / 'tls'}",
            "--etcd-backend-batch-interval=10ms",  # jobs are written at once, not in 50 ms batches
        ]
        super().__init__(args, workdir / "scheduler.log")
        self.address = f"127.0.0.1:{self.port}"
        self.wait_ready(
            lambda: httpx.get(f"http://127.0.0.1:{self.healthz_port}/healthz", timeout=2).status_code == 200, 60
        )


class Daprd(DaprProcess):
    """``daprd`` in self-hosted mode for one app; ``url`` is its HTTP API."""

    name = "daprd"

    def __init__(
        self,
        binary: Path,
        workdir: Path,
        *,
        app_id: str,
        resources: DerivedResources,
        scheduler: DaprScheduler,
        app_port: int | None = None,
        api_token: str | None = None,
        app_token: str | None = None,
        http_port: int | None = None,
        ready_timeout: float = 60.0,
    ) -> None:
        self.app_id = app_id
        self.http_port, self.grpc_port = http_port or free_port(), free_port()
        self.api_token = api_token
        args = [
            str(binary),
            "--mode=standalone",
            f"--app-id={app_id}",
            "--log-level=info",
            "--dapr-listen-addresses=127.0.0.1",
            f"--dapr-http-port={self.http_port}",
            f"--dapr-grpc-port={self.grpc_port}",
            f"--dapr-internal-grpc-port={free_port()}",
            "--dapr-internal-grpc-listen-address=127.0.0.1",
            f"--metrics-port={free_port()}",
            "--metrics-listen-address=127.0.0.1",
            f"--resources-path={resources.resources_dir}",
            f"--config={resources.config_file}",
            f"--scheduler-host-address={scheduler.address}",
            "--enable-mtls=false",
            "--dapr-graceful-shutdown-seconds=1",  # tests stop it when nothing is in flight (default 5 s)
        ]
        if app_port is not None:
            args += [f"--app-port={app_port}", "--app-protocol=http", "--app-channel-address=127.0.0.1"]
        env = {"DAPR_API_TOKEN": api_token or "", "APP_API_TOKEN": app_token or ""}
        super().__init__(args, workdir / f"daprd-{app_id}-{self.http_port}.log", env=env)
        self.url = f"http://127.0.0.1:{self.http_port}"
        # /v1.0/healthz answers 204 once components, the app channel and the API are up
        self.wait_ready(lambda: httpx.get(f"{self.url}/v1.0/healthz", timeout=2).status_code == 204, ready_timeout)

    @property
    def headers(self) -> dict[str, str]:
        return {"dapr-api-token": self.api_token} if self.api_token else {}

    def metadata(self) -> dict[str, Any]:
        r = httpx.get(f"{self.url}/v1.0/metadata", headers=self.headers, timeout=10)
        r.raise_for_status()
        return dict(r.json())

    def get_job(self, name: str) -> dict[str, Any] | None:
        """The job as daprd describes it (``data`` unwrapped), or None; read with the product's Jobs client."""
        from todo_core.scheduling.dapr_jobs import DaprJobs

        async def get() -> dict[str, Any] | None:
            jobs = DaprJobs(self.url, api_token=self.api_token)
            try:
                return await jobs.get(name)
            finally:
                await jobs.close()

        return asyncio.run(get())


# -- components derived from infra/dapr -----------------------------------------------------------

# ("<kind>/<name>", path) of every value the derivation may change; a difference anywhere else is a bug
ALLOWED_CHANGES: frozenset[tuple[str, str]] = frozenset(
    {
        ("Component/kafka-pubsub", "spec.metadata[brokers].value"),
        ("Component/secretstore", "spec.type"),
        ("Component/secretstore", "spec.metadata"),
        ("Configuration/todo-cloud", "spec.tracing.otel.endpointAddress"),
    }
)


@dataclass
class DerivedResources:
    resources_dir: Path
    config_file: Path
    secrets_file: Path
    # "<kind>/<name>" -> (document as in infra/dapr, document as written for daprd)
    documents: dict[str, tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=dict)


def _load_yaml(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict), path
    return doc


def _set_metadata(doc: dict[str, Any], name: str, value: str) -> None:
    items = doc["spec"]["metadata"]
    (item,) = [m for m in items if m["name"] == name]
    item["value"] = value


def derive_resources(
    out_dir: Path,
    *,
    kafka_brokers: str,
    secret_values: dict[tuple[str, str], str],
    otel_endpoint: str,
    source: Path = INFRA_DAPR,
    flavour: str = "minikube",
) -> DerivedResources:
    """The cluster's Dapr resources with local connection settings (see module doc), written to ``out_dir``.

    ``secret_values`` gives, per ``(component, metadata item)`` read from a secret, the value to serve;
    it lands in the local secret store under the secret name and key the component names, whatever they
    are. A secretKeyRef without a value is an error here (daprd would silently read it as empty)."""
    resources_dir = out_dir / "resources"
    resources_dir.mkdir(parents=True, exist_ok=True)
    secrets_file = out_dir / "secrets.json"
    derived = DerivedResources(resources_dir, out_dir / "configuration.yaml", secrets_file)
    store: dict[str, dict[str, str]] = {}

    for path in [*sorted((source / flavour).glob("*.yaml")), source / "resiliency.yaml"]:
        original = _load_yaml(path)
        doc = copy.deepcopy(original)
        name = doc["metadata"]["name"]
        if doc["kind"] == "Component" and doc["spec"]["type"].startswith("pubsub.kafka"):
            _set_metadata(doc, "brokers", kafka_brokers)
        if doc["kind"] == "Component" and doc["spec"]["type"] == "secretstores.kubernetes":
            doc["spec"]["type"] = "secretstores.local.file"
            doc["spec"]["metadata"] = [
                {"name": "secretsFile", "value": str(secrets_file)},
                {"name": "multiValued", "value": "true"},  # secret name -> keys, as a Kubernetes Secret
            ]
        if doc["kind"] == "Component":
            for item in doc["spec"].get("metadata") or []:
                ref = item.get("secretKeyRef")
                if ref is None:
                    continue
                if (name, item["name"]) not in secret_values:
                    raise KeyError(f"{path.name}: no local value for secret {ref} of {name}/{item['name']}")
                store.setdefault(ref["name"], {})[ref.get("key") or ref["name"]] = secret_values[(name, item["name"])]
        (resources_dir / path.name).write_text(yaml.safe_dump(doc, sort_keys=False))
        derived.documents[f"{doc['kind']}/{name}"] = (original, doc)

    secrets_file.write_text(json.dumps(store))
    secrets_file.chmod(0o600)
    original = _load_yaml(source / "configuration.yaml")
    config = copy.deepcopy(original)
    config["spec"]["tracing"]["otel"]["endpointAddress"] = otel_endpoint
    derived.config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    derived.documents[f"Configuration/{config['metadata']['name']}"] = (original, config)
    return derived


def diff_paths(a: Any, b: Any, path: str = "") -> set[str]:
    """Where two YAML documents differ (lists of ``{name: ...}`` items are matched by name)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for key in a.keys() | b.keys():
            sub = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                out.add(sub)
            else:
                out |= diff_paths(a[key], b[key], sub)
        return out
    if isinstance(a, list) and isinstance(b, list):
        named = all(isinstance(x, dict) and "name" in x for x in a + b)
        if named and len({x["name"] for x in a}) == len(a) and {x["name"] for x in a} == {x["name"] for x in b}:
            by_name = {x["name"]: x for x in b}
            out = set()
            for x in a:
                out |= diff_paths(x, by_name[x["name"]], f"{path}[{x['name']}]")
            return out
        return set() if a == b else {path}
    return set() if a == b and type(a) is type(b) else {path}


# -- the binaries and the scheduler ---------------------------------------------------------------


_binaries: list[Any] = []  # the outcome of locating/building them: DaprBinaries, or the reason they are missing
_build_report: list[str] = []


def _locate_or_build(log: Callable[[str], None]) -> Any:
    if not _binaries:
        daprd, scheduler = os.environ.get("TODO_CLOUD_DAPRD"), os.environ.get("TODO_CLOUD_DAPR_SCHEDULER")
        if daprd and scheduler:
            _binaries.append(DaprBinaries(Path(daprd), Path(scheduler), dapr_build.binary_version(Path(daprd))))
        else:
            started = time.monotonic()
            built_before = dapr_build.cached() is not None
            try:
                _binaries.append(dapr_build.ensure_built(log=log))
            except dapr_build.ToolchainUnavailable as exc:
                _binaries.append(exc)
            if not built_before and not isinstance(_binaries[0], Exception):
                _build_report.append(f"dapr: built daprd and scheduler in {time.monotonic() - started:.0f} s")
    return _binaries[0]


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the binaries before the tests run when a collected test needs them: a cold build (minutes)
    must not count against the first test's timeout."""
    if any("dapr_binaries" in getattr(item, "fixturenames", ()) for item in session.items):
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if dapr_build.cached() is None and reporter is not None:
            reporter.write_line("dapr: building daprd and the Dapr scheduler once for this machine (minutes)")
        _locate_or_build(lambda msg: reporter.write_line(msg) if reporter is not None else None)


@pytest.fixture(scope="session")
def dapr_binaries() -> DaprBinaries:
    """The binaries; the tests using them skip (with the reason) when they cannot be built here."""
    found = _locate_or_build(lambda _msg: None)
    if isinstance(found, Exception):
        pytest.skip(f"real-Dapr tests need daprd and the Dapr scheduler, which cannot be built here: {found}")
    return found


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in _build_report:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def dapr_scheduler(dapr_binaries: DaprBinaries, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaprScheduler]:
    scheduler = DaprScheduler(dapr_binaries.scheduler, tmp_path_factory.mktemp("dapr-scheduler"))
    try:
        yield scheduler
    finally:
        scheduler.stop()


@pytest.fixture
def start_daprd(
    dapr_binaries: DaprBinaries, dapr_scheduler: DaprScheduler, tmp_path: Path
) -> Iterator[Callable[..., Daprd]]:
    started: list[Daprd] = []

    def start(**kwargs: Any) -> Daprd:
        d = Daprd(dapr_binaries.daprd, tmp_path, scheduler=dapr_scheduler, **kwargs)
        started.append(d)
        return d

    yield start
    for d in reversed(started):
        d.stop()


# -- the gateway in cluster mode beside its daprd -------------------------------------------------


@dataclass
class DaprCluster:
    """The gateway (cluster mode) with its daprd, the scheduler, Kafka, Postgres and the functions host."""

    gw: Any  # tests.fix_pipeline.Gateway
    daprd: Daprd
    scheduler: DaprScheduler
    resources: DerivedResources
    kafka_bootstrap: str
    functions_host: subprocess.Popen[bytes] | None = None
    functions_log: Path | None = None

    def query(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        return list(self.gw.query(sql, params))

    def start_functions_host(self, log: Path, *only: str) -> None:
        """``python -m agent_gateway.functions_host`` on Kafka with the cluster's Dapr settings."""
        args = [sys.executable, "-m", "agent_gateway.functions_host"]
        for name in only:
            args += ["--only", name]
        self.functions_log = log
        with log.open("ab") as fh:
            self.functions_host = subprocess.Popen(
                args, cwd=ROOT, env=self.functions_env(), stdout=fh, stderr=subprocess.STDOUT
            )

    def stop_functions_host(self) -> None:
        if self.functions_host is not None:
            stop_process(self.functions_host, timeout=20)
        self.functions_host = None

    def functions_env(self, **extra: str) -> dict[str, str]:
        """The environment of an event function in this cluster: Kafka, Postgres, and Dapr through daprd."""
        s = self.gw.settings
        return {
            **os.environ,
            "DATABASE_URL": self.gw.pg_url,
            "ENVIRONMENT": "test",
            "JWT_SECRET": s.jwt_secret.get_secret_value(),
            "DATA_DIR": str(s.data_dir),
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "DAPR_ENABLED": "true",
            "DAPR_HTTP_ENDPOINT": self.daprd.url,
            "DAPR_API_TOKEN": self.daprd.api_token or "",
            "LOG_LEVEL": "INFO",
            **extra,
        }


def _ensure_topics(bootstrap: str) -> None:
    from todo_core.bus.kafka import all_topics, ensure_topics

    ensure_topics({"bootstrap.servers": bootstrap}, all_topics(""), partitions=3, replication_factor=1)


def _pgx_conninfo(url: str) -> str:
    """The test database as a libpq key/value string, which pgx (daprd's Postgres driver) reads too."""
    return psycopg.conninfo.make_conninfo(url)


@pytest.fixture(scope="module")
def dapr_cluster(
    dapr_binaries: DaprBinaries,
    dapr_scheduler: DaprScheduler,
    pg_server_url: str,
    kafka_bootstrap: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DaprCluster]:
    from agent_gateway.main import create_app
    from tests.fix_api import ServerThread, make_settings
    from tests.fix_db import create_database
    from tests.fix_pipeline import Gateway

    work = tmp_path_factory.mktemp("dapr-cluster")
    db_url = create_database(pg_server_url)
    _ensure_topics(kafka_bootstrap)
    resources = derive_resources(
        work,
        kafka_brokers=kafka_bootstrap,
        secret_values={("statestore", "connectionString"): _pgx_conninfo(db_url)},
        otel_endpoint=f"127.0.0.1:{free_port()}",  # nothing listens there: spans are dropped, as with no collector
    )
    api_token, app_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    gateway_port, dapr_http_port = free_port(), free_port()
    settings = make_settings(
        db_url,
        work / "data",
        dapr_enabled=True,
        dapr_http_endpoint=f"http://127.0.0.1:{dapr_http_port}",
        dapr_api_token=api_token,
        dapr_app_token=app_token,
    )
    # the gateway first: daprd waits for its app port
    app = create_app(settings)
    server = ServerThread(app, gateway_port).__enter__()
    gw = Gateway(server.url, db_url, app, settings, server)
    daprd: Daprd | None = None
    cluster: DaprCluster | None = None
    try:
        daprd = Daprd(
            dapr_binaries.daprd,
            work,
            app_id=APP_ID,
            app_port=gateway_port,
            http_port=dapr_http_port,
            resources=resources,
            scheduler=dapr_scheduler,
            api_token=api_token,
            app_token=app_token,
        )
        cluster = DaprCluster(gw, daprd, dapr_scheduler, resources, kafka_bootstrap)
        cluster.start_functions_host(work / "functions-host.log")
        yield cluster
    finally:
        if cluster is not None:
            cluster.stop_functions_host()
        gw.stop()
        if daprd is not None:
            daprd.stop()
