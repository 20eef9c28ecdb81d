#!/usr/bin/env python3
"""The images built for real with Debian's podman (runc), from a local base made of Debian packages.

CD builds ``Dockerfile.gateway`` with docker buildx on ``python:3.11-slim`` from the registry and
pushes it to ACR. Here no registry is reachable, so the one thing that stands in is the base:

- ``ensure_base()``: once per machine, mmdebstrap makes a Debian rootfs of the machine's own suite
  (the mirrors of its apt sources, read at run time) with python3 (3.11), python3-venv, python3-pip,
  ca-certificates and python-is-python3 (``python`` on PATH), as a tarball; ``podman import`` tags it
  ``localhost/python:3.11-slim`` (``python:3.11-slim`` resolves to it), so the unchanged
  ``Dockerfile.gateway`` builds with ``--pull=never``. The tarball and its stamp are cached under
  ``${TODO_CLOUD_CACHE:-~/.cache/todo-cloud}/images/``, keyed by the recipe; podman's own storage
  (outside the repository) keeps the image and the build's layers.
- ``build_gateway()``: ``podman build --pull=never --network host -f Dockerfile.gateway`` ->
  ``localhost/todo-cloud/gateway:test``, from a temporary context holding only what the Dockerfile
  COPYs (and ``.dockerignore``), not the repository's virtualenvs and node_modules. The machine's CA
  bundle is mounted for the RUN steps only (pip reaches the index through the machine's network).
- ``podman_unavailable()``: why podman cannot run here, or None (tests skip on it).

Every step is timed; the stamps (``base-*.json``, ``gateway.json``) keep the cold and warm seconds.
``docs/images.md`` lists every difference from the CD build.

CLI::

    python scripts/image_build.py              # base (if needed) and the gateway image
    python scripts/image_build.py --base-only  # the base image only
    python scripts/image_build.py --check      # build nothing: exit 0 when both are there
    python scripts/image_build.py --json

Exit codes: 0 ready; 1 a build failed; 2 (``--check``) not built yet; 3 podman, mmdebstrap, Debian's
mirror or the package index is not usable here (tests skip on this, with the reason).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = "Dockerfile.gateway"
RECIPE = "1"
BASE_IMAGE = "localhost/python:3.11-slim"
BASE_TAGS = (BASE_IMAGE, "python:3.11-slim")
GATEWAY_IMAGE = "localhost/todo-cloud/gateway:test"
PYTHON_SERIES = "3.11"
# what the official python:3.11-slim brings that the Dockerfile needs: python (and `python` on PATH),
# venv with pip (ensurepip), CA certificates; useradd comes with the minbase variant (passwd)
PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates", "python-is-python3")
# as Debian's own slim images: no documentation, manuals or translations
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    "path-exclude=/usr/share/man/*",
    "path-exclude=/usr/share/info/*",
    "path-exclude=/usr/share/locale/*",
    "path-exclude=/usr/share/lintian/*",
)
IMPORT_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    'CMD ["python3"]',
)
PODMAN_NPROC = 32768
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
NETWORK_ERRORS = (
    "Temporary failure resolving",
    "Could not resolve",
    "Failed to fetch",
    "Unable to connect",
    "NewConnectionError",
    "No matching distribution",
    "Could not find a version",
    "SSLError",
)


class Unavailable(RuntimeError):
    """podman, mmdebstrap, Debian's mirror or the package index is not usable here: callers skip."""


def cache_root() -> Path:
    base = Path(os.environ.get("TODO_CLOUD_CACHE", Path.home() / ".cache" / "todo-cloud"))
    return base / "images"


def _run(args: list[str], timeout: float = 600, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, **kw)


def _tail(proc: subprocess.CompletedProcess[str], n: int = 3000) -> str:
    return ((proc.stdout or "") + (proc.stderr or ""))[-n:]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# -- can podman run here ---------------------------------------------------------------------------------


