"""The GitHub workflows pass actionlint, and keep the properties the team relies on."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


@pytest.fixture(scope="module")
def actionlint(toolchain: dict[str, Any]) -> str:
    return str(toolchain["bin"]["actionlint"])


def test_actionlint_accepts_every_workflow(actionlint: str) -> None:
    assert [w.name for w in WORKFLOWS] == ["cd.yml", "ci.yml"]
    proc = subprocess.run([actionlint, *map(str, WORKFLOWS)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / ".github" / "workflows" / name).read_text())
    return data


@pytest.mark.parametrize("name", ["ci.yml", "cd.yml"])
def test_least_privilege_timeouts_and_concurrency(name: str) -> None:
    wf = _load(name)
    assert wf["permissions"] == {"contents": "read"}
    assert "group" in wf["concurrency"]
    for job_name, job in wf["jobs"].items():
        assert 0 < job["timeout-minutes"] <= 60, job_name
        extra = set(job.get("permissions", {})) - {"contents", "id-token"}
        assert not extra, f"{job_name} asks for {extra}"


def test_cd_uses_oidc_and_never_a_stored_cloud_password() -> None:
    text = (ROOT / ".github" / "workflows" / "cd.yml").read_text()
    assert "azure/login@" in text and "client-id:" in text
    assert "creds:" not in text and "client-secret" not in text and "secrets." not in text
    assert "--atomic" in text and "helm rollback" in text


def test_ci_runs_the_readme_test_command() -> None:
    steps = _load("ci.yml")["jobs"]["test"]["steps"]
    assert any(s.get("run") == "bash .ci/run" for s in steps)


# -- CD deploys only commits whose CI succeeded ------------------------------------------------------------


def cd_gating_problems(cd: dict[str, Any], ci: dict[str, Any]) -> list[str]:
    """Why ``cd`` could deploy a commit that ``ci`` did not pass (empty when it cannot)."""
    problems: list[str] = []
    # PyYAML reads the key `on` as True
    triggers = cd.get("on", cd.get(True))
    if not isinstance(triggers, dict) or set(triggers) != {"workflow_run"}:
        problems.append(f"cd must be triggered by workflow_run alone, not {triggers!r}")
        return problems
    run = triggers["workflow_run"] or {}
    if run.get("workflows") != [ci["name"]]:
        problems.append(f"cd's workflow_run must name the ci workflow ({ci['name']!r}), not {run.get('workflows')!r}")
    if run.get("types") != ["completed"]:
        problems.append(f"cd's workflow_run must fire on completed runs only, not {run.get('types')!r}")
    jobs: dict[str, Any] = cd["jobs"]
    gates = [name for name, job in jobs.items() if "needs" not in job]
    if len(gates) != 1:
        problems.append(f"exactly one job may run without `needs` (the gate), not {gates}")
        return problems
    gate = gates[0]
    condition = " ".join(str(jobs[gate].get("if", "")).split())
    if "github.event.workflow_run.conclusion == 'success'" not in condition:
        problems.append(f"the gate job {gate!r} must require the CI run's conclusion to be success: {condition!r}")
    if "github.event.workflow_run.event == 'push'" not in condition:
        problems.append(f"the gate job {gate!r} must require a CI run of a push (not of a pull request): {condition!r}")

    def needs(name: str) -> set[str]:
        value = jobs[name].get("needs", [])
        direct = {value} if isinstance(value, str) else set(value)
        return direct.union(*(needs(d) for d in direct)) if direct else set()

    for name in jobs:
        if name != gate and gate not in needs(name):
            problems.append(f"job {name!r} does not depend on the gate {gate!r}")
        for step in jobs[name].get("steps", []):
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                ref = (step.get("with") or {}).get("ref", "")
                if "head_sha" not in ref and "needs.gate.outputs.sha" not in ref:
                    problems.append(f"job {name!r} checks out {ref or 'the default ref'}, not the commit CI tested")
    text = yaml.safe_dump(cd)
    if "${{ github.sha }}" in text or "github.sha }}" in text:
        problems.append("cd uses github.sha (main's newest commit under workflow_run), not the tested head_sha")
    return problems


def test_cd_deploys_only_what_ci_passed() -> None:
    cd, ci = _load("cd.yml"), _load("ci.yml")
    assert cd_gating_problems(cd, ci) == []
    ci_triggers = ci.get("on", ci.get(True))
    assert "main" in ci_triggers["push"]["branches"] and "v*" in ci_triggers["push"]["tags"], "CI runs what CD deploys"


def _mutated(change: str) -> dict[str, Any]:
    cd = _load("cd.yml")
    triggers = cd.get("on", cd.get(True))
    if change == "push trigger back":
        triggers["push"] = {"branches": ["main"]}
    elif change == "any conclusion":
        del cd["jobs"]["gate"]["if"]
    elif change == "pull requests too":
        cd["jobs"]["gate"]["if"] = "github.event.workflow_run.conclusion == 'success'"
    elif change == "a job without the gate":
        del cd["jobs"]["images"]["needs"]
    elif change == "checkout of the default ref":
        del cd["jobs"]["deploy"]["steps"][0]["with"]
    elif change == "images tagged with github.sha":
        cd["jobs"]["images"]["steps"][-1]["env"]["SHA"] = "${{ github.sha }}"
    elif change == "another workflow":
        triggers["workflow_run"]["workflows"] = ["lint"]
    return cd


@pytest.mark.parametrize(
    "change",
    [
        "push trigger back",
        "any conclusion",
        "pull requests too",
        "a job without the gate",
        "checkout of the default ref",
        "images tagged with github.sha",
        "another workflow",
    ],
)
def test_the_cd_gate_check_fails_when_cd_could_run_without_ci(change: str) -> None:
    assert cd_gating_problems(_mutated(change), _load("ci.yml")), change


def test_cd_pushes_the_repositories_the_chart_deploys() -> None:
    """CD pushes <registry>/<matrix image>:<sha> and the chart pulls <global.imageRegistry>/<repository>:<tag>:
    the names must be the same, image by image, or AKS pulls an image that was never pushed."""
    cd = _load("cd.yml")
    pushed = {entry["dockerfile"]: entry["image"] for entry in cd["jobs"]["images"]["strategy"]["matrix"]["include"]}
    values = yaml.safe_load((ROOT / "infra" / "helm" / "todo-cloud" / "values.yaml").read_text())
    overrides = yaml.safe_load((ROOT / "infra" / "helm" / "todo-cloud" / "values-aks.yaml").read_text()) or {}

    def repository(component: str) -> str:
        image = {**values[component]["image"], **(overrides.get(component, {}) or {}).get("image", {})}
        return str(image["repository"])

    assert pushed == {
        "Dockerfile.gateway": repository("gateway"),
        "Dockerfile.functions": repository("functionsApi"),
        "ui/Dockerfile": repository("ui"),
    }
