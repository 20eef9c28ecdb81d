"""The two Kubernetes tools the infra tests call: kubeconform (strict, against the toolchain's schemas)
and kubectl's built-in kustomize (the AKS overlays of infra/azure/k8s)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest


def kubeconform(
    toolchain: dict[str, Any], path: Path, version: str | None = None, skip: set[str] = frozenset()
) -> dict[str, Any]:
    """Validate the manifests in ``path`` strictly (Kubernetes ``version``, default the oldest supported);
    fails the test on any resource that is neither valid nor skipped; returns kubeconform's summary."""
    cmd = [toolchain["bin"]["kubeconform"], "-strict", "-summary", "-output", "json"]
    cmd += ["-kubernetes-version", version or toolchain["kubernetes_versions"][0]]
    for loc in toolchain["schema_locations"]:
        cmd += ["-schema-location", loc]
    if skip:
        cmd += ["-skip", ",".join(sorted(skip))]
    proc = subprocess.run([*cmd, str(path)], capture_output=True, text=True, timeout=300, check=False)
    report: dict[str, Any] = json.loads(proc.stdout)
    failures = [
        f"{r.get('kind')}/{r.get('name')}: {r.get('status')} {r.get('msg')}"
        for r in report.get("resources", [])
        if r.get("status") not in {"statusValid", "statusSkipped"}
    ]
    assert proc.returncode == 0 and not failures, "\n".join(failures) or proc.stderr
    summary: dict[str, Any] = report["summary"]
    return summary


def kustomize(overlay: Path) -> str:
    """``kubectl kustomize`` of an overlay whose bases live outside it (load restrictor off)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (its built-in kustomize renders the overlay) is not installed")
    proc = subprocess.run(
        [kubectl, "kustomize", "--load-restrictor", "LoadRestrictionsNone", str(overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
