"""The gateway image, built for real from the unchanged ``Dockerfile.gateway``, serves under the chart's
security context.

``scripts/image_build.py`` builds the image with Debian's podman (runc) on a local ``python:3.11-slim`` made
from Debian packages (mmdebstrap), the one stand-in for the registry (``docs/images.md`` lists every
difference from CD's build). The container then runs as the chart runs it: ``podSecurityContext`` and
``containerSecurityContext`` of ``infra/helm/todo-cloud/values.yaml`` mapped to podman flags (uid/gid 10001,
read-only root file system, every capability dropped, no privilege escalation, the default seccomp profile,
a tmpfs at /tmp for the chart's emptyDir), with the chart's ENVIRONMENT, against the test Postgres (host
network: the test server listens on the loopback). The startup probe (/healthz), then /readyz, register,
create a task and list it back; inside the container, the process's uid, capabilities, no_new_privs and
seccomp, and that / cannot be written.

A chart change that the mapping does not know fails ``test_the_chart_security_context_maps_to_podman``
(which runs without podman too). Where podman cannot run, the image test skips with the reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import string
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import yaml  # type: ignore[import-untyped]  # no types-PyYAML in requirements-dev.txt

from tests._scripts import load_script
from tests.fix_api import free_port
from tests.fix_db import create_database
from tests.fix_pipeline import wait_until

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
VALUES = ROOT / "infra" / "helm" / "todo-cloud" / "values.yaml"
UID = 10001

image_build = load_script("image_build.py", "todo_image_build")


def _values() -> dict[str, Any]:
    values: dict[str, Any] = yaml.safe_load(VALUES.read_text())
    return values


def _tmpfs_size(limit: str) -> str:
    """A Kubernetes quantity (``256Mi``) as a tmpfs size (``256m``)."""
    m = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", str(limit))
    assert m, f"tmpSizeLimit {limit!r}: map this quantity to a tmpfs size here"
    return m.group(1) + m.group(2)[0].lower()


def security_flags(values: dict[str, Any]) -> list[str]:
    """podman flags for the chart's pod and container security contexts and its /tmp emptyDir. Every key is
    mapped or the test fails: the container context overrides the pod's, as in Kubernetes."""
    pod = dict(values["podSecurityContext"])
    ctr = dict(values["containerSecurityContext"])
    flags: list[str] = []
    fs_group = pod.pop("fsGroup", None)
    merged = {**pod, **ctr}
    user, group = merged.pop("runAsUser"), merged.pop("runAsGroup")
    assert isinstance(user, int) and isinstance(group, int)
    flags.append(f"--user={user}:{group}")
    if merged.pop("runAsNonRoot", False):
        assert user != 0, "runAsNonRoot with runAsUser 0: the kubelet would refuse the pod"
    if fs_group is not None:  # a supplementary group of the process (the emptyDir's group: see below)
        flags.append(f"--group-add={fs_group}")
    seccomp = merged.pop("seccompProfile", {"type": "RuntimeDefault"})
    assert seccomp == {"type": "RuntimeDefault"}, f"seccompProfile {seccomp}: map it to --security-opt here"
    # RuntimeDefault: podman's default profile (no flag); asserted inside the container (Seccomp: 2)
    if merged.pop("allowPrivilegeEscalation", True) is False:
        flags.append("--security-opt=no-new-privileges")
    if merged.pop("readOnlyRootFilesystem", False):
        # podman would add writable tmpfs at /run, /tmp and /var/tmp: the chart has only the /tmp emptyDir
        flags += ["--read-only", "--read-only-tmpfs=false"]
    caps = merged.pop("capabilities", {})
    assert set(caps) <= {"drop", "add"}, f"capabilities {caps}: map them here"
    assert not caps.get("add"), f"capabilities.add {caps['add']}: map them to --cap-add here"
    flags += [f"--cap-drop={c}" for c in caps.get("drop", [])]
    assert merged == {}, f"the chart's security context has {sorted(merged)}: map them to podman flags here"
    # the emptyDir at /tmp, of its size limit: podman's tmpfs is root's, mode 1777 (it takes no gid= option and
    # resets the mode), where the kubelet makes the emptyDir fsGroup's with setgid: writable by the user either way
    flags.append(f"--tmpfs=/tmp:rw,nosuid,nodev,size={_tmpfs_size(values['tmpSizeLimit'])}")
    return flags