def podman_unavailable() -> str | None:
    """Why podman cannot run containers here, or None when it can."""
    if shutil.which("podman") is None:
        return "podman is not installed (scripts/ensure-debian-packages.sh installs it as root)"
    if os.geteuid() != 0:
        import pwd

        user = pwd.getpwuid(os.geteuid()).pw_name
        try:
            subuid = Path("/etc/subuid").read_text().splitlines()
        except OSError:
            subuid = []
        if not any(line.split(":")[0] in (user, str(os.geteuid())) for line in subuid if ":" in line):
            return f"not root and no subordinate uids for {user} in /etc/subuid (rootless podman needs them)"
        if shutil.which("newuidmap") is None:
            return "not root and no newuidmap (package uidmap): rootless podman cannot map users"
    try:
        proc = _run(["podman", "info", "--format", "json"], timeout=180)
    except subprocess.TimeoutExpired:
        return "podman info did not answer within 180 s"
    if proc.returncode != 0:
        return f"podman info fails: {_tail(proc, 800).strip()}"
    return None


def ulimit_args() -> list[str]:
    """``--ulimit`` flags for open files and processes when this root cannot raise its limits (no
    CAP_SYS_RESOURCE, as in this sandbox): rootful podman asks runc for 1048576 of each, and runc fails with
    "error setting rlimits ... operation not permitted". Open files get this process's hard limit; processes
    at most 32768, the RLIMIT_NPROC podman 4.3 sets on itself at start (strace: setrlimit(RLIMIT_NPROC,
    32768)), which its containers cannot exceed. Empty where podman's defaults work."""
    import resource

    try:
        status = Path("/proc/self/status").read_text()
        eff = int(re.search(r"^CapEff:\s*([0-9a-f]+)", status, re.M).group(1), 16)  # type: ignore[union-attr]
    except (OSError, AttributeError, ValueError):
        eff = 0
    if os.geteuid() != 0 or eff & (1 << 24):  # rootless podman keeps the caller's limits; CAP_SYS_RESOURCE
        return []
    args = []
    for name, limit in (("nofile", resource.RLIMIT_NOFILE), ("nproc", resource.RLIMIT_NPROC)):
        hard = resource.getrlimit(limit)[1]
        if name == "nproc":
            hard = PODMAN_NPROC if hard == resource.RLIM_INFINITY else min(hard, PODMAN_NPROC)
        if hard != resource.RLIM_INFINITY:
            args.append(f"--ulimit={name}={hard}:{hard}")
    return args


def podman_info() -> dict[str, Any]:
    proc = _run(["podman", "info", "--format", "json"], timeout=180)
    info: dict[str, Any] = json.loads(proc.stdout) if proc.returncode == 0 else {}
    return info


# -- the machine's Debian suite and mirrors -----------------------------------------------------------------


def debian_suite() -> str:
    """The machine's Debian codename (``/etc/os-release``)."""
    try:
        fields = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines() if "=" in line)
    except OSError as e:
        raise Unavailable(f"no /etc/os-release: {e}") from e
    if "debian" not in (fields.get("ID", "") + " " + fields.get("ID_LIKE", "")):
        raise Unavailable(f"not a Debian machine ({fields.get('ID')}): mmdebstrap needs Debian's mirrors")
    codename = fields.get("VERSION_CODENAME", "").strip('"')
    if not codename:
        raise Unavailable("/etc/os-release names no VERSION_CODENAME")
    return codename


def suite_python() -> str:
    """The python3 version the machine's apt sources offer (``apt-cache policy python3``)."""
    proc = _run(["apt-cache", "policy", "python3"], timeout=120)
    found = re.search(r"Candidate:\s*(\S+)", proc.stdout)
    if proc.returncode != 0 or not found or found.group(1) == "(none)":
        raise Unavailable(f"apt-cache policy python3 gives no candidate: {_tail(proc, 500)}")
    return found.group(1)


def _deb822(text: str) -> list[dict[str, str]]:
    entries: list[dict[str, str]] = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        last = ""
        for line in block.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and last:  # continuation (a multi-line field such as an inline key)
                fields[last] += "\n" + line.strip()
            elif ":" in line:
                last, value = line.split(":", 1)
                fields[last.strip().lower()] = value.strip()
                last = last.strip().lower()
        if fields:
            entries.append(fields)
    return entries


