"""Strimzi resources (kafka.strimzi.io) validated against Strimzi's CRDs, strictly.

kubeconform has no schema for the group, so scripts/strimzi_validate.mjs (through infra_tools.py)
checks each document with the AJV validator compiled from the CRD of its apiVersion and kind (types,
enums, required fields) and looks every field up in the TypeScript interface generated from the same
CRD (an undeclared field fails, as under kubeconform -strict). Covered: infra/kafka/*.yaml and every
kustomize overlay of infra/azure/k8s as kubectl renders it, plus broken copies that must fail, all in
one run of the validator (one TypeScript program) for the module.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from tests._scripts import load_script
from tests.infra._k8s import kustomize

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "scripts" / "infra_tools.py"
KAFKA_FILES = sorted((ROOT / "infra" / "kafka").glob("*.yaml"))
OVERLAYS = sorted(p.parent for p in (ROOT / "infra" / "azure" / "k8s").glob("*/kustomization.yaml"))
USER_FILE = ROOT / "infra" / "azure" / "k8s" / "kafka" / "kafka-user.yaml"

pytestmark = pytest.mark.timeout(900)

Doc = dict[str, Any]


def infra_tools() -> ModuleType:
    return load_script("infra_tools.py", "infra_tools")


@pytest.fixture(scope="module")
def strimzi_toolchain(toolchain: dict[str, Any]) -> dict[str, Any]:
    if toolchain["strimzi"]["unavailable"]:
        pytest.skip(f"Strimzi validators unavailable: {toolchain['strimzi']['unavailable']}")
    return toolchain


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def first(kind: str) -> Doc:
    """A deep copy of the first document of a kind in infra/kafka (KafkaUser: the AKS overlay's)."""
    files = [*KAFKA_FILES, USER_FILE]
    docs = [d for f in files for d in yaml.safe_load_all(f.read_text()) if isinstance(d, dict)]
    return copy.deepcopy(next(d for d in docs if d["kind"] == kind))


def _topic_partitions_six() -> Doc:
    doc = first("KafkaTopic")
    doc["spec"]["partitions"] = "six"
    return doc


def _topic_partitions_misspelled() -> Doc:
    doc = first("KafkaTopic")
    doc["spec"]["partitons"] = doc["spec"].pop("partitions")
    return doc


def _listener_type_bogus() -> Doc:
    doc = first("Kafka")
    doc["spec"]["kafka"]["listeners"][0]["type"] = "bogus"
    return doc


def _user_authentication_bogus() -> Doc:
    doc = first("KafkaUser")
    doc["spec"]["authentication"]["type"] = "scram-sha-256"
    return doc


def _several_faults_in_one_kafka() -> Doc:
    """A wrong type and misspellings at several depths: every one is reported, not only the first."""
    doc = first("Kafka")
    listener = doc["spec"]["kafka"]["listeners"][-1]
    listener["port"] = "9093"
    listener["tsl"] = listener.pop("tls")
    doc["spec"]["kafka"]["confg"] = doc["spec"]["kafka"].pop("config")
    doc["spec"]["entityOperator"]["topicOperatr"] = doc["spec"]["entityOperator"].pop("topicOperator")
    doc["metadata"]["lables"] = {"a": "b"}
    return doc


def _unknown_kind() -> Doc:
    return {**first("KafkaTopic"), "kind": "KafkaTopics"}


def _unknown_version() -> Doc:
    return {**first("KafkaTopic"), "apiVersion": "kafka.strimzi.io/v1beta3"}


# broken copies of real documents -> the (path, check, part of the message) each must produce
NEGATIVES: dict[str, tuple[Callable[[], Doc], set[tuple[str, str, str]]]] = {
    "partitions-six": (_topic_partitions_six, {("spec.partitions", "schema", "must be integer")}),
    "partitions-misspelled": (
        _topic_partitions_misspelled,
        {("spec.partitons", "fields", 'unknown field "partitons"; declared here: topicName, partitions')},
    ),
    "listener-type-bogus": (
        _listener_type_bogus,
        {("spec.kafka.listeners.0.type", "schema", "allowed values (internal, route, loadbalancer")},
    ),
    "user-authentication-bogus": (
        _user_authentication_bogus,
        {("spec.authentication.type", "schema", "allowed values (tls, tls-external, scram-sha-512)")},
    ),
    "several-faults": (
        _several_faults_in_one_kafka,
        {
            ("spec.kafka.listeners.1.port", "schema", "must be integer"),
            ("spec.kafka.listeners.1.tsl", "fields", 'unknown field "tsl"'),
            ("spec.kafka.confg", "fields", 'unknown field "confg"'),
            ("spec.entityOperator.topicOperatr", "fields", 'unknown field "topicOperatr"'),
            ("metadata.lables", "fields", 'unknown field "lables"'),
        },
    ),
    "unknown-kind": (_unknown_kind, {("kind", "schema", "unknown kind KafkaTopics in kafka.strimzi.io/v1beta2")}),
    "unknown-version": (_unknown_version, {("apiVersion", "schema", "unknown apiVersion kafka.strimzi.io/v1beta3")}),
}


@pytest.fixture(scope="module")
def report(strimzi_toolchain: dict[str, Any]) -> dict[str, Any]:
    """One run of the validator over every document of this module: what was given, what it found."""
    tools = infra_tools()
    docs: list[tuple[str, Doc]] = []
    for path in KAFKA_FILES:
        docs += tools.strimzi_documents(path.read_text(), rel(path))
    if shutil.which("kubectl"):
        for overlay in OVERLAYS:
            docs += tools.strimzi_documents(kustomize(overlay), f"kustomize {rel(overlay)}")
    docs += [(f"negative {name}", make()) for name, (make, _) in NEGATIVES.items()]
    checked, problems = tools.strimzi_problems(docs)
    assert checked == len(docs)
    by_source: dict[str, list[dict[str, Any]]] = {source: [] for source, _ in docs}
    for problem in problems:
        by_source[problem["source"]].append(problem)
    return {"docs": docs, "problems": by_source}


def test_infra_kafka_documents_validate(report: dict[str, Any]) -> None:
    ours = [(s, d) for s, d in report["docs"] if s.startswith("infra/kafka/")]
    assert {d["kind"] for _, d in ours} == {"Kafka", "KafkaNodePool", "KafkaTopic"}
    bad = {s: report["problems"][s] for s, _ in ours if report["problems"][s]}
    assert not bad, "\n".join(infra_tools().describe_problem(p) for ps in bad.values() for p in ps)


@pytest.mark.parametrize("overlay", OVERLAYS, ids=rel)
def test_aks_overlay_documents_validate(report: dict[str, Any], overlay: Path) -> None:
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl (its built-in kustomize renders the overlay) is not installed")
    ours = [(s, d) for s, d in report["docs"] if s.startswith(f"kustomize {rel(overlay)}#")]
    assert {d["kind"] for _, d in ours} == {"Kafka", "KafkaNodePool", "KafkaTopic", "KafkaUser"}
    bad = {s: report["problems"][s] for s, _ in ours if report["problems"][s]}
    assert not bad, "\n".join(infra_tools().describe_problem(p) for ps in bad.values() for p in ps)


@pytest.mark.parametrize("name", list(NEGATIVES))
def test_broken_documents_fail_naming_the_field(report: dict[str, Any], name: str) -> None:
    problems = report["problems"][f"negative {name}"]
    _, expected = NEGATIVES[name]
    for path, check, message in expected:
        assert any(p["path"] == path and p["check"] == check and message in p["message"] for p in problems), (
            path,
            check,
            message,
            problems,
        )
    lines = [infra_tools().describe_problem(p) for p in problems]
    for path, _, _ in expected:
        assert any(f": {path}: " in line for line in lines)


def test_the_command_line_names_file_kind_name_and_field(strimzi_toolchain: dict[str, Any], tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text((ROOT / "infra" / "kafka" / "topics.yaml").read_text())
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump_all([{"apiVersion": "v1", "kind": "Namespace"}, _topic_partitions_misspelled()]))
    proc = subprocess.run(
        [sys.executable, str(TOOLS), "--strimzi", str(good), str(bad)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    name = first("KafkaTopic")["metadata"]["name"]
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.splitlines() == [
        f'{bad}#2: KafkaTopic {name}: spec.partitons: unknown field "partitons"; '
        "declared here: topicName, partitions, replicas, config [fields]"
    ]
    assert "documents checked, 1 with problems" in proc.stderr
