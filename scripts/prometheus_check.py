#!/usr/bin/env python3
"""Every PromQL expression of the Grafana dashboard (and of any alerting or recording rules), evaluated
through a Prometheus's HTTP API until it returns data; plus what the monitoring test runs around it.

CLI (any Prometheus: the test's, or one on a cluster, e.g. through ``kubectl port-forward``)::

    python scripts/prometheus_check.py --url http://127.0.0.1:9090            # $namespace: every value found
    python scripts/prometheus_check.py --url URL --var namespace=todo --timeout 60
    python scripts/prometheus_check.py --rules-out dashboard-rules.yml        # for `promtool check rules`

Exit codes: 0 every query returned data; 1 some never did (each is named with its panel and target);
2 a query is invalid (Prometheus answered bad_data).

Library (``tests/integration/test_prometheus.py``):

- :func:`dashboard_queries`, :func:`dashboard_variables`, :func:`substitute`: the panels' targets and the
  dashboard's variables, resolved the way Grafana does (a multi-value variable in a regex matcher
  becomes ``(a|b)``, "All" its ``allValue``; ``$__rate_interval`` and friends get fixed values);
- :func:`rule_groups_in` and :func:`dashboard_as_rules`: rule groups of PrometheusRule objects or plain
  rule files, and the dashboard's expressions as recording rules, so ``promtool check rules`` parses them;
- :class:`PrometheusAPI` and :func:`wait_for_data`: instant queries, polled until each returns at least one
  finite sample, or the deadline names the ones that never did;
- :class:`LocalPrometheus`: Debian's ``prometheus`` with a config and data folder of its own on a free
  loopback port, scraping static targets that carry the labels the Prometheus operator would add;
- :class:`KafkaExporterStandIn`: the consumer-group series of Strimzi's Kafka Exporter
  (``danielqsj/kafka_exporter``), computed with that exporter's rules, for where the real one cannot
  be built (see its docstring).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "infra" / "grafana" / "todo-cloud-dashboard.json"

# Grafana's built-in interval variables, fixed for a Prometheus that scrapes every second
# ($__rate_interval is at least four scrape intervals; a minute is enough for any test workload)
BUILTIN_VARIABLES = {"__rate_interval": "1m", "__interval": "15s", "__range": "5m", "__range_s": "300"}

_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\[\[(\w+)\]\]|\$(\w+)")
_SELECTED = re.compile(r"\b([a-zA-Z_:][\w:]*)\s*\{")
_REGEX_MATCHER = re.compile(r"=~\s*\"$|!~\s*\"$")


# --------------------------------------------------------------------------- the dashboard


@dataclass(frozen=True)
class Query:
    panel_id: int
    panel: str
    ref: str
    expr: str

    @property
    def name(self) -> str:
        return f"panel {self.panel_id} {self.panel!r} target {self.ref}"


@dataclass(frozen=True)
class Variable:
    name: str
    type: str
    query: str = ""  # a query variable's definition, e.g. label_values(todo_outbox_backlog, namespace)
    options: tuple[str, ...] = ()  # a custom variable's values
    include_all: bool = False
    all_value: str | None = None
    multi: bool = False


def load_dashboard(path: Path = DASHBOARD) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _panels(panels: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for p in panels:
        yield p
        yield from _panels(p.get("panels") or ())  # a collapsed row holds its panels


def dashboard_queries(dash: Mapping[str, Any]) -> list[Query]:
    """Every target's expression of every panel (rows and collapsed rows included), in order."""
    out = []
    for p in _panels(dash.get("panels") or ()):
        for t in p.get("targets") or ():
            if t.get("hide"):
                continue
            expr = str(t.get("expr", "")).strip()
            if expr:
                out.append(Query(int(p["id"]), str(p.get("title", "")), str(t.get("refId", "?")), expr))
    return out


