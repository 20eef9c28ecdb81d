#!/usr/bin/env python3
"""A virtualenv built from ``requirements.txt`` alone (no dev requirements), once per machine.

The images install ``requirements.txt`` and nothing else, so code that imports a package that only
``requirements-dev.txt`` (or another package's dependencies) brings passes the suite and dies in the
cluster at import. ``tests/integration/test_runtime_deps.py`` imports and starts the gateway and the
function app from this environment to catch that.

It lives outside the repository, keyed by the interpreter's version and a hash of
``requirements.txt``: ``${TODO_CLOUD_CACHE:-~/.cache/todo-cloud}/runtime-env/py<X.Y>-<hash>/``, with
``env.json`` (how it was built, how long it took). A run whose stamp matches does nothing.

The Functions worker's environment is built the same way (``--worker``): Python 3.13 (what
``azure-functions-runtime``, the worker library, needs; ``TODO_CLOUD_WORKER_PYTHON`` or the newest
``python3.13`` on PATH or under pyenv), ``requirements.txt`` and then ``tests/worker/requirements.txt``
(the worker library and the gRPC runtime the host's proxy worker brings in the base image), under
``worker-env/``. ``tests/integration/test_functions_worker.py`` runs the function app in it.

CLI::

    python scripts/runtime_env.py           # build if needed; print the path and the build time
    python scripts/runtime_env.py --check   # build nothing: exit 0 when ready
    python scripts/runtime_env.py --json
    python scripts/runtime_env.py --worker  # the Functions worker's environment instead

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
WORKER_REQUIREMENTS = REPO / "tests" / "worker" / "requirements.txt"
RECIPE = "1"
STAMP = "env.json"


class Unavailable(RuntimeError):
    """Python or the package index is not usable here: callers skip."""


@dataclass(frozen=True)
class RuntimeEnv:
    root: Path
    python: Path
    stamp: dict[str, Any]


def cache_root(worker: bool = False) -> Path:
    base = Path(os.environ.get("TODO_CLOUD_CACHE", Path.home() / ".cache" / "todo-cloud"))
    return base / ("worker-env" if worker else "runtime-env")


def worker_interpreter() -> str | None:
    """Python 3.13 for the worker: TODO_CLOUD_WORKER_PYTHON, else pyenv's newest 3.13, else python3.13
    on PATH (a pyenv shim on PATH may not run, so each candidate must start)."""
    if os.environ.get("TODO_CLOUD_WORKER_PYTHON"):
        return os.environ["TODO_CLOUD_WORKER_PYTHON"]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    versions = [p for p in pyenv.glob("3.13.*/bin/python3.13") if p.parts[-3].replace(".", "").isdigit()]
    candidates = [str(p) for p in sorted(versions, key=lambda p: tuple(int(x) for x in p.parts[-3].split(".")))]
    candidates.reverse()
    if shutil.which("python3.13"):
        candidates.append(str(shutil.which("python3.13")))
    for python in candidates:
        if subprocess.run([python, "-c", "pass"], capture_output=True, check=False).returncode == 0:
            return python
    return None


def interpreter(worker: bool = False) -> str:
    if worker:
        found = worker_interpreter()
        if found is None:
            raise Unavailable("no Python 3.13 here (the worker library needs it): set TODO_CLOUD_WORKER_PYTHON")
        return found
    return os.environ.get("TODO_CLOUD_RUNTIME_PYTHON", sys.executable)


def _requirement_files(worker: bool) -> list[Path]:
    return [REQUIREMENTS, WORKER_REQUIREMENTS] if worker else [REQUIREMENTS]


def key(python: str, worker: bool = False) -> tuple[str, str]:
    version = subprocess.run(
        [python, "-c", "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    text = RECIPE + "".join(f.read_text() for f in _requirement_files(worker))
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
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


def ensure_env(build: bool = True, worker: bool = False) -> RuntimeEnv | None:
    """The environment (``worker``: the Functions worker's), built unless ``build`` is false."""
    python = interpreter(worker)
    if shutil.which(python) is None and not Path(python).exists():
        raise Unavailable(f"no Python at {python}")
    version, digest = key(python, worker)
    root = cache_root(worker) / f"py{version}-{digest}"
    with _locked(cache_root(worker) / f".py{version}.lock"):
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
        for req in _requirement_files(worker):  # requirements.txt on its own first, as the image does
            proc = subprocess.run([*pip, "install", "-r", str(req)], capture_output=True, text=True, check=False)
            if proc.returncode != 0:
                break
        if proc.returncode != 0:
            shutil.rmtree(root, ignore_errors=True)
            tail = (proc.stderr or proc.stdout)[-2000:]
            if "No matching distribution" in tail or "Could not find a version" in tail or "NewConnectionError" in tail:
                raise Unavailable(f"the package index cannot serve requirements.txt here:\n{tail}")
            raise RuntimeError(f"pip install -r {req.relative_to(REPO)} failed:\n{tail}")
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
    ap.add_argument("--worker", action="store_true", help="the Functions worker's environment (Python 3.13)")
    args = ap.parse_args()
    try:
        env = ensure_env(build=not args.check, worker=args.worker)
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