def apt_sources(suite: str) -> list[str]:
    """The machine's own ``deb`` entries for ``suite`` and its ``suite-*`` companions (updates, security),
    as one-line sources.list entries for mmdebstrap (other suites, such as third-party repositories, are left
    out)."""
    apt = Path("/etc/apt")
    files = [apt / "sources.list"] if (apt / "sources.list").exists() else []
    files += sorted(p for p in (apt / "sources.list.d").glob("*") if p.suffix in (".list", ".sources"))
    lines: list[str] = []

    def wanted(s: str) -> bool:
        return s == suite or s.startswith(suite + "-")

    for path in files:
        text = path.read_text()
        if path.suffix == ".sources":
            for f in _deb822(text):
                if f.get("enabled", "yes").lower() == "no" or "deb" not in f.get("types", "").split():
                    continue
                key = f.get("signed-by", "")
                opts = f" [signed-by={key}]" if key and "\n" not in key else ""
                for uri in f.get("uris", "").split():
                    for s in f.get("suites", "").split():
                        if wanted(s):
                            lines.append(f"deb{opts} {uri} {s} {f.get('components', 'main')}")
        else:
            for raw in text.splitlines():
                line = raw.split("#", 1)[0].strip()
                m = re.match(r"deb\s+(\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.+)", line)
                if m and wanted(m.group(3)):
                    opts = f" {m.group(1).strip()}" if m.group(1) else ""
                    lines.append(f"deb{opts} {m.group(2)} {m.group(3)} {m.group(4).strip()}")
    if not any(f" {suite} " in line for line in lines):
        raise Unavailable(f"the machine's apt sources have no deb entry for {suite}")
    return lines


# -- the base image -----------------------------------------------------------------------------------------


def base_key(suite: str) -> str:
    recipe = {"recipe": RECIPE, "suite": suite, "packages": PACKAGES, "dpkg": DPKG_EXCLUDES, "changes": IMPORT_CHANGES}
    return f"{suite}-{hashlib.sha256(json.dumps(recipe).encode()).hexdigest()[:12]}"


def _image_id(ref: str) -> str | None:
    proc = _run(["podman", "image", "inspect", "--format", "{{.Id}}", ref], timeout=120)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def _smoke(image: str) -> str:
    """What the Dockerfile needs of the base: ``python`` 3.11 with venv/ensurepip and ssl, and useradd."""
    code = "import sys, ssl, venv, ensurepip; print(sys.version.split()[0])"
    script = f'command -v useradd >/dev/null && python -c "{code}"'
    proc = _run(["podman", "run", "--rm", "--network", "none", *ulimit_args(), image, "sh", "-c", script], timeout=300)
    if proc.returncode != 0:
        tail = _tail(proc)
        if "OCI runtime" in tail or "runc" in tail or "cgroup" in tail:
            raise Unavailable(f"podman cannot run a container here: {tail}")
        raise RuntimeError(f"the base image lacks what Dockerfile.gateway needs:\n{tail}")
    version = proc.stdout.strip().splitlines()[-1]
    if not version.startswith(PYTHON_SERIES + "."):
        raise RuntimeError(f"the base image's python is {version}, not {PYTHON_SERIES}")
    return version


def _import(tarball: Path, suite: str) -> tuple[str, float]:
    started = time.monotonic()
    args = ["podman", "import"]
    for change in IMPORT_CHANGES:
        args += ["--change", change]
    args += ["--message", f"mmdebstrap {suite}: {' '.join(PACKAGES)}", str(tarball), BASE_IMAGE]
    proc = _run(args, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"podman import failed:\n{_tail(proc)}")
    for tag in BASE_TAGS[1:]:
        tagged = _run(["podman", "tag", BASE_IMAGE, tag], timeout=120)
        if tagged.returncode != 0:
            raise RuntimeError(f"podman tag {tag} failed:\n{_tail(tagged)}")
    image_id = _image_id(BASE_IMAGE)
    if image_id is None:
        raise RuntimeError(f"podman import left no {BASE_IMAGE}")
    return image_id, round(time.monotonic() - started, 1)


def _mmdebstrap(
    suite: str,
    target: Path,
    packages: tuple[str, ...] = PACKAGES,
    sources: list[str] | None = None,
    hooks: tuple[str, ...] = (),
) -> float:
    if shutil.which("mmdebstrap") is None:
        raise Unavailable("mmdebstrap is not installed (scripts/ensure-debian-packages.sh installs it as root)")
    started = time.monotonic()
    args = [
        "mmdebstrap",
        "--variant=minbase",
        "--format=tar",
        f"--include={','.join(packages)}",
        '--aptopt=Acquire::Languages "none"',
        *(f"--dpkgopt={opt}" for opt in DPKG_EXCLUDES),
        # the build machine's resolver and name do not belong in the image (podman provides its own)
        '--customize-hook=rm -f "$1/etc/resolv.conf" "$1/etc/hostname"',
        *(f"--customize-hook={hook}" for hook in hooks),
        suite,
        str(target),
        *(sources if sources is not None else apt_sources(suite)),
    ]
    proc = _run(args, timeout=3600)
    if proc.returncode != 0:
        target.unlink(missing_ok=True)
        tail = _tail(proc)
        if any(e in tail for e in NETWORK_ERRORS):
            raise Unavailable(f"the machine's Debian mirror cannot be reached:\n{tail}")
        raise RuntimeError(f"mmdebstrap failed:\n{tail}")
    return round(time.monotonic() - started, 1)