def dashboard_variables(dash: Mapping[str, Any]) -> dict[str, Variable]:
    out = {}
    for v in (dash.get("templating") or {}).get("list") or ():
        query = v.get("query", "")
        if isinstance(query, dict):
            query = query.get("query", "")
        options = tuple(str(o["value"]) for o in v.get("options") or () if "value" in o)
        if v.get("type") == "custom" and not options:
            options = tuple(s.strip() for s in str(query).split(",") if s.strip())
        out[v["name"]] = Variable(
            name=v["name"],
            type=v.get("type", ""),
            query=str(query or v.get("definition", "")),
            options=options,
            include_all=bool(v.get("includeAll")),
            all_value=v.get("allValue"),
            multi=bool(v.get("multi")),
        )
    return out


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.+?)\s*,\s*)?(\w+)\s*\)\s*$")


def label_values_query(query: str) -> tuple[str | None, str]:
    """``label_values(metric_or_selector, label)`` -> (selector or None, label); anything else is refused."""
    m = _LABEL_VALUES.match(query)
    if not m:
        raise ValueError(f"not a label_values() variable query: {query!r}")
    return m.group(1), m.group(2)


def regex_value(values: Sequence[str]) -> str:
    """What Grafana puts in a regex matcher for the selected values: the value escaped, or ``(a|b)``."""
    escaped = [re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\\\1", v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def substitute(expr: str, values: Mapping[str, str | Sequence[str]]) -> str:
    """``expr`` with every dashboard variable replaced; an undefined variable raises KeyError.

    ``values`` maps a variable to the text to insert, or to its selected values (formatted as Grafana
    formats them: for a regex matcher escaped and joined as ``(a|b)``, elsewhere joined with commas)."""

    def repl(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(3) or m.group(4)
        if name in BUILTIN_VARIABLES:
            return BUILTIN_VARIABLES[name]
        if name not in values:
            raise KeyError(f"variable ${name} is not defined by the dashboard")
        value = values[name]
        if isinstance(value, str):
            return value
        in_regex = bool(_REGEX_MATCHER.search(expr[: m.start()]))
        return regex_value(value) if in_regex else ",".join(value)

    return _VARIABLE.sub(repl, expr)


def metrics_selected(expr: str) -> set[str]:
    """Metric names an expression selects (every series of the dashboard is written with a ``{...}`` selector)."""
    keywords = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool"}
    return {m for m in _SELECTED.findall(expr) if m not in keywords}


def dashboard_as_rules(queries: Sequence[Query], values: Mapping[str, str | Sequence[str]]) -> dict[str, Any]:
    """The dashboard's expressions (variables substituted) as one group of recording rules, so that
    ``promtool check rules`` parses every one of them offline."""
    rules = [
        {
            "record": f"todo_dashboard:panel_{q.panel_id}_{q.ref.lower()}",
            "expr": substitute(q.expr, values),
            "labels": {"panel": q.panel},
        }
        for q in queries
    ]
    return {"groups": [{"name": "todo-cloud-dashboard", "rules": rules}]}


def rule_groups_in(docs: Iterable[Any]) -> list[dict[str, Any]]:
    """Rule groups of PrometheusRule objects (``spec.groups``) and of plain rule files (``groups``)."""
    groups: list[dict[str, Any]] = []
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        if doc.get("kind") == "PrometheusRule":
            groups.extend((doc.get("spec") or {}).get("groups") or [])
        elif doc.get("kind") is None and isinstance(doc.get("groups"), list):
            groups.extend(g for g in doc["groups"] if isinstance(g, dict) and "rules" in g)
    return groups


def rule_expressions(groups: Iterable[Mapping[str, Any]]) -> list[Query]:
    out = []
    for gi, g in enumerate(groups):
        for ri, r in enumerate(g.get("rules") or ()):
            what = f"alert {r['alert']}" if "alert" in r else f"record {r.get('record')}"
            out.append(Query(gi, f"rule group {g.get('name')}", f"{ri} {what}", str(r["expr"])))
    return out


# --------------------------------------------------------------------------- the HTTP API


class QueryError(RuntimeError):
    """Prometheus refused the expression (status error, e.g. bad_data: a syntax or type error)."""


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


@dataclass
class Outcome:
    samples: list[Sample] = field(default_factory=list)
    error: str | None = None

    @property
    def has_data(self) -> bool:
        return self.error is None and any(math.isfinite(s.value) for s in self.samples)

    def describe(self) -> str:
        if self.error:
            return f"error: {self.error}"
        if not self.samples:
            return "no series"
        if not self.has_data:
            return f"{len(self.samples)} series, every value NaN or infinite"
        return f"{len(self.samples)} series"


class PrometheusAPI:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        import httpx

        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def _get(self, path: str, params: Any) -> Any:
        r = self._http.get(path, params=params)
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        if body.get("status") != "success":
            raise QueryError(f"{body.get('errorType', r.status_code)}: {body.get('error', r.text[:300])}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[Sample]:
        """An instant query at ``at`` (Unix seconds; default the server's now); scalars and strings come
        back as one unlabelled sample."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        data = self._get("/api/v1/query", params)
        kind, result = data["resultType"], data["result"]
        if kind == "vector":
            return [Sample(dict(s["metric"]), float(s["value"][1])) for s in result]
        if kind == "scalar":
            return [Sample({}, float(result[1]))]
        if kind == "matrix":
            return [Sample(dict(s["metric"]), float(s["values"][-1][1])) for s in result if s["values"]]
        return [Sample({}, math.nan)]

    def value(self, expr: str, at: float | None = None, **labels: str) -> float | None:
        """The one sample of ``expr`` whose labels include ``labels`` (None: none)."""
        hits = [s.value for s in self.query(expr, at) if all(s.labels.get(k) == v for k, v in labels.items())]
        assert len(hits) <= 1, f"{expr} has {len(hits)} series with {labels}"
        return hits[0] if hits else None

    def label_values(self, label: str, match: str | None = None) -> list[str]:
        params = {"match[]": match} if match else None
        return [str(v) for v in self._get(f"/api/v1/label/{label}/values", params)]

    def targets(self) -> list[dict[str, Any]]:
        return list(self._get("/api/v1/targets", {"state": "active"})["activeTargets"])

    def outcome(self, expr: str) -> Outcome:
        try:
            return Outcome(self.query(expr))
        except QueryError as exc:
            return Outcome(error=str(exc))


def wait_for_data(
    api: PrometheusAPI, exprs: Mapping[str, str], timeout: float, interval: float = 0.5
) -> tuple[dict[str, Outcome], dict[str, Outcome]]:
    """Evaluate every expression until it returns a finite sample (a query Prometheus refuses is not
    retried). Returns (outcomes of those that did, last outcomes of those that never did)."""
    done: dict[str, Outcome] = {}
    pending = dict(exprs)
    last: dict[str, Outcome] = {}
    deadline = time.monotonic() + timeout
    while pending:
        for name, expr in list(pending.items()):
            out = api.outcome(expr)
            last[name] = out
            if out.has_data:
                done[name] = out
                del pending[name]
            elif out.error and out.error.startswith("bad_data"):
                del pending[name]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(interval)
    return done, {n: last[n] for n in exprs if n not in done}


# --------------------------------------------------------------------------- a local Prometheus


def binary(name: str) -> str | None:
    return shutil.which(name) or next((p for p in (f"/usr/bin/{name}",) if os.access(p, os.X_OK)), None)


@dataclass(frozen=True)
class Target:
    """A static scrape target and the labels the Prometheus operator would put on it."""

    job: str
    address: str  # host:port
    labels: Mapping[str, str] = field(default_factory=dict)
    path: str = "/metrics"


def scrape_config(targets: Sequence[Target], interval: str = "1s", rule_files: Sequence[Path] = ()) -> dict[str, Any]:
    return {
        "global": {"scrape_interval": interval, "scrape_timeout": interval, "evaluation_interval": interval},
        "rule_files": [str(p) for p in rule_files],
        "scrape_configs": [
            {
                "job_name": t.job,
                "metrics_path": t.path,
                "static_configs": [{"targets": [t.address], "labels": dict(t.labels)}],
            }
            for t in targets
        ],
    }


class LocalPrometheus:
    """``prometheus`` on 127.0.0.1:``port`` with its config and TSDB under ``workdir``; ``promtool check
    config`` first. A context manager: stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, workdir: Path, port: int, targets: Sequence[Target], *, rule_files: Sequence[Path] = ()) -> None:
        import yaml

        self.workdir = workdir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.config = workdir / "prometheus.yml"
        self.log = workdir / "prometheus.log"
        self.config.write_text(yaml.safe_dump(scrape_config(targets, rule_files=rule_files), sort_keys=False))
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_in: float | None = None

    def check_config(self) -> str:
        promtool = binary("promtool")
        if promtool is None:
            raise FileNotFoundError("promtool")
        proc = subprocess.run(
            [promtool, "check", "config", str(self.config)], capture_output=True, text=True, timeout=60, check=False
        )
        if proc.returncode != 0:
            raise RuntimeError(f"promtool check config failed:\n{proc.stdout}{proc.stderr}")
        return proc.stdout

    def start(self, timeout: float = 60.0) -> LocalPrometheus:
        import httpx

        exe = binary("prometheus")
        if exe is None:
            raise FileNotFoundError("prometheus")
        (self.workdir / "data").mkdir(exist_ok=True)
        started = time.monotonic()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    exe,
                    f"--config.file={self.config}",
                    f"--storage.tsdb.path={self.workdir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--storage.tsdb.retention.time=1h",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    self.started_in = time.monotonic() - started
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"prometheus not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> LocalPrometheus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- Kafka Exporter stand-in


OFFSET_NONE = -1  # what the Kafka protocol (and so the exporter) reports for a partition without a commit


class KafkaExporterStandIn:
    """A Prometheus collector with the consumer-group series of ``danielqsj/kafka_exporter`` (what
    Strimzi runs for ``spec.kafkaExporter``), computed with that exporter's rules, for the test of the
    dashboard where the real exporter cannot be built: the Go module proxy refuses that module here.

    The rules followed (the exporter's, with its defaults ``offset.show-all=true``):

    - topics and groups are filtered with ``topic_regex`` / ``group_regex`` (Strimzi's ``topicRegex`` and
      ``groupRegex``), matched unanchored, as Go's ``MatchString``;
    - for each group, the committed offset of every partition of every kept topic is asked for; a topic
      on which the group has no committed offset at all is skipped;
    - ``kafka_consumergroup_current_offset`` is the committed offset (``-1`` for none),
      ``kafka_consumergroup_lag`` the partition's newest offset minus it, or ``-1`` when the partition
      has no committed offset ("to be able to alert on that");
    - ``..._current_offset_sum`` adds the offsets as reported (``-1`` included); ``kafka_consumergroup_lag_sum``
      adds only the real lags.

    Not reproduced: broker info, replicas, leaders, the ZooKeeper lag, SASL/TLS. It proves the
    dashboard's query against series of the exporter's names, labels and arithmetic; it does not prove
    the exporter itself (its Kafka client, its version quirks).
    """

    def __init__(self, bootstrap_servers: str, *, group_regex: str = ".*", topic_regex: str = ".*") -> None:
        from confluent_kafka.admin import AdminClient

        self._admin = AdminClient({"bootstrap.servers": bootstrap_servers})
        self.group_re = re.compile(group_regex)
        self.topic_re = re.compile(topic_regex)
        self.errors: list[str] = []

    def describe(self) -> list[Any]:
        return []  # unchecked collector: its families are known only when collected

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import GaugeMetricFamily

        def gauge(name: str, doc: str, labels: Sequence[str]) -> Any:
            return GaugeMetricFamily(name, doc, labels=list(labels))

        brokers = gauge("kafka_brokers", "Number of Brokers in the Kafka Cluster.", [])
        partitions = gauge("kafka_topic_partitions", "Number of partitions for this Topic", ["topic"])
        newest = gauge(
            "kafka_topic_partition_current_offset",
            "Current Offset of a Broker at Topic/Partition",
            ["topic", "partition"],
        )
        members = gauge("kafka_consumergroup_members", "Amount of members in a consumer group", ["consumergroup"])
        gp = ["consumergroup", "topic", "partition"]
        committed = gauge(
            "kafka_consumergroup_current_offset", "Current Offset of a ConsumerGroup at Topic/Partition", gp
        )
        lag = gauge("kafka_consumergroup_lag", "Current Approximate Lag of a ConsumerGroup at Topic/Partition", gp)
        gt = ["consumergroup", "topic"]
        committed_sum = gauge(
            "kafka_consumergroup_current_offset_sum",
            "Current Offset of a ConsumerGroup at Topic for all partitions",
            gt,
        )
        lag_sum = gauge(
            "kafka_consumergroup_lag_sum", "Current Approximate Lag of a ConsumerGroup at Topic for all partitions", gt
        )
        try:
            self._collect(brokers, partitions, newest, members, committed, lag, committed_sum, lag_sum)
        except Exception as exc:  # the broker is away: report what was gathered, as the exporter logs and goes on
            self.errors.append(repr(exc))
        yield from (brokers, partitions, newest, members, committed, lag, committed_sum, lag_sum)

    def _collect(self, brokers: Any, partitions: Any, newest: Any, members: Any, *group_families: Any) -> None:
        from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
        from confluent_kafka.admin import OffsetSpec

        committed, lag, committed_sum, lag_sum = group_families
        md = self._admin.list_topics(timeout=5)
        brokers.add_metric([], len(md.brokers))
        topics = {t: sorted(m.partitions) for t, m in md.topics.items() if self.topic_re.search(t)}
        wanted = [TopicPartition(t, p) for t, ps in sorted(topics.items()) for p in ps]
        high: dict[tuple[str, int], int] = {}
        if wanted:
            futures = self._admin.list_offsets({tp: OffsetSpec.latest() for tp in wanted}, request_timeout=5)
            for tp, fut in futures.items():
                high[(tp.topic, tp.partition)] = int(fut.result().offset)
        for t, ps in sorted(topics.items()):
            partitions.add_metric([t], len(ps))
            for p in ps:
                if (t, p) in high:
                    newest.add_metric([t, str(p)], high[(t, p)])

        listing = self._admin.list_consumer_groups(request_timeout=5).result()
        groups = sorted(g.group_id for g in listing.valid if self.group_re.search(g.group_id))
        if not groups or not wanted:
            return
        for gid, fut in self._admin.describe_consumer_groups(groups, request_timeout=5).items():
            members.add_metric([gid], len(fut.result().members))
        for gid in groups:  # the admin API answers one group per request
            fut = self._admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(gid, wanted)], request_timeout=5
            )[gid]
            by_topic: dict[str, list[tuple[int, int]]] = {}
            for tp in fut.result().topic_partitions:
                if tp.error is None:
                    by_topic.setdefault(tp.topic, []).append(
                        (tp.partition, tp.offset if tp.offset >= 0 else OFFSET_NONE)
                    )
            for topic, offsets in sorted(by_topic.items()):
                if all(o == OFFSET_NONE for _, o in offsets):
                    continue  # the group does not consume this topic
                total = lags = 0
                for p, o in sorted(offsets):
                    total += o
                    committed.add_metric([gid, topic, str(p)], o)
                    if (topic, p) not in high:
                        continue
                    value = OFFSET_NONE if o == OFFSET_NONE else high[(topic, p)] - o
                    if o != OFFSET_NONE:
                        lags += value
                    lag.add_metric([gid, topic, str(p)], value)
                committed_sum.add_metric([gid, topic], total)
                lag_sum.add_metric([gid, topic], lags)