def test_the_chart_security_context_maps_to_podman() -> None:
    """What the image test runs with is what the chart says (a key the mapping does not know fails here)."""
    values = _values()
    assert security_flags(values) == [
        f"--user={UID}:{UID}",
        f"--group-add={UID}",
        "--security-opt=no-new-privileges",
        "--read-only",
        "--read-only-tmpfs=false",
        "--cap-drop=ALL",
        "--tmpfs=/tmp:rw,nosuid,nodev,size=256m",
    ]
    deployment = (ROOT / "infra/helm/todo-cloud/templates/gateway/deployment.yaml").read_text()
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert re.search(rf"{probe}:\s*\n\s*httpGet:\s*\n\s*path: {path}\n", deployment), (probe, path)
    assert "toYaml .Values.containerSecurityContext" in deployment
    assert values["gateway"]["port"] == 8000 and "--port" in _command(8000)


def _command(port: int) -> list[str]:
    """Dockerfile.gateway's CMD with ``--port`` set to ``port`` (the image hard-codes 8000; the host network
    needs a free port)."""
    lines = [line for line in (ROOT / "Dockerfile.gateway").read_text().splitlines() if line.startswith("CMD ")]
    cmd: list[str] = json.loads(lines[-1][4:])
    at = cmd.index("--port")
    return [*cmd[: at + 1], str(port), *cmd[at + 2 :]]


def _podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def gateway_image() -> str:
    reason = image_build.podman_unavailable()
    if reason:
        pytest.skip(f"podman cannot run here: {reason}")
    try:
        base = image_build.ensure_base()
        built = image_build.build_gateway()
    except image_build.Unavailable as e:
        pytest.skip(f"the images cannot be built here: {e}")
    sys.stdout.write(f"base image: {base['kind']} {base['seconds']} s; gateway: {built['kind']} {built['seconds']} s\n")
    return str(built["image"])


@dataclass
class Container:
    name: str
    url: str

    def state(self) -> str:
        return _podman("inspect", "--format", "{{.State.Status}}", self.name).stdout.strip()

    def logs(self) -> str:
        proc = _podman("logs", self.name)
        return proc.stdout + proc.stderr

    def exec(self, *cmd: str) -> subprocess.CompletedProcess[str]:
        return _podman("exec", self.name, *cmd)