def ensure_base(build: bool = True) -> dict[str, Any] | None:
    """The base image's stamp (built, imported and tagged if needed, unless ``build`` is false), with this
    call's ``kind`` (cold: mmdebstrap and import; reimport: the cached tarball into podman; warm: nothing to
    do) and ``seconds``."""
    started = time.monotonic()
    reason = podman_unavailable()
    if reason:
        raise Unavailable(reason)
    suite = debian_suite()
    root = cache_root()
    key = base_key(suite)
    tarball, stamp_path = root / f"base-{key}.tar", root / f"base-{key}.json"
    with _locked(root / ".lock"):
        try:
            stamp: dict[str, Any] = json.loads(stamp_path.read_text())
        except (OSError, ValueError):
            stamp = {}
        built = bool(stamp) and tarball.exists()
        if built and stamp.get("image_id") == _image_id(BASE_IMAGE) and all(_image_id(t) for t in BASE_TAGS):
            stamp["warm_seconds"] = round(time.monotonic() - started, 1)
            stamp_path.write_text(json.dumps(stamp, indent=2))
            return {**stamp, "kind": "warm", "seconds": stamp["warm_seconds"]}
        if not build:
            return None
        steps: dict[str, float] = {}
        if not built:
            candidate = suite_python()
            if not candidate.startswith(PYTHON_SERIES + "."):
                raise Unavailable(f"{suite}'s python3 is {candidate}; the project needs Python {PYTHON_SERIES}")
            partial = tarball.with_suffix(".tar.partial")
            steps["mmdebstrap"] = _mmdebstrap(suite, partial)
            partial.rename(tarball)
            stamp = {"recipe": RECIPE, "key": key, "suite": suite, "packages": list(PACKAGES), "python3": candidate}
            stamp.update(tarball_mb=round(tarball.stat().st_size / 2**20, 1), mmdebstrap_seconds=steps["mmdebstrap"])
            stamp_path.write_text(json.dumps(stamp, indent=2))  # a failed import does not redo mmdebstrap
        image_id, steps["import"] = _import(tarball, suite)
        t = time.monotonic()
        stamp["python"] = _smoke(BASE_IMAGE)
        steps["smoke"] = round(time.monotonic() - t, 1)
        stamp.update(image_id=image_id, tags=list(BASE_TAGS), built_at=_now())
        total = round(time.monotonic() - started, 1)
        kind = "cold" if "mmdebstrap" in steps else "reimport"  # reimport: podman's storage had lost the image
        stamp.update({f"{kind}_steps": steps, f"{kind}_seconds": total})
        stamp_path.write_text(json.dumps(stamp, indent=2))
        return {**stamp, "kind": kind, "seconds": total}


# -- the gateway image --------------------------------------------------------------------------------------


def dockerfile_sources(dockerfile: Path) -> list[str]:
    """What the Dockerfile COPYs from the build context (``COPY --from`` excluded)."""
    sources: list[str] = []
    for line in dockerfile.read_text().splitlines():
        parts = line.split()
        if parts and parts[0].upper() in ("COPY", "ADD") and not any(p.startswith("--from") for p in parts):
            sources += [p for p in parts[1:-1] if not p.startswith("--")]
    return sources


