#!/usr/bin/env python3
"""A virtualenv built from ``requirements.txt`` alone (no dev requirements), once per machine.

The images install ``requirements.txt`` and nothing else, so code that imports a package that only
``requirements-dev.txt`` (or another package's dependencies) brings passes the suite and dies in the
cluster at import. ``tests/integration/test_runtime_deps.py`` imports and starts the gateway and the
function app from this environment to catch that.

It lives outside the repository, keyed by the interpreter's version and a hash of
``requirements.txt``: ``${TODO_CLOUD_CACHE:-~/.cache/todo-cloud}/runtime-env/py<X.Y>-<hash>/``, with
``env.json`` (how it was built, how long it took). A run whose stamp matches does nothing.

CLI::

    python scripts/runtime_env.py           # build if needed; print the path and the build time
    python scripts/runtime_env.py --check   # build nothing: exit 0 when ready
    python scripts/runtime_env.py --json

Exit codes: 0 ready; 1 the build failed; 2 (``--check``) not built yet but buildable; 3 no usable
Python or package index here (tests skip on this, with the reason).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REQUIREMENTS = REPO / "requirements.txt"
RECIPE = "1"
STAMP = "env.json"


class Unavailable(RuntimeError):
    """Python or the package index is not usable here: callers skip."""


@dataclass(frozen=True)
class RuntimeEnv:
    root: Path
    python: Path
    stamp: dict[str, Any]


def cache_root() -> Path:
    return Path(os.environ.get("TODO_CLOUD_CACHE", Path.home() / ".cache" / "todo-cloud")) / "runtime-env"


def interpreter() -> str:
    return os.environ.get("TODO_CLOUD_RUNTIME_PYTHON", sys.executable)


def key(python: str) -> tuple[str, str]:
    version = subprocess.run(
        [python, "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    digest = hashlib.sha256((RECIPE + REQUIREMENTS.read_text()).encode()).hexdigest()[:12]
    return version, digest


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _ready(root: Path, digest: str) -> dict[str, Any] | None:
    try:
        stamp: dict[str, Any] = json.loads((root / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return stamp if stamp.get("requirements_sha") == digest and (root / "bin" / "python").exists() else None


def ensure_env(build: bool = True) -> RuntimeEnv | None:
    python = interpreter()
    if shutil.which(python) is None and not Path(python).exists():
        raise Unavailable(f"no Python at {python}")
    version, digest = key(python)
    root = cache_root() / f"py{version}-{digest}"
    with _locked(cache_root() / f".py{version}.lock"):
        stamp = _ready(root, digest)
        if stamp is not None:
            return RuntimeEnv(root, root / "bin" / "python", stamp)
        if not build:
            return None
        if root.exists():
            shutil.rmtree(root)
        started = time.monotonic()
        subprocess.run([python, "-m", "venv", str(root)], check=True)
        pip = [str(root / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
        proc = subprocess.run([*pip, "install", "-r", str(REQUIREMENTS)], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            tail = (proc.stderr or proc.stdout)[-2000:]
            if "No matching distribution" in tail or "Could not find a version" in tail or "NewConnectionError" in tail:
                raise Unavailable(f"the package index cannot serve requirements.txt here:\n{tail}")
            raise RuntimeError(f"pip install -r requirements.txt failed:\n{tail}")
        stamp = {
            "recipe": RECIPE,
            "requirements_sha": digest,
            "python": version,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "build_seconds": round(time.monotonic() - started, 1),
            "packages": subprocess.run(
                [*pip, "freeze"], capture_output=True, text=True, check=True
            ).stdout.splitlines(),
        }
        (root / STAMP).write_text(json.dumps(stamp, indent=2))
        return RuntimeEnv(root, root / "bin" / "python", stamp)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="build nothing; exit 0 when ready, 2 when not built")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    try:
        env = ensure_env(build=not args.check)
    except Unavailable as e:
        print(f"runtime env: unavailable here: {e}", file=sys.stderr)
        return 3
    except (RuntimeError, subprocess.CalledProcessError) as e:
        print(f"runtime env: build failed: {e}", file=sys.stderr)
        return 1
    if env is None:
        print("runtime env: not built yet")
        return 2
    report = {
        "root": str(env.root),
        "python": str(env.python),
        **{k: env.stamp[k] for k in ("python", "build_seconds")},
    }
    print(json.dumps(report) if args.json else f"runtime env: {env.root} (built in {env.stamp['build_seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
