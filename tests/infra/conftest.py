"""What every infra test shares: the toolchain of scripts/infra_tools.py (helm, kubeconform, actionlint,
the schemas and the Strimzi validators, cached under ~/.cache/todo-cloud/tools), asked for once per
session, and a Helm home of the session's own. The tests skip only when the toolchain is absent and
cannot be installed (exit 3: no Go, or no registry)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

TOOLS = Path(__file__).resolve().parents[2] / "scripts" / "infra_tools.py"


@pytest.fixture(scope="session")
def toolchain(record_testsuite_property: Any) -> dict[str, Any]:
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(TOOLS), "--json"], capture_output=True, text=True, timeout=1800, check=False
    )
    elapsed = time.monotonic() - started
    if proc.returncode == 3:
        pytest.skip("infra toolchain absent and not installable here: " + proc.stderr.strip().splitlines()[-1])
    assert proc.returncode == 0, f"scripts/infra_tools.py failed:\n{proc.stderr}"
    info: dict[str, Any] = json.loads(proc.stdout)
    info["install_seconds"] = round(elapsed, 1)
    record_testsuite_property("infra_toolchain_seconds", info["install_seconds"])
    return info


@pytest.fixture(scope="session")
def helm_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("helm-home")
    env = dict(os.environ)
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        env[var] = str(home / var.lower())
    return env