def _context(into: Path) -> None:
    """A build context with only what the Dockerfile COPYs, the Dockerfile and ``.dockerignore``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in [*dockerfile_sources(REPO / DOCKERFILE), DOCKERFILE, ".dockerignore"]:
        src = REPO / name
        if not src.exists():
            if name == ".dockerignore":
                continue
            raise RuntimeError(f"{DOCKERFILE} copies {name}, which is not in the repository")
        if src.is_dir():
            shutil.copytree(src, into / name, ignore=ignore)
        else:
            shutil.copy2(src, into / name)


def build_gateway(tag: str = GATEWAY_IMAGE) -> dict[str, Any]:
    """``podman build`` of the unchanged Dockerfile.gateway on the local base; returns how it went."""
    root = cache_root()
    with _locked(root / ".lock"):
        if _image_id(BASE_IMAGE) is None:
            raise RuntimeError(f"no {BASE_IMAGE}: run ensure_base() first")
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="gateway-context-", dir=root) as ctx:
            _context(Path(ctx))
            args = ["podman", "build", "--pull=never", "--network", "host", "-f", DOCKERFILE, "-t", tag]
            if CA_BUNDLE.exists():  # pip trusts what the machine trusts, during the RUN steps only
                args += ["--volume", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"]
            proc = _run([*args, ctx], timeout=3600, cwd=ctx)
        seconds = round(time.monotonic() - started, 1)
        (root / "gateway-build.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            tail = _tail(proc)
            if any(e in tail for e in NETWORK_ERRORS):
                raise Unavailable(f"pip in the build cannot reach the package index:\n{tail}")
            raise RuntimeError(f"podman build of {DOCKERFILE} failed (log: {root / 'gateway-build.log'}):\n{tail}")
        out = proc.stdout + proc.stderr
        step = r"^(?:\[\d+/\d+\] )?STEP \d+/\d+: "
        steps = len(re.findall(step, out, re.M))
        cached = out.count("--> Using cache")
        froms = len(re.findall(step + "FROM", out, re.M))
        pip = re.search(step + "RUN .*pip install.*\n(.*)", out, re.M)
        # warm: every step from the layer cache; partial: the pip layer cached, a later step ran (a source
        # change); cold: pip installed requirements.txt
        kind = "warm" if cached >= steps - froms else "partial" if pip and "Using cache" in pip.group(1) else "cold"
        report = {
            "image": tag,
            "image_id": _image_id(tag),
            "base_id": _image_id(BASE_IMAGE),
            "seconds": seconds,
            "steps": steps,
            "cached_steps": cached,
            "at": _now(),
            "runtime": podman_info().get("host", {}).get("ociRuntime", {}).get("name"),
        }
        path = root / "gateway.json"
        try:
            history: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError):
            history = {}
        history[kind] = report
        path.write_text(json.dumps(history, indent=2))
        return {**report, "kind": kind}


# -- the functions image ------------------------------------------------------------------------------------
#
# Production builds Dockerfile.functions FROM the Functions host's 4-python3.13 image (the .NET host, which
# cannot run here, and the Python worker under /azure-functions-host/workers/python/3.13). The stand-in:
# Debian 13 (trixie, python3 3.13) from the machine's own mirror, the worker library of
# tests/worker/requirements.txt installed where the real image keeps its worker, and the test's proxy worker
# (tests/worker/proxy_worker.py) beside it. Dockerfile.functions takes the base as a build argument
# (FUNCTIONS_BASE; its default is the production image), so the file CD builds is the file built here.

FUNCTIONS_SUITE = "trixie"
FUNCTIONS_PYTHON = "3.13"
FUNCTIONS_ROOTFS = "localhost/todo-cloud-build/trixie-python:3.13"
FUNCTIONS_BASE = "localhost/azure-functions/python:4-python3.13"
FUNCTIONS_IMAGE = "localhost/todo-cloud/functions:test"
FUNCTIONS_DOCKERFILE = "Dockerfile.functions"
FUNCTIONS_PACKAGES = ("python3", "python3-pip", "ca-certificates", "python-is-python3")
WORKER_DIR = "/azure-functions-host/workers/python/3.13/LINUX/X64"
WORKER_REQUIREMENTS = REPO / "tests" / "worker" / "requirements.txt"
PROXY_WORKER = REPO / "tests" / "worker" / "proxy_worker.py"
# the official image's Python is its own, not Debian's "externally managed" one: pip installs system-wide
FUNCTIONS_HOOKS = (
    'rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED',
    'mkdir -p "$1/home/site/wwwroot"',
)
FUNCTIONS_CONTAINERFILE = f"""FROM {FUNCTIONS_ROOTFS}
ENV AzureWebJobsScriptRoot=/home/site/wwwroot FUNCTIONS_WORKER_RUNTIME=python
COPY requirements.txt proxy_worker.py /worker-src/
RUN pip install --no-cache-dir --target {WORKER_DIR} -r /worker-src/requirements.txt \\
 && cp /worker-src/proxy_worker.py {WORKER_DIR}/ && rm -rf /worker-src