class UnixForwarder:
    """127.0.0.1:<free port> relayed to a Unix socket: the embedded test Postgres listens on a socket in its
    data folder (0700, root's), which uid 10001 in the container could not reach; the container connects
    over TCP, as in the cluster."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.server.getsockname()[1])
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.socket(socket.AF_UNIX)
            try:
                upstream.connect(self.path)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._stop = True
        self.server.close()


def _tcp_url(conninfo: str) -> tuple[str, UnixForwarder | None]:
    """``conninfo`` reachable over TCP on the loopback (through a forwarder when it names a socket folder)."""
    params = psycopg.conninfo.conninfo_to_dict(conninfo)
    host = str(params.get("host") or "")
    if host and not host.startswith("/"):
        return conninfo, None
    folder = host or "/var/run/postgresql"
    forwarder = UnixForwarder(f"{folder}/.s.PGSQL.{params.get('port') or 5432}")
    return psycopg.conninfo.make_conninfo(conninfo, host="127.0.0.1", port=str(forwarder.port)), forwarder


@pytest.fixture
def gateway_container(gateway_image: str, pg_server_url: str) -> Iterator[Container]:
    values = _values()
    # migrated, as the chart's hook Job does before the rollout
    database_url, forwarder = _tcp_url(create_database(pg_server_url))
    port = free_port()
    name = f"todo-gateway-test-{uuid.uuid4().hex[:8]}"
    env = {
        "ENVIRONMENT": values["config"]["environment"],
        "DATABASE_URL": database_url,
        "JWT_SECRET": "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(48)),
        "PORT": str(port),
        "LOG_LEVEL": values["config"]["logLevel"],
        # as the chart's ConfigMap: the event functions run elsewhere; no Dapr sidecar here
        "FUNCTIONS_HOST_ENABLED": "false",
        "DAPR_ENABLED": "false",
    }
    args = ["run", "-d", "--name", name, "--network", "host", *image_build.ulimit_args(), *security_flags(values)]
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    container = Container(name, f"http://127.0.0.1:{port}")
    try:
        started = _podman(*args, gateway_image, *_command(port), timeout=300)
        assert started.returncode == 0, started.stderr
        yield container
    finally:
        sys.stdout.write(f"--- logs of {name} ---\n{container.logs()[-8000:]}\n")  # shown when the test failed
        _podman("rm", "-f", "-t", "5", name, timeout=120)
        if forwarder is not None:
            forwarder.close()


def _proc_status(container: Container) -> dict[str, str]:
    proc = container.exec("cat", "/proc/1/status")
    assert proc.returncode == 0, proc.stderr
    return {k: v.strip() for k, _, v in (line.partition(":") for line in proc.stdout.splitlines())}


def test_the_gateway_image_serves_under_the_chart_security_context(gateway_container: Container) -> None:
    c = gateway_container

    def probe(path: str) -> bool:
        assert c.state() == "running", f"the gateway container is {c.state()}"
        try:
            return httpx.get(c.url + path, timeout=3).status_code == 200
        except httpx.TransportError:
            return False

    # the chart's probes: startup on /healthz (2 s x 60), then readiness on /readyz
    wait_until(lambda: probe("/healthz"), timeout=120, interval=0.5, what="the startup probe /healthz")
    wait_until(lambda: probe("/readyz"), timeout=60, interval=0.5, what="the readiness probe /readyz")

    with httpx.Client(base_url=c.url, timeout=15) as http:
        r = http.post(
            "/api/v1/auth/register",
            json={
                "email": f"image-{uuid.uuid4().hex[:6]}@example.com",
                "password": "a long passphrase",
                "timezone": "UTC",
            },
        )
        assert r.status_code == 201, r.text
        http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        t = http.post("/api/v1/tasks", json={"title": "from the image"})
        assert t.status_code == 201, t.text
        assert [x["title"] for x in http.get("/api/v1/tasks").json()["items"]] == ["from the image"]

    # inside: the server process (PID 1) runs as the chart says
    uid = c.exec("id", "-u")
    assert uid.stdout.strip() == str(UID), uid.stdout + uid.stderr
    status = _proc_status(c)
    assert status["Uid"].split() == [str(UID)] * 4 and status["Gid"].split() == [str(UID)] * 4
    assert int(status["CapEff"], 16) == 0 and int(status["CapPrm"], 16) == 0, status["CapEff"]
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2", "RuntimeDefault: the runtime's seccomp filter"
    assert str(UID) in status["Groups"].split()
    written = c.exec("sh", "-c", "echo x > /probe")
    assert written.returncode != 0 and "Read-only file system" in written.stderr, written
    for path in ("/app/probe", "/venv/probe", "/var/tmp/probe", "/run/probe"):
        assert c.exec("touch", path).returncode != 0, f"{path} is writable"
    tmp = c.exec("sh", "-c", "touch /tmp/probe && grep ' /tmp ' /proc/mounts")
    assert tmp.returncode == 0, tmp.stderr
    assert tmp.stdout.split()[2] == "tmpfs" and "size=262144k" in tmp.stdout, tmp.stdout


# -- the functions image --------------------------------------------------------------------------------------


def _configmap_data_dir() -> str:
    text = (ROOT / "infra/helm/todo-cloud/templates/config/configmap.yaml").read_text()
    found = re.search(r"^\s*DATA_DIR:\s*(\S+)\s*$", text, re.M)
    assert found and found.group(1).startswith("/tmp/"), "the chart's DATA_DIR must be under the /tmp emptyDir"
    return found.group(1)


@pytest.fixture(scope="module")
def functions_image() -> str:
    reason = image_build.podman_unavailable()
    if reason:
        pytest.skip(f"podman cannot run here: {reason}")
    try:
        base = image_build.ensure_functions_base()
        built = image_build.build_functions()
    except image_build.Unavailable as e:
        pytest.skip(f"the functions image cannot be built here: {e}")
    assert base is not None
    sys.stdout.write(f"functions base: {base['kind']} {base['seconds']} s; functions: {built['seconds']} s\n")
    return str(built["image"])


def test_the_functions_image_runs_the_app_in_its_worker_under_the_chart_security_context(
    functions_image: str, pg_server_url: str, tmp_path: Path
) -> None:
    """The image CD deploys for the functions (Dockerfile.functions, on the stand-in base), run as the chart
    runs it, is the worker: this test is its host over the FunctionRpc stream. It indexes and loads the five
    functions from /home/site/wwwroot, the HTTP function registers a user and creates a task, and
    audit_append stores the events those commands wrote, from a Kafka-shaped batch."""
    from tests.worker.host import FunctionsHost, compile_protocol

    rpc = tmp_path / "rpc"
    pb, pb_grpc = compile_protocol(rpc)
    rpc.chmod(0o755)
    for f in rpc.iterdir():
        f.chmod(0o755 if f.is_dir() else 0o644)
    values = _values()
    pg_url = create_database(pg_server_url)
    database_url, forwarder = _tcp_url(pg_url)
    site = f"/usr/local/lib/python{image_build.FUNCTIONS_PYTHON}/dist-packages"
    env = {
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "JWT_SECRET": "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(48)),
        "DAPR_ENABLED": "false",
        "FUNCTIONS_METRICS_PORT": "",
        "DATA_DIR": _configmap_data_dir(),  # the chart's ConfigMap: the one writable place is the /tmp emptyDir
        # the app's own dependencies before the worker's, as the worker prioritises them in Azure
        "PYTHONPATH": f"/rpc:{site}:{image_build.WORKER_DIR}",
    }
    name = f"todo-functions-test-{uuid.uuid4().hex[:8]}"
    host = FunctionsHost(pb, pb_grpc)
    args = ["podman", "run", "--rm", "--name", name, "--network", "host", *image_build.ulimit_args()]
    args += [*security_flags(values), "--volume", f"{rpc}:/rpc:ro"]
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    args += [functions_image, "python", f"{image_build.WORKER_DIR}/proxy_worker.py", *host.worker_args()]
    app = Path("/home/site/wwwroot")
    try:
        host.start_process(args, ROOT, dict(os.environ), tmp_path / "worker.log")
        init = host.init(app)
        assert init.result.status == pb.StatusResult.Success, init.result.exception.message
        meta = host.metadata(app)
        assert meta.result.status == pb.StatusResult.Success, meta.result.exception.message
        names = set()
        for m in meta.function_metadata_results:
            assert host.load(m).result.status == pb.StatusResult.Success
            names.add(m.name)
        assert names == {"http_api", "task_events", "recurrence_due", "reminder_fire", "audit_append"}

        def http(method: str, path: str, body: Any, token: str | None = None) -> tuple[int, Any]:
            headers = {"content-type": "application/json", "host": "localhost"}
            if token:
                headers["authorization"] = f"Bearer {token}"
            req = pb.RpcHttp(
                method=method,
                url=f"http://localhost{path}",
                headers=headers,
                params={"route": path.lstrip("/")},
                body=pb.TypedData(bytes=json.dumps(body).encode()),
            )
            r = host.invoke("http_api", [pb.ParameterBinding(name="req", data=pb.TypedData(http=req))], {})
            assert r.result.status == pb.StatusResult.Success, r.result.exception.message
            return int(r.return_value.http.status_code), json.loads(r.return_value.http.body.bytes or b"null")

        email = f"fn-{uuid.uuid4().hex[:8]}@example.com"
        status, reg = http("POST", "/api/v1/auth/register", {"email": email, "password": "a long passphrase"})
        assert status == 201, reg
        status, task = http("POST", "/api/v1/tasks", {"title": "from the functions image"}, reg["access_token"])
        assert status == 201, task
        with psycopg.connect(pg_url, autocommit=True) as conn:
            rows = conn.execute("SELECT payload FROM outbox WHERE topic = 'audit-append' ORDER BY id").fetchall()
        events = [json.dumps(p) for (p,) in rows]
        assert events
        batch = host.kafka_batch(
            "audit_append", "audit-append", [(reg["user"]["id"], 0, i, e) for i, e in enumerate(events)]
        )
        r = host.invoke("audit_append", batch.input_data, batch.trigger_metadata, retry=(0, 5))
        assert r.result.status == pb.StatusResult.Success, r.result.exception.message
        with psycopg.connect(pg_url, autocommit=True) as conn:
            (count,) = conn.execute("SELECT count(*) FROM audit_log").fetchone()  # type: ignore[misc]
        assert count == len(events)
        uid = _podman("exec", name, "id", "-u")
        assert uid.stdout.strip() == str(UID), uid.stdout + uid.stderr
    finally:
        log = tmp_path / "worker.log"
        sys.stdout.write(f"--- {name} ---\n{log.read_text()[-6000:] if log.exists() else ''}\n")
        sys.stdout.write("\n".join(lg.message[-2000:] for lg in host.logs[-30:]) + "\n")
        host.stop()
        _podman("rm", "-f", "-t", "5", name, timeout=120)
        if forwarder is not None:
            forwarder.close()


# -- the UI image ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ui_image() -> str:
    reason = image_build.podman_unavailable()
    if reason:
        pytest.skip(f"podman cannot run here: {reason}")
    try:
        base = image_build.ensure_ui_base()
        built = image_build.build_ui()
    except image_build.Unavailable as e:
        pytest.skip(f"the UI image cannot be built here: {e}")
    assert base is not None
    sys.stdout.write(f"ui base: node {base['node']} {base['kind']} {base['seconds']} s; ui: {built['seconds']} s\n")
    return str(built["image"])


def test_the_ui_image_serves_the_export_under_the_chart_security_context(ui_image: str) -> None:
    """The unchanged ui/Dockerfile's image (the static export and its dependency-free server) serves the
    app, its client-side fallback and its security headers as uid 10001 on a read-only root file system."""
    values = _values()
    port = free_port()
    name = f"todo-ui-test-{uuid.uuid4().hex[:8]}"
    args = ["run", "-d", "--name", name, "--network", "host", *image_build.ulimit_args(), *security_flags(values)]
    args += ["--env", f"PORT={port}", "--env", "HOSTNAME=127.0.0.1", ui_image]
    try:
        started = _podman(*args, timeout=300)
        assert started.returncode == 0, started.stderr
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return httpx.get(url + "/", timeout=3).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, timeout=60, interval=0.5, what="the UI server")
        root = httpx.get(url + "/", timeout=5)
        assert "text/html" in root.headers["content-type"] and "<title>Todo Cloud" in root.text
        assert root.headers["x-content-type-options"] == "nosniff"
        deep = httpx.get(url + "/some/client/route", timeout=5)
        assert deep.status_code == 200 and deep.text == root.text  # the client-side fallback
        assert _podman("exec", name, "id", "-u").stdout.strip() == str(UID)
        written = _podman("exec", name, "sh", "-c", "echo x > /app/probe")
        assert written.returncode != 0 and "Read-only file system" in written.stderr
    finally:
        logs = _podman("logs", name)
        sys.stdout.write(f"--- logs of {name} ---\n{(logs.stdout + logs.stderr)[-4000:]}\n")
        _podman("rm", "-f", "-t", "5", name, timeout=120)


def test_the_gateway_image_in_cluster_mode_beside_a_real_daprd(
    gateway_image: str,
    dapr_binaries: Any,
    dapr_scheduler: Any,
    pg_server_url: str,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    """The image with ``DAPR_ENABLED=true`` as the chart runs it, its sidecar the daprd the suite builds (the
    components of infra/dapr on the suite's Kafka and Postgres): daprd finds the app on its port, /readyz
    answers, and a command's events leave the outbox through Dapr pub/sub."""
    from tests.fix_dapr import APP_ID, Daprd, _ensure_topics, _pgx_conninfo, derive_resources

    values = _values()
    db_url = create_database(pg_server_url)
    database_url, forwarder = _tcp_url(db_url)
    _ensure_topics(kafka_bootstrap)
    resources = derive_resources(
        tmp_path,
        kafka_brokers=kafka_bootstrap,
        secret_values={("statestore", "connectionString"): _pgx_conninfo(db_url)},
        otel_endpoint=f"127.0.0.1:{free_port()}",  # nothing listens there: spans are dropped
    )
    api_token, app_token = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    port, dapr_http_port = free_port(), free_port()
    env = {
        "ENVIRONMENT": values["config"]["environment"],
        "DATABASE_URL": database_url,
        "JWT_SECRET": "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(48)),
        "PORT": str(port),
        "LOG_LEVEL": values["config"]["logLevel"],
        "FUNCTIONS_HOST_ENABLED": "false",
        "DAPR_ENABLED": "true",
        "DAPR_HTTP_ENDPOINT": f"http://127.0.0.1:{dapr_http_port}",
        "DAPR_API_TOKEN": api_token,
        "DAPR_APP_TOKEN": app_token,
    }
    name = f"todo-gateway-dapr-{uuid.uuid4().hex[:8]}"
    args = ["run", "-d", "--name", name, "--network", "host", *image_build.ulimit_args(), *security_flags(values)]
    for key, value in env.items():
        args += ["--env", f"{key}={value}"]
    container = Container(name, f"http://127.0.0.1:{port}")
    daprd = None
    try:
        started = _podman(*args, gateway_image, *_command(port), timeout=300)
        assert started.returncode == 0, started.stderr
        daprd = Daprd(
            dapr_binaries.daprd,
            tmp_path,
            app_id=APP_ID,
            app_port=port,
            http_port=dapr_http_port,
            resources=resources,
            scheduler=dapr_scheduler,
            api_token=api_token,
            app_token=app_token,
            ready_timeout=120,
        )

        def ready() -> bool:
            assert container.state() == "running", f"the gateway container is {container.state()}"
            try:
                return httpx.get(container.url + "/readyz", timeout=3).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, timeout=120, interval=0.5, what="/readyz in cluster mode")
        with httpx.Client(base_url=container.url, timeout=15) as http:
            email = f"dapr-{uuid.uuid4().hex[:6]}@example.com"
            r = http.post("/api/v1/auth/register", json={"email": email, "password": "a long passphrase"})
            assert r.status_code == 201, r.text
            http.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
            assert http.post("/api/v1/tasks", json={"title": "through dapr"}).status_code == 201

        def published() -> bool:
            with psycopg.connect(db_url, autocommit=True) as conn:
                rows = conn.execute("SELECT published_at FROM outbox WHERE topic = 'task-events'").fetchall()
            return bool(rows) and all(p is not None for (p,) in rows)

        wait_until(published, timeout=60, what="the task event published through Dapr pub/sub")
    finally:
        sys.stdout.write(f"--- logs of {name} ---\n{container.logs()[-6000:]}\n")
        if daprd is not None:
            sys.stdout.write(f"--- daprd ---\n{daprd.log_text()[-4000:]}\n")
            daprd.stop()
        _podman("rm", "-f", "-t", "5", name, timeout=120)
        if forwarder is not None:
            forwarder.close()
