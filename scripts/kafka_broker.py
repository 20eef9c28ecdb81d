#!/usr/bin/env python3
"""Local single-node Apache Kafka (KRaft) broker for development and tests.

Stdlib only. The broker's jars are resolved with Maven into a cache folder outside
the repository, and the broker runs as a plain ``java`` process: no Docker, no
Kafka distribution tarball.

CLI::

    python scripts/kafka_broker.py ensure            # resolve + cache jars, print libs dir
    python scripts/kafka_broker.py start [--port N]  # run in the foreground until Ctrl-C
    python scripts/kafka_broker.py status            # is the broker in --data-dir running?
    python scripts/kafka_broker.py stop              # stop the broker started in --data-dir

Library::

    from scripts.kafka_broker import KafkaBroker
    with KafkaBroker(data_dir) as broker:
        print(broker.bootstrap_servers)

Environment:

* ``TODO_CLOUD_CACHE``          cache root (default ``~/.cache/todo-cloud``)
* ``TODO_CLOUD_KAFKA_VERSION``  Kafka version (default :data:`DEFAULT_KAFKA_VERSION`)
* ``TODO_CLOUD_KAFKA_HEAP``     broker max heap (default ``512m``)
* ``JAVA`` / ``MVN``            java / mvn executables (default from ``PATH``)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any
from xml.sax.saxutils import escape as _xml_escape

DEFAULT_KAFKA_VERSION = "4.1.1"
# Kafka 4.x logs through SLF4J and uses log4j2 as its backend, but its poms leave the
# backend out (the distribution tarball adds it). Kafka 4.0-4.1 pin slf4j-api 1.7.36,
# which only finds the SLF4J-1 binding (log4j-slf4j-impl, as in the tarball); an SLF4J-2
# api needs log4j-slf4j2-impl instead. The two bindings share class names, so they must
# not sit on one classpath: both are resolved and the one that does not match the
# slf4j-api Maven picked is deleted (see _prune_slf4j_binding).
LOG4J_VERSION = "2.24.3"
# Bump when the pom below changes, so caches made by an older recipe are rebuilt.
JARS_RECIPE = "3"
DEPENDENCY_PLUGIN_VERSION = "3.8.1"
SCALA_BINARY = "2.13"

DEFAULT_JVM_OPTS = "-XX:+UseG1GC -XX:MaxGCPauseMillis=20"
# For short-lived test brokers: C1 only starts ~1 s faster on 2 cores but lowers peak
# throughput, so it is not the default (benchmarks want the normal JIT).
FAST_STARTUP_JVM_OPTS = "-XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:TieredStopAtLevel=1"
MARKER_NAME = ".complete"
PID_FILE = "broker.pid"
STATE_FILE = "broker.json"
LOG_FILE = "server.log"
STDOUT_FILE = "broker.stdout.log"


class KafkaBrokerError(RuntimeError):
    """Resolving, starting or stopping the broker failed."""


# --------------------------------------------------------------------------- helpers


def default_version() -> str:
    return os.environ.get("TODO_CLOUD_KAFKA_VERSION", DEFAULT_KAFKA_VERSION)


def cache_root() -> Path:
    """``${TODO_CLOUD_CACHE:-~/.cache/todo-cloud}``."""
    env = os.environ.get("TODO_CLOUD_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "todo-cloud"


def kafka_cache_dir(version: str | None = None) -> Path:
    return cache_root() / "kafka" / (version or default_version())


def java_executable() -> str | None:
    """Path of ``java`` (``$JAVA``, ``$JAVA_HOME/bin/java`` or ``PATH``), or None."""
    env = os.environ.get("JAVA")
    if env:
        return shutil.which(env) or (env if Path(env).is_file() else None)
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def _mvn_executable() -> str:
    mvn = shutil.which(os.environ.get("MVN", "mvn"))
    if not mvn:
        raise KafkaBrokerError("Maven ('mvn') not found on PATH; it is needed once to fetch the Kafka jars")
    return mvn


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def random_cluster_id() -> str:
    """Same format as ``kafka-storage.sh random-uuid``: base64url of a uuid4, 22 chars, no padding.

    Like Kafka's own ``Uuid.randomUuid`` it never starts with ``-``: the storage tool's
    argument parser would take such an id for an option.
    """
    while True:
        cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not cid.startswith("-"):
            return cid


def _tail(path: Path, lines: int = 40) -> str:
    try:
        data = path.read_bytes()[-64 * 1024 :].decode("utf-8", "replace")
    except OSError:
        return f"(no {path.name})"
    return "\n".join(data.splitlines()[-lines:])


def _error_lines(path: Path, offset: int = 0, limit: int = 5) -> str:
    """The first ERROR/FATAL lines of a broker log after ``offset`` (the cause, before the shutdown noise)."""
    found: list[str] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            fh.seek(offset)
            for line in fh:
                if line.startswith("[") and (" ERROR " in line or " FATAL " in line):
                    found.append(line.rstrip()[:1000])
                    if len(found) >= limit:
                        break
    except OSError:
        pass
    return "\n".join(found)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists"; treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


# --------------------------------------------------------------------------- jars


_POM_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.todo-cloud</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_{scala}</artifactId>
      <version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j2-impl</artifactId>
      <version>{log4j}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>{log4j}</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-api</artifactId>
      <version>{log4j}</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>{plugin}</version>
      </plugin>
    </plugins>
  </build>
</project>
"""