WORKDIR /home/site/wwwroot
"""


def functions_sources() -> list[str]:
    """The machine's deb entries of its own suite, re-pointed at trixie (same mirrors, same keyring)."""
    suite = debian_suite()
    out = []
    for line in apt_sources(suite):
        parts = line.split(" ")
        out.append(" ".join(p.replace(suite, FUNCTIONS_SUITE, 1) if p.startswith(suite) else p for p in parts))
    return out


def _build(containerfile: str, context: Path, tag: str, log: Path, build_args: dict[str, str] | None = None) -> float:
    started = time.monotonic()
    args = ["podman", "build", "--pull=never", "--network", "host", "-f", containerfile, "-t", tag]
    for k, v in (build_args or {}).items():
        args += ["--build-arg", f"{k}={v}"]
    if CA_BUNDLE.exists():  # pip trusts what the machine trusts, during the RUN steps only
        args += ["--volume", f"{CA_BUNDLE}:{CA_BUNDLE}:ro"]
    proc = _run([*args, str(context)], timeout=3600, cwd=context)
    log.write_text(proc.stdout + proc.stderr)
    if proc.returncode != 0:
        tail = _tail(proc)
        if any(e in tail for e in NETWORK_ERRORS):
            raise Unavailable(f"the build cannot reach the package index:\n{tail}")
        raise RuntimeError(f"podman build of {tag} failed (log: {log}):\n{tail}")
    return round(time.monotonic() - started, 1)


def ensure_functions_base(build: bool = True) -> dict[str, Any] | None:
    """The functions base stand-in (trixie rootfs, then the worker on top), built if needed."""
    started = time.monotonic()
    reason = podman_unavailable()
    if reason:
        raise Unavailable(reason)
    root = cache_root()
    recipe = {
        "recipe": RECIPE,
        "packages": FUNCTIONS_PACKAGES,
        "hooks": FUNCTIONS_HOOKS,
        "containerfile": FUNCTIONS_CONTAINERFILE,
        "worker": WORKER_REQUIREMENTS.read_text(),
        "proxy": PROXY_WORKER.read_text(),
    }
    key = f"{FUNCTIONS_SUITE}-{hashlib.sha256(json.dumps(recipe).encode()).hexdigest()[:12]}"
    tarball, stamp_path = root / f"functions-rootfs-{FUNCTIONS_SUITE}.tar", root / f"functions-base-{key}.json"
    with _locked(root / ".lock"):
        try:
            stamp: dict[str, Any] = json.loads(stamp_path.read_text())
        except (OSError, ValueError):
            stamp = {}
        if stamp and stamp.get("image_id") == _image_id(FUNCTIONS_BASE):
            return {**stamp, "kind": "warm", "seconds": round(time.monotonic() - started, 1)}
        if not build:
            return None
        steps: dict[str, float] = {}
        if not tarball.exists():
            partial = tarball.with_suffix(".tar.partial")
            steps["mmdebstrap"] = _mmdebstrap(
                FUNCTIONS_SUITE, partial, FUNCTIONS_PACKAGES, functions_sources(), FUNCTIONS_HOOKS
            )
            partial.rename(tarball)
        if _image_id(FUNCTIONS_ROOTFS) is None:
            t = time.monotonic()
            args = ["podman", "import", *(x for c in IMPORT_CHANGES for x in ("--change", c)), str(tarball)]
            proc = _run([*args, FUNCTIONS_ROOTFS], timeout=900)
            if proc.returncode != 0:
                raise RuntimeError(f"podman import failed:\n{_tail(proc)}")
            steps["import"] = round(time.monotonic() - t, 1)
        with tempfile.TemporaryDirectory(prefix="functions-base-", dir=root) as ctx:
            shutil.copy2(WORKER_REQUIREMENTS, Path(ctx) / "requirements.txt")
            shutil.copy2(PROXY_WORKER, Path(ctx) / "proxy_worker.py")
            (Path(ctx) / "Containerfile").write_text(FUNCTIONS_CONTAINERFILE)
            steps["worker"] = _build("Containerfile", Path(ctx), FUNCTIONS_BASE, root / "functions-base-build.log")
        version = _run(["podman", "run", "--rm", "--network", "none", *ulimit_args(), FUNCTIONS_BASE, "python", "-c",
                        "import sys; print(sys.version.split()[0])"], timeout=300)  # fmt: skip
        python = version.stdout.strip()
        if version.returncode != 0 or not python.startswith(FUNCTIONS_PYTHON + "."):
            raise RuntimeError(f"the functions base's python is {python or _tail(version)}, not {FUNCTIONS_PYTHON}")
        total = round(time.monotonic() - started, 1)
        stamp = {"key": key, "image_id": _image_id(FUNCTIONS_BASE), "python": python, "built_at": _now()}
        stamp.update(steps=steps, cold_seconds=total)
        stamp_path.write_text(json.dumps(stamp, indent=2))
        return {**stamp, "kind": "cold", "seconds": total}


