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