def _prune_slf4j_binding(libs: Path) -> None:
    """Keep only the log4j binding that matches the resolved slf4j-api (1.x or 2.x)."""
    apis = sorted(libs.glob("slf4j-api-*.jar"))
    if not apis:
        raise KafkaBrokerError(f"no slf4j-api jar among the resolved jars in {libs}")
    slf4j_major = apis[-1].name.removeprefix("slf4j-api-").split(".")[0]
    unwanted = "log4j-slf4j-impl-" if slf4j_major == "2" else "log4j-slf4j2-impl-"
    for jar in libs.glob(f"{unwanted}*.jar"):
        jar.unlink()


def _marker_text(version: str, log4j_version: str) -> str:
    return json.dumps({"kafka": version, "log4j": log4j_version, "recipe": JARS_RECIPE}, sort_keys=True)


def jars_ready(version: str | None = None, log4j_version: str = LOG4J_VERSION) -> bool:
    """True when ``ensure_jars`` would return at once (complete cache from the current recipe)."""
    version = version or default_version()
    home = kafka_cache_dir(version)
    try:
        marker = (home / MARKER_NAME).read_text().strip()
    except OSError:
        return False
    return marker == _marker_text(version, log4j_version) and (home / "libs").is_dir()


def ensure_jars(version: str | None = None, *, log4j_version: str = LOG4J_VERSION, quiet: bool = True) -> Path:
    """Resolve the broker's runtime jars into ``<cache>/kafka/<version>/libs`` and return that folder.

    Cached: once the marker file exists no Maven work is done. Jars are copied into a
    temporary sibling folder that is renamed into place only after Maven succeeded, and
    the marker is written last, so an interrupted run leaves nothing that looks complete.
    Concurrent callers serialise on a lock file.
    """
    version = version or default_version()
    home = kafka_cache_dir(version)
    libs = home / "libs"
    marker = home / MARKER_NAME
    if jars_ready(version, log4j_version):
        return libs
    with _file_lock(home / ".lock"):
        if jars_ready(version, log4j_version):  # another process finished meanwhile
            return libs
        mvn = _mvn_executable()
        with contextlib.suppress(FileNotFoundError):
            marker.unlink()
        shutil.rmtree(libs, ignore_errors=True)
        for stale in home.glob("libs.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix="libs.tmp-", dir=home))
        try:
            with tempfile.TemporaryDirectory(prefix="kafka-pom-") as work:
                pom = Path(work) / "pom.xml"
                pom.write_text(
                    _POM_TEMPLATE.format(
                        scala=SCALA_BINARY, kafka=version, log4j=log4j_version, plugin=DEPENDENCY_PLUGIN_VERSION
                    )
                )
                cmd = [
                    mvn,
                    "-B",
                    *(["-q"] if quiet else []),
                    "-f",
                    str(pom),
                    f"org.apache.maven.plugins:maven-dependency-plugin:{DEPENDENCY_PLUGIN_VERSION}:copy-dependencies",
                    "-DincludeScope=runtime",
                    f"-DoutputDirectory={staging}",
                ]
                proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    out = (proc.stdout + proc.stderr).strip().splitlines()
                    raise KafkaBrokerError(
                        f"Maven could not resolve kafka_{SCALA_BINARY}:{version} "
                        f"(exit {proc.returncode}):\n" + "\n".join(out[-40:])
                    )
            _prune_slf4j_binding(staging)
            if not any(staging.glob(f"kafka_{SCALA_BINARY}-{version}*.jar")):
                raise KafkaBrokerError(f"Maven finished but no kafka_{SCALA_BINARY}-{version}.jar in {staging}")
            staging.rename(libs)
            tmp_marker = home / f"{MARKER_NAME}.tmp"
            tmp_marker.write_text(_marker_text(version, log4j_version) + "\n")
            tmp_marker.replace(marker)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    return libs


# --------------------------------------------------------------------------- broker

_LOG4J2_XML = """<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN" shutdownHook="disable">
  <Appenders>
    <File name="file" fileName="{log}" append="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="kafka" level="INFO"/>
    <Logger name="org.apache.kafka" level="INFO"/>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Logger name="org.apache.kafka.controller" level="INFO"/>
    <Root level="INFO">
      <AppenderRef ref="file"/>
    </Root>
  </Loggers>
</Configuration>
"""


class KafkaBroker:
    """One single-node KRaft Kafka broker (broker + controller in one JVM).

    ``data_dir`` holds ``server.properties``, the log4j2 config, the logs
    (``server.log``, ``broker.stdout.log``) and the partition data (``data/``).
    Ports are picked at the first ``start()`` unless given, and are kept across
    ``restart()`` and across a new ``KafkaBroker`` on the same ``data_dir``
    (read back from ``broker.json``).
    """

    external = False  # the tests' stand-in for a broker they did not start says True

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        version: str | None = None,
        port: int | None = None,
        controller_port: int | None = None,
        host: str = "127.0.0.1",
        heap: str | None = None,
        num_partitions: int = 6,
        startup_timeout: float = 90.0,
        extra_properties: dict[str, str] | None = None,
        jvm_opts: list[str] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.version = version or default_version()
        self.host = host
        self.heap = heap or os.environ.get("TODO_CLOUD_KAFKA_HEAP", "512m")
        self.num_partitions = num_partitions
        self.startup_timeout = startup_timeout
        self.extra_properties = dict(extra_properties or {})
        self.jvm_opts: list[str] = (
            list(jvm_opts)
            if jvm_opts is not None
            else os.environ.get("TODO_CLOUD_KAFKA_JVM_OPTS", DEFAULT_JVM_OPTS).split()
        )
        state = self._read_state()
        self.port: int | None = port or state.get("port")
        self.controller_port: int | None = controller_port or state.get("controller_port")
        self.cluster_id: str | None = state.get("cluster_id")
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0  # size of server.log when this run started (the log is appended to)
        self.last_start_seconds: float | None = None

    # ---- paths
    @property
    def properties_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_file(self) -> Path:
        return self.data_dir / LOG_FILE

    @property
    def stdout_file(self) -> Path:
        return self.data_dir / STDOUT_FILE

    @property
    def log_dirs(self) -> Path:
        return self.data_dir / "data"

    @property
    def bootstrap_servers(self) -> str:
        if self.port is None:
            raise KafkaBrokerError("broker has no port yet: call start() first")
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        if self._proc is not None:
            return self._proc.pid
        try:
            return int((self.data_dir / PID_FILE).read_text().strip())
        except (OSError, ValueError):
            return None

    @property
    def returncode(self) -> int | None:
        """Exit code of the broker process this object started, None while it runs (or if not ours)."""
        return self._proc.poll() if self._proc is not None else None

    def is_running(self) -> bool:
        if self._proc is not None:
            return self._proc.poll() is None
        pid = self.pid
        return pid is not None and _pid_alive(pid) and self._is_our_java(pid)

    def _is_our_java(self, pid: int) -> bool:
        """Guards against a stale pid file whose pid now belongs to another process."""
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return True  # no /proc: trust the pid file
        return b"kafka.Kafka" in cmdline and str(self.properties_file).encode() in cmdline

    # ---- state
    def _read_state(self) -> dict[str, Any]:
        try:
            data = json.loads((self.data_dir / STATE_FILE).read_text())
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}

    def _write_state(self) -> None:
        state = {
            "port": self.port,
            "controller_port": self.controller_port,
            "cluster_id": self.cluster_id,
            "version": self.version,
            "bootstrap_servers": self.bootstrap_servers,
        }
        (self.data_dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")

    # ---- config
    def _properties(self) -> dict[str, str]:
        assert self.port is not None and self.controller_port is not None
        h = self.host
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.bootstrap.servers": f"{h}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{h}:{self.port},CONTROLLER://{h}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{h}:{self.port},CONTROLLER://{h}:{self.controller_port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.log_dirs),
            "num.partitions": str(self.num_partitions),
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "6",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "6",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # After a crash (kill) the restarted controller holds the old registration until
            # this session expires (default 9 s); shorter keeps crash tests quick, and 4 s is
            # still far above a GC or scheduling stall on a busy 2-core machine.
            "broker.session.timeout.ms": "4000",
            "broker.heartbeat.interval.ms": "500",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "1",
            "log.retention.hours": "168",
            "log.segment.bytes": str(64 * 1024 * 1024),
            "delete.topic.enable": "true",
        }
        props.update(self.extra_properties)
        return props

    def write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self.port is None:
            self.port = free_port(self.host)
        if self.controller_port is None:
            self.controller_port = free_port(self.host)
            while self.controller_port == self.port:
                self.controller_port = free_port(self.host)
        body = "".join(f"{k}={v}\n" for k, v in self._properties().items())
        self.properties_file.write_text("# written by scripts/kafka_broker.py\n" + body)
        (self.data_dir / "log4j2.xml").write_text(_LOG4J2_XML.format(log=_xml_escape(str(self.log_file))))

    # ---- java
    def _java_cmd(self, main: str, *args: str, heap: str = "256m") -> list[str]:
        java = java_executable()
        if not java:
            raise KafkaBrokerError("Java not found (set JAVA or JAVA_HOME, or put 'java' on PATH)")
        libs = ensure_jars(self.version)
        return [
            java,
            f"-Xmx{heap}",
            f"-Xms{min(heap, '128m', key=_heap_bytes)}",
            *self.jvm_opts,
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            "-Djava.net.preferIPv4Stack=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.xml'}",
            f"-Dkafka.logs.dir={self.data_dir}",
            "-cp",
            str(libs / "*"),
            main,
            *args,
        ]

    def _format_storage(self) -> None:
        if (self.log_dirs / "meta.properties").is_file():
            return
        if not self.cluster_id:
            self.cluster_id = random_cluster_id()
        cmd = self._java_cmd(
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            f"--cluster-id={self.cluster_id}",
            f"--config={self.properties_file}",
        )
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)
        if proc.returncode != 0:
            raise KafkaBrokerError(
                f"kafka-storage format failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )

    # ---- lifecycle
    def start(self) -> KafkaBroker:
        """Write config (first time), format storage (first time), launch, and wait until ready."""
        if self.is_running():
            raise KafkaBrokerError(f"broker already running (pid {self.pid}) in {self.data_dir}")
        t0 = time.monotonic()
        ensure_jars(self.version)
        self.write_config()
        self._format_storage()
        self._write_state()
        cmd = self._java_cmd("kafka.Kafka", str(self.properties_file), heap=self.heap)
        for port in (self.port, self.controller_port):
            if port_open(self.host, port or 0):
                raise KafkaBrokerError(f"port {port} ({self.data_dir}) is already in use by another process")
        try:
            self._log_offset = self.log_file.stat().st_size
        except OSError:
            self._log_offset = 0
        with open(self.stdout_file, "ab") as out:
            self._proc = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.data_dir,
                start_new_session=True,
            )
        (self.data_dir / PID_FILE).write_text(f"{self._proc.pid}\n")
        try:
            self._wait_ready(t0 + self.startup_timeout)
        except BaseException:
            self._terminate(grace=5.0)
            raise
        self.last_start_seconds = time.monotonic() - t0
        return self

    def _wait_ready(self, deadline: float) -> None:
        assert self._proc is not None and self.port is not None
        while not port_open(self.host, self.port):
            self._check_alive()
            if time.monotonic() > deadline:
                self._fail(f"port {self.port} did not open within {self.startup_timeout:.0f}s")
            time.sleep(0.1)
        self._wait_metadata(deadline)

    def _wait_metadata(self, deadline: float) -> None:
        try:
            from confluent_kafka.admin import AdminClient  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            # No client library: the port is open; give the broker a moment to register.
            time.sleep(2.0)
            self._check_alive()
            return
        quiet = logging.getLogger("todo_cloud.kafka_broker.probe")  # librdkafka noise while starting up
        quiet.addHandler(logging.NullHandler())
        quiet.propagate = False
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers}, logger=quiet)
        last: Exception | None = None
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                md = admin.list_topics(timeout=2.0)
                if md.brokers and md.controller_id >= 0:
                    return
            except Exception as exc:
                last = exc
            time.sleep(0.2)
        self._fail(f"broker did not answer metadata within {self.startup_timeout:.0f}s ({last})")

    def _check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            self._fail(f"broker process exited with code {self._proc.returncode}")

    def _fail(self, why: str) -> None:
        errors = _error_lines(self.log_file, self._log_offset)
        raise KafkaBrokerError(
            f"Kafka {self.version} in {self.data_dir}: {why}\n"
            + (f"--- first errors in {self.log_file}\n{errors}\n" if errors else "")
            + f"--- tail of {self.log_file}\n{_tail(self.log_file)}\n"
            f"--- tail of {self.stdout_file}\n{_tail(self.stdout_file, 20)}"
        )

    def _signal(self, sig: int) -> None:
        pid = self.pid
        if pid is None or (self._proc is None and not self._is_our_java(pid)):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)

    def _wait_exit(self, timeout: float) -> bool:
        if self._proc is not None:
            try:
                self._proc.wait(timeout)
                return True
            except subprocess.TimeoutExpired:
                return False
        deadline = time.monotonic() + timeout
        pid = self.pid
        while pid is not None and _pid_alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def _terminate(self, grace: float) -> None:
        if not self.is_running():
            self._cleanup()
            return
        self._signal(signal.SIGTERM)
        if not self._wait_exit(grace):
            self._signal(signal.SIGKILL)
            self._wait_exit(10.0)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(Exception):
                self._proc.wait(1.0)
        self._proc = None
        with contextlib.suppress(OSError):
            (self.data_dir / PID_FILE).unlink()

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful shutdown: SIGTERM, wait up to ``timeout``, then SIGKILL."""
        self._terminate(grace=timeout)

    def kill(self) -> None:
        """SIGKILL the broker (simulates a crash); data dir is kept."""
        if self.is_running():
            self._signal(signal.SIGKILL)
            self._wait_exit(10.0)
        self._cleanup()

    def restart(self, *, hard: bool = False) -> KafkaBroker:
        """Stop (or kill, if ``hard``) and start again on the same data dir and ports."""
        if hard:
            self.kill()
        else:
            self.stop()
        return self.start()

    def __enter__(self) -> KafkaBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = f"{self.host}:{self.port}" if self.port else "unstarted"
        return f"KafkaBroker({where}, version={self.version}, data_dir={self.data_dir})"


def _heap_bytes(spec: str) -> int:
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    s = spec.strip().lower()
    return int(s[:-1]) * units[s[-1]] if s and s[-1] in units else int(s)


# --------------------------------------------------------------------------- CLI


def _default_data_dir() -> Path:
    return cache_root() / "kafka-dev"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Local single-node Kafka (KRaft) broker")
    parser.add_argument("command", choices=["ensure", "start", "stop", "status"])
    parser.add_argument("--version", default=None, help=f"Kafka version (default {default_version()})")
    parser.add_argument("--data-dir", type=Path, default=None, help=f"broker data dir (default {_default_data_dir()})")
    parser.add_argument("--port", type=int, default=None, help="PLAINTEXT port (default: free port, then kept)")
    parser.add_argument("--controller-port", type=int, default=None)
    parser.add_argument("--fresh", action="store_true", help="start: wipe the data dir first")
    args = parser.parse_args(argv)
    data_dir = args.data_dir or _default_data_dir()

    if args.command == "ensure":
        t0 = time.monotonic()
        libs = ensure_jars(args.version, quiet=False)
        size = sum(p.stat().st_size for p in libs.glob("*.jar"))
        n = len(list(libs.glob("*.jar")))
        print(f"{libs}  ({n} jars, {size / 1e6:.1f} MB, {time.monotonic() - t0:.1f}s)")
        return 0

    if args.command == "start":
        if args.fresh and data_dir.exists():
            shutil.rmtree(data_dir)
        broker = KafkaBroker(data_dir, version=args.version, port=args.port, controller_port=args.controller_port)
        stop = False

        def _on_signal(signum: int, frame: object) -> None:
            nonlocal stop
            stop = True

        signal.signal(signal.SIGTERM, _on_signal)
        signal.signal(signal.SIGINT, _on_signal)  # also when started with SIGINT ignored (`cmd &`)
        broker.start()
        print(f"KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap_servers}")
        print(
            f"Kafka {broker.version} ready in {broker.last_start_seconds:.1f}s; data {data_dir}; log {broker.log_file}"
        )
        print("Ctrl-C to stop", flush=True)
        while not stop and broker.is_running():
            time.sleep(0.2)
        rc = broker.returncode
        broker.stop()
        if rc not in (None, 0, 143, -signal.SIGTERM):
            print(f"broker exited with code {rc}; see {broker.log_file}")
            return 1
        print("stopped")
        return 0

    broker = KafkaBroker(data_dir, version=args.version)
    if args.command == "status":
        if broker.is_running():
            up = port_open(broker.host, broker.port or 0)
            print(f"running pid={broker.pid} bootstrap={broker.bootstrap_servers} port_open={up}")
            return 0
        print(f"not running (data dir {data_dir})")
        return 1
    # stop
    if not broker.is_running():
        print("not running")
        return 0
    broker.stop()
    print("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