def build_functions(tag: str = FUNCTIONS_IMAGE) -> dict[str, Any]:
    """``podman build`` of Dockerfile.functions with ``FUNCTIONS_BASE`` set to the stand-in."""
    root = cache_root()
    with _locked(root / ".lock"):
        if _image_id(FUNCTIONS_BASE) is None:
            raise RuntimeError(f"no {FUNCTIONS_BASE}: run ensure_functions_base() first")
        with tempfile.TemporaryDirectory(prefix="functions-context-", dir=root) as ctx:
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            for name in [*dockerfile_sources(REPO / FUNCTIONS_DOCKERFILE), FUNCTIONS_DOCKERFILE]:
                src = REPO / name
                if src.is_dir():
                    shutil.copytree(src, Path(ctx) / name, ignore=ignore)
                else:
                    shutil.copy2(src, Path(ctx) / name)
            seconds = _build(
                FUNCTIONS_DOCKERFILE, Path(ctx), tag, root / "functions-build.log", {"FUNCTIONS_BASE": FUNCTIONS_BASE}
            )
        return {"image": tag, "image_id": _image_id(tag), "seconds": seconds, "at": _now()}


# -- the UI image -------------------------------------------------------------------------------------------
#
# ui/Dockerfile builds FROM node:20-alpine (twice: the build stage and the server). The stand-in, tagged
# node:20-alpine so the Dockerfile builds unchanged: Debian 13's nodejs (20.19, what Next.js 16 needs) with
# npm, ca-certificates and wget (the HEALTHCHECK's), from the machine's mirrors re-pointed at trixie.

UI_BASE = "localhost/node:20-alpine"
UI_BASE_TAGS = (UI_BASE, "node:20-alpine")
UI_IMAGE = "localhost/todo-cloud/ui:test"
UI_PACKAGES = ("nodejs", "npm", "ca-certificates", "wget")
UI_IMPORT_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    # node trusts the machine's CA bundle (mounted during the build's RUN steps), as pip does
    f"ENV NODE_EXTRA_CA_CERTS={CA_BUNDLE}",
    'CMD ["node"]',
)


def ensure_ui_base(build: bool = True) -> dict[str, Any] | None:
    """The node:20-alpine stand-in, built and tagged if needed."""
    started = time.monotonic()
    reason = podman_unavailable()
    if reason:
        raise Unavailable(reason)
    root = cache_root()
    recipe = {"recipe": RECIPE, "packages": UI_PACKAGES, "changes": UI_IMPORT_CHANGES}
    key = f"{FUNCTIONS_SUITE}-{hashlib.sha256(json.dumps(recipe).encode()).hexdigest()[:12]}"
    tarball, stamp_path = root / f"ui-base-{key}.tar", root / f"ui-base-{key}.json"
    with _locked(root / ".lock"):
        try:
            stamp: dict[str, Any] = json.loads(stamp_path.read_text())
        except (OSError, ValueError):
            stamp = {}
        if stamp and stamp.get("image_id") == _image_id(UI_BASE) and all(_image_id(t) for t in UI_BASE_TAGS):
            return {**stamp, "kind": "warm", "seconds": round(time.monotonic() - started, 1)}
        if not build:
            return None
        steps: dict[str, float] = {}
        if not tarball.exists():
            partial = tarball.with_suffix(".tar.partial")
            steps["mmdebstrap"] = _mmdebstrap(FUNCTIONS_SUITE, partial, UI_PACKAGES, functions_sources())
            partial.rename(tarball)
        t = time.monotonic()
        args = ["podman", "import", *(x for c in UI_IMPORT_CHANGES for x in ("--change", c)), str(tarball), UI_BASE]
        proc = _run(args, timeout=900)
        if proc.returncode != 0:
            raise RuntimeError(f"podman import failed:\n{_tail(proc)}")
        for tag in UI_BASE_TAGS[1:]:
            _run(["podman", "tag", UI_BASE, tag], timeout=120)
        steps["import"] = round(time.monotonic() - t, 1)
        version = _run(
            ["podman", "run", "--rm", "--network", "none", *ulimit_args(), UI_BASE, "node", "-v"], timeout=300
        )
        node = version.stdout.strip().lstrip("v")
        major, minor = (int(x) for x in [*node.split("."), "0", "0"][:2]) if node[:1].isdigit() else (0, 0)
        if version.returncode != 0 or (major, minor) < (20, 19):
            raise RuntimeError(f"the UI base's node is {node or _tail(version)}; Next.js 16 needs >= 20.19")
        total = round(time.monotonic() - started, 1)
        stamp = {"key": key, "image_id": _image_id(UI_BASE), "node": node, "built_at": _now()}
        stamp.update(steps=steps, cold_seconds=total)
        stamp_path.write_text(json.dumps(stamp, indent=2))
        return {**stamp, "kind": "cold", "seconds": total}