def serve_collector(collector: Any, port: int) -> Any:
    """Serve one collector on 127.0.0.1:``port``/metrics (its own registry); returns (server, thread)."""
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return start_http_server(port, addr="127.0.0.1", registry=registry)


# --------------------------------------------------------------------------- exporters' own definitions

# where the series of the panels this stage cannot feed are defined: the exporter's Go module and file
KUBE_STATE_METRICS = ("k8s.io/kube-state-metrics/v2", "v2.13.0", "internal/store/deployment.go")
KEDA_METRICS_FILES = ("pkg/metricscollector/prommetrics.go", "pkg/metricscollector/metricscollectors.go")
KEDA_MODULE = "github.com/kedacore/keda/v2"
# labels the Prometheus operator puts on every target (so a query may group or match on them)
TARGET_LABELS = frozenset({"job", "instance", "namespace", "pod", "container", "endpoint", "service"})


class Unavailable(RuntimeError):
    """No Go toolchain, or the Go module proxy did not answer."""


def go_module_file(module: str, version: str, path: str) -> str:
    """One file of a Go module at a version, from the module cache (``go mod download``, once)."""
    import tempfile
    import zipfile

    go = shutil.which("go") or next((p for p in ("/usr/local/go/bin/go",) if os.access(p, os.X_OK)), None)
    if go is None:
        raise Unavailable("no Go toolchain ('go' is not on PATH)")
    proc = subprocess.run(
        [go, "mod", "download", "-json", f"{module}@{version}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tempfile.gettempdir(),
    )
    try:
        info = json.loads(proc.stdout or "{}")
    except ValueError:
        info = {}
    if proc.returncode != 0 or "Zip" not in info:
        raise Unavailable(f"go mod download {module}@{version}: {info.get('Error') or proc.stderr.strip()[-300:]}")
    with zipfile.ZipFile(info["Zip"]) as z:
        return z.read(f"{module}@{version}/{path}").decode()


def _strings(go_list: str) -> set[str]:
    return set(re.findall(r'"(\w+)"', go_list))


def keda_series(prommetrics_go: str, collectors_go: str) -> dict[str, set[str]]:
    """Series name -> label names of the KEDA operator's Prometheus metrics (``prometheus.New*Vec``)."""
    ns = re.search(r'DefaultPromMetricsNamespace\s*=\s*"(\w+)"', collectors_go)
    namespace = ns.group(1) if ns else "keda"
    shared = {name: _strings(body) for name, body in re.findall(r"(\w+)\s*=\s*\[\]string\{([^}]*)\}", prommetrics_go)}
    out = {}
    vec = r"prometheus\.New\w+Vec\(\s*prometheus\.\w+Opts\{(.*?)\},\s*(\w+|\[\]string\{[^}]*\})"
    for opts, labels in re.findall(vec, prommetrics_go, re.DOTALL):
        sub = re.search(r'Subsystem:\s*"(\w*)"', opts)
        name = re.search(r'Name:\s*"(\w+)"', opts)
        if name is None:
            continue
        full = "_".join(x for x in (namespace, sub.group(1) if sub else "", name.group(1)) if x)
        out[full] = shared[labels] if labels in shared else _strings(labels)
    return out


def kube_state_series(store_go: str) -> dict[str, set[str]]:
    """Series name -> label names of one kube-state-metrics store (its default labels plus each family's)."""
    default = re.search(r"desc\w*LabelsDefaultLabels\s*=\s*\[\]string\{([^}]*)\}", store_go)
    base = _strings(default.group(1)) if default else set()
    names = [(m.start(), m.group(1)) for m in re.finditer(r'"(kube_\w+)"', store_go)]
    out = {}
    for i, (pos, name) in enumerate(names):
        block = store_go[pos : names[i + 1][0] if i + 1 < len(names) else len(store_go)]
        extra = set().union(*(_strings(b) for b in re.findall(r"LabelKeys\s*(?::|=)\s*\[\]string\{([^}]*)\}", block)))
        out.setdefault(name, set()).update(base | extra)
    return out


def labels_used(expr: str) -> tuple[dict[str, set[str]], set[str]]:
    """(metric -> label names its selector matches on, label names the aggregations group by)."""
    selectors: dict[str, set[str]] = {}
    for metric, body in re.findall(r"\b([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", expr):
        selectors.setdefault(metric, set()).update(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", body))
    grouping = {g.strip() for b in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", expr) for g in b.split(",")}
    return selectors, grouping - {""}


def unknown_series_and_labels(expr: str, defined: Mapping[str, set[str]]) -> list[str]:
    """What ``expr`` selects that the exporter does not define (its series, their labels, the target's)."""
    selectors, grouping = labels_used(expr)
    problems = []
    known: set[str] = set(TARGET_LABELS)
    for metric, labels in selectors.items():
        if metric not in defined:
            problems.append(f"series {metric} is not defined")
            continue
        known |= defined[metric]
        problems += [f"{metric} has no label {label}" for label in sorted(labels - defined[metric] - TARGET_LABELS)]
    problems += [f"no series has the label {label} (by ...)" for label in sorted(grouping - known - {"le"})]
    return problems


# --------------------------------------------------------------------------- CLI


def resolve_variables(
    api: PrometheusAPI, variables: Mapping[str, Variable], given: Mapping[str, str]
) -> dict[str, str | list[str]]:
    """Each variable's value: given on the command line, else every value its query finds (a custom
    variable: its first option)."""
    out: dict[str, str | list[str]] = {}
    for name, var in variables.items():
        if name in given:
            out[name] = [given[name]]
        elif var.type == "query":
            selector, label = label_values_query(var.query)
            found = api.label_values(label, selector)
            if not found:
                raise LookupError(f"variable ${name}: {var.query} finds no value")
            out[name] = found
        elif var.type == "custom":
            out[name] = [var.options[0]]
        elif var.type == "datasource":
            out[name] = "prometheus"
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/prometheus_check.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="the Prometheus to query, e.g. http://127.0.0.1:9090")
    ap.add_argument("--dashboard", type=Path, default=DASHBOARD)
    ap.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="a dashboard variable's value")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for every query to return data")
    ap.add_argument("--rules-out", type=Path, help="write the dashboard's expressions as recording rules here")
    args = ap.parse_args(argv)
    dash = load_dashboard(args.dashboard)
    queries = dashboard_queries(dash)
    given = dict(v.split("=", 1) for v in args.var)
    variables = dashboard_variables(dash)
    if args.rules_out:
        values: dict[str, str | list[str]] = {n: [given.get(n, ".*")] for n in variables}
        for n, var in variables.items():
            if var.type == "custom" and n not in given:
                values[n] = [var.options[0]]
        args.rules_out.write_text(json.dumps(dashboard_as_rules(queries, values), indent=2) + "\n")
        print(f"{len(queries)} recording rules written to {args.rules_out}")
    if not args.url:
        return 0
    api = PrometheusAPI(args.url)
    try:
        values = resolve_variables(api, variables, given)
        exprs = {q.name: substitute(q.expr, values) for q in queries}
        done, missing = wait_for_data(api, exprs, args.timeout)
    finally:
        api.close()
    for name in exprs:
        out = done.get(name) or missing[name]
        print(f"{'ok  ' if name in done else 'FAIL'} {name}: {out.describe()}")
    if any(o.error and o.error.startswith("bad_data") for o in missing.values()):
        return 2
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
