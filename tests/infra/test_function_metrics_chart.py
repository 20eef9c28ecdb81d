"""The chart's side of the event functions' metrics: each event-function pod runs one worker process
with FUNCTIONS_METRICS_PORT on a named `metrics` port, a PodMonitor (under the ServiceMonitor switch)
selects exactly those pods, their NetworkPolicy admits the scraper on that port and nothing else, and
the gateway and the task API never get the variable. (helm lint and kubeconform over every profile,
the PodMonitor included, are in test_chart.py.)"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

import tests.infra.test_chart as chart

# the rendered profiles of test_chart.py (toolchain and Helm home come from conftest.py)
rendered = chart.rendered

RELEASE = chart.RELEASE
VALUES = yaml.safe_load((chart.CHART / "values.yaml").read_text())
PORT = int(VALUES["eventFunctionDefaults"]["metricsPort"])
FUNCTIONS = set(VALUES["eventFunctions"])


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and the In/NotIn/Exists/DoesNotExist expressions)."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for e in selector.get("matchExpressions", []):
        have = e["key"] in labels
        ok = {
            "In": have and labels.get(e["key"]) in e.get("values", []),
            "NotIn": not have or labels.get(e["key"]) not in e.get("values", []),
            "Exists": have,
            "DoesNotExist": not have,
        }[e["operator"]]
        if not ok:
            return False
    return True


def test_selector_check_can_fail() -> None:
    sel = {"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "f", "operator": "In", "values": ["x"]}]}
    assert selects(sel, {"a": "1", "f": "x"})
    assert not selects(sel, {"a": "1", "f": "y"})
    assert not selects(sel, {"a": "2", "f": "x"})
    assert not selects(sel, {"a": "1"})


def function_pods(docs: list[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """Event function name -> (pod metadata, pod spec)."""
    out = {}
    for _, meta, spec in chart.pod_specs(docs):
        fn = meta.get("labels", {}).get("todo-cloud/function")
        if fn is not None:
            out[fn] = (meta, spec)
    return out


@pytest.mark.parametrize("profile", [*chart.PROFILES, "everything-on"])
def test_event_function_pods_serve_metrics_from_one_worker_process(rendered: dict[str, str], profile: str) -> None:
    docs = chart.docs_of(rendered[profile])
    pods = function_pods(docs)
    assert set(pods) == FUNCTIONS
    for fn, (meta, spec) in pods.items():
        (c,) = spec["containers"]
        ports = {p["name"]: p for p in c["ports"]}
        assert ports["metrics"]["containerPort"] == PORT and ports["metrics"]["protocol"] == "TCP", fn
        assert ports["http"]["containerPort"] != PORT, fn
        env = chart.env_map(c)
        assert env["FUNCTIONS_METRICS_PORT"]["value"] == str(PORT), fn
        assert env["FUNCTIONS_WORKER_PROCESS_COUNT"]["value"] == "1", fn
        if meta.get("annotations", {}).get("dapr.io/enabled") == "true":  # the sidecar's metrics share the pod
            assert meta["annotations"]["dapr.io/metrics-port"] != str(PORT), fn
    # only the event functions: the gateway has its own /metrics, the task API its /metrics route
    for workload, _, spec in chart.pod_specs(docs):
        if workload.removeprefix("Deployment/").removeprefix(f"{RELEASE}-").replace("-", "_") in FUNCTIONS:
            continue
        for c in spec.get("initContainers", []) + spec["containers"]:
            assert "FUNCTIONS_METRICS_PORT" not in chart.env_map(c), workload
    for cm in chart.by_kind(docs, "ConfigMap").values():
        assert "FUNCTIONS_METRICS_PORT" not in cm.get("data", {})


def test_podmonitor_scrapes_exactly_the_event_function_pods(rendered: dict[str, str]) -> None:
    assert not chart.by_kind(chart.docs_of(rendered["default"]), "PodMonitor")  # off with the ServiceMonitor
    docs = chart.docs_of(rendered["everything-on"])
    (pm,) = chart.by_kind(docs, "PodMonitor").values()
    assert pm["apiVersion"] == "monitoring.coreos.com/v1"
    assert pm["spec"]["namespaceSelector"] == {"matchNames": [chart.NAMESPACE]}
    (endpoint,) = pm["spec"]["podMetricsEndpoints"]
    assert endpoint["port"] == "metrics" and endpoint["path"] == "/metrics"
    selected = {w for w, meta, _ in chart.pod_specs(docs) if selects(pm["spec"]["selector"], meta["labels"])}
    assert selected == {f"Deployment/{RELEASE}-{fn.replace('_', '-')}" for fn in FUNCTIONS}


@pytest.mark.parametrize("profile", list(chart.PROFILES))
def test_only_the_scraper_reaches_an_event_function_and_only_on_its_metrics_port(
    rendered: dict[str, str], profile: str
) -> None:
    docs = chart.docs_of(rendered[profile])
    policies = chart.by_kind(docs, "NetworkPolicy")
    gateway = policies[f"{RELEASE}-gateway"]["spec"]["ingress"]
    # the peers the gateway's metrics rule admits: the same peers for the functions
    (metrics_from,) = [r["from"] for r in gateway if {"port": 9090, "protocol": "TCP"} in r["ports"]]
    for fn, (meta, _) in function_pods(docs).items():
        applying = [p["spec"] for p in policies.values() if selects(p["spec"]["podSelector"], meta["labels"])]
        rules = [r for p in applying if "Ingress" in p["policyTypes"] for r in p.get("ingress", [])]
        assert rules == [{"from": metrics_from, "ports": [{"port": PORT, "protocol": "TCP"}]}], fn


def test_a_metrics_port_clashing_with_the_dapr_sidecar_is_refused(
    toolchain: dict[str, Any], helm_env: dict[str, str]
) -> None:
    proc = chart.helm(
        toolchain, helm_env, "template", RELEASE, str(chart.CHART), "--set", "eventFunctionDefaults.metricsPort=9090"
    )
    assert proc.returncode != 0
    assert "eventFunctionDefaults.metricsPort must differ" in proc.stderr