def build_ui(tag: str = UI_IMAGE) -> dict[str, Any]:
    """``podman build`` of the unchanged ui/Dockerfile (context ui/, as CD builds it) on the stand-in."""
    root = cache_root()
    ui = REPO / "ui"
    with _locked(root / ".lock"):
        if _image_id(UI_BASE) is None:
            raise RuntimeError(f"no {UI_BASE}: run ensure_ui_base() first")
        with tempfile.TemporaryDirectory(prefix="ui-context-", dir=root) as ctx:
            for name in [*dockerfile_sources(ui / "Dockerfile"), "Dockerfile", ".dockerignore"]:
                src = ui / name
                if src.is_dir():
                    shutil.copytree(src, Path(ctx) / name)
                elif src.exists():
                    shutil.copy2(src, Path(ctx) / name)
            seconds = _build("Dockerfile", Path(ctx), tag, root / "ui-build.log")
        return {"image": tag, "image_id": _image_id(tag), "seconds": seconds, "at": _now()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="build nothing; exit 0 when ready, 2 when not built")
    ap.add_argument("--base-only", action="store_true", help="the base image only")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    report: dict[str, Any] = {}
    try:
        base = ensure_base(build=not args.check)
        if base is None:
            print("images: the base image is not built yet")
            return 2
        keys = ("image_id", "python", "kind", "seconds", "cold_seconds", "cold_steps", "warm_seconds")
        report["base"] = {k: base.get(k) for k in keys}
        if not args.base_only:
            if args.check:
                if _image_id(GATEWAY_IMAGE) is None:
                    print(f"images: {GATEWAY_IMAGE} is not built yet")
                    return 2
                report["gateway"] = {"image": GATEWAY_IMAGE, "image_id": _image_id(GATEWAY_IMAGE)}
            else:
                report["gateway"] = build_gateway()
                report["functions_base"] = ensure_functions_base()
                report["functions"] = build_functions()
                report["ui_base"] = ensure_ui_base()
                report["ui"] = build_ui()
    except Unavailable as e:
        print(f"images: unavailable here: {e}", file=sys.stderr)
        return 3
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        print(f"images: build failed: {e}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report))
    else:
        b = report["base"]
        print(f"images: {BASE_IMAGE} python {b['python']} ({b['kind']}, {b['seconds']} s; cold: {b['cold_seconds']} s)")
        if "gateway" in report:
            g = report["gateway"]
            print(f"images: {g['image']} ({g.get('kind', 'present')}, {g.get('seconds', 0)} s)")
        if "functions" in report:
            fb, f = report["functions_base"] or {}, report["functions"]
            print(f"images: {FUNCTIONS_BASE} python {fb.get('python')} ({fb.get('kind')}, {fb.get('seconds')} s)")
            print(f"images: {f['image']} ({f['seconds']} s)")
        if "ui" in report:
            ub, u = report["ui_base"] or {}, report["ui"]
            print(f"images: {UI_BASE} node {ub.get('node')} ({ub.get('kind')}, {ub.get('seconds')} s)")
            print(f"images: {u['image']} ({u['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
