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
