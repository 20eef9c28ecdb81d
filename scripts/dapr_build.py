#!/usr/bin/env python3
"""Build ``daprd`` and the Dapr ``scheduler`` from the ``github.com/dapr/dapr`` Go module, once per machine.

Dapr's go.mod carries ``replace`` directives, so ``go install github.com/dapr/dapr/cmd/daprd@v1.16.0``
refuses it. This script writes a small wrapper module that requires dapr at the pinned release and
repeats dapr's own replace directives (copied from that release's go.mod, not retyped), then builds
both commands the way Dapr's release Makefile does: ``-tags stablecomponents`` (a daprd built
without a components tag has no components and panics at start), ``CGO_ENABLED=0``, and
``-ldflags "-s -w -X .../pkg/buildinfo.version=<version>"`` (without it ``daprd --version`` says
"edge").

Everything lives outside the repository: ``${TODO_CLOUD_CACHE:-~/.cache/todo-cloud}/dapr-build/<version>/``
holds the wrapper module and ``bin/{daprd,scheduler}`` plus ``bin/build.json`` (the recipe the
binaries were built with, the build's timings and sizes). A run whose recipe matches the stamp does
nothing; Go's own module and build caches make a rebuild after a recipe change cheap.

CLI::

    python scripts/dapr_build.py            # build if needed; print paths, cold build times, sizes
    python scripts/dapr_build.py --check    # build nothing: exit 0 when the binaries are ready
    python scripts/dapr_build.py --json     # the same report as JSON (for scripts)

Exit codes: 0 ready; 1 the build failed; 2 (``--check``) not built yet but buildable here;
3 the Go toolchain or the Go module proxy is unavailable (tests skip on this, with the reason).

Library (``tests/fix_dapr.py``)::

    binaries = ensure_built()           # DaprBinaries(daprd=Path, scheduler=Path, version=..., stamp={...})

Environment: ``TODO_CLOUD_CACHE`` (cache root), ``GO`` (the go executable; default from ``PATH``),
``TODO_CLOUD_DAPR_VERSION`` (default :data:`DAPR_VERSION`).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

DAPR_VERSION = "1.16.0"
DAPR_MODULE = "github.com/dapr/dapr"
BUILD_TAGS = "stablecomponents"
COMMANDS = ("daprd", "scheduler")
# Bump when the build recipe below changes, so binaries built by an older recipe are rebuilt.
RECIPE = "1"
WRAPPER_MODULE = "todocloud/daprbuild"
STAMP = "build.json"

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_NOT_BUILT = 2
EXIT_UNAVAILABLE = 3

# what `go` prints when it cannot reach the module proxy (or a VCS host behind "direct")
_NETWORK_ERRORS = re.compile(
    r"dial tcp|no such host|connection refused|i/o timeout|TLS handshake|proxyconnect|network is unreachable"
    r"|Temporary failure in name resolution|server misbehaving|GOPROXY=off|module lookup disabled"
    r"|403 Forbidden|407 Proxy|502 Bad Gateway|503 Service Unavailable|504 Gateway Timeout",
    re.IGNORECASE,
)


class BuildError(RuntimeError):
    """The build ran and failed (a compiler or module error, not a missing toolchain)."""


class ToolchainUnavailable(RuntimeError):
    """No Go toolchain (or one too old), or the Go module proxy cannot be reached: nothing can be built here."""


@dataclass(frozen=True)
class DaprBinaries:
    daprd: Path
    scheduler: Path
    version: str
    stamp: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- paths and recipe


def dapr_version() -> str:
    return os.environ.get("TODO_CLOUD_DAPR_VERSION", DAPR_VERSION).removeprefix("v")


def cache_root() -> Path:
    """``${TODO_CLOUD_CACHE:-~/.cache/todo-cloud}`` (shared with scripts/kafka_broker.py)."""
    env = os.environ.get("TODO_CLOUD_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "todo-cloud"


def build_dir(version: str | None = None) -> Path:
    return cache_root() / "dapr-build" / (version or dapr_version())


def bin_dir(version: str | None = None) -> Path:
    return build_dir(version) / "bin"


def ldflags(version: str) -> str:
    pkg = f"{DAPR_MODULE}/pkg/buildinfo"
    return f"-s -w -X {pkg}.version={version} -X {pkg}.gitversion=v{version}"


def recipe(version: str) -> dict[str, str]:
    """What the binaries depend on besides the Go toolchain; a stamp with another recipe is stale."""
    return {
        "recipe": RECIPE,
        "version": version,
        "tags": BUILD_TAGS,
        "ldflags": ldflags(version),
        "cgo": "0",
    }


def read_stamp(version: str | None = None) -> dict[str, Any] | None:
    try:
        data = json.loads((bin_dir(version) / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def cached(version: str | None = None) -> DaprBinaries | None:
    """The binaries when they exist and were built with the current recipe, else None (no go needed)."""
    version = version or dapr_version()
    stamp = read_stamp(version)
    if stamp is None or {k: stamp.get(k) for k in recipe(version)} != recipe(version):
        return None
    paths = {cmd: bin_dir(version) / cmd for cmd in COMMANDS}
    if not all(p.is_file() and os.access(p, os.X_OK) for p in paths.values()):
        return None
    return DaprBinaries(paths["daprd"], paths["scheduler"], version, stamp)


# --------------------------------------------------------------------------- go


def go_executable() -> str | None:
    env = os.environ.get("GO")
    if env:
        return shutil.which(env) or (env if Path(env).is_file() else None)
    return shutil.which("go") or next(
        (str(p) for p in (Path("/usr/local/go/bin/go"), Path.home() / "go" / "bin" / "go") if p.is_file()), None
    )


def _go_env(go: str) -> dict[str, str]:
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    flags = [f for f in env.get("GOFLAGS", "").split() if not f.startswith(("-mod=", "-buildvcs"))]
    env["GOFLAGS"] = " ".join([*flags, "-buildvcs=false"])
    return env


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _run(
    go: str, args: list[str], cwd: Path, log_file: Path, *, timeout: float, what: str
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [go, *args],
            cwd=cwd,
            env=_go_env(go),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BuildError(f"{what}: no result after {timeout:.0f} s") from exc
    elapsed = time.monotonic() - started
    with log_file.open("a") as fh:
        fh.write(f"$ go {' '.join(args)}  # {elapsed:.1f} s, exit {proc.returncode}\n{proc.stdout}{proc.stderr}\n")
    return elapsed, proc


def _fail(what: str, proc: subprocess.CompletedProcess[str]) -> RuntimeError:
    out = proc.stdout + proc.stderr
    cls = ToolchainUnavailable if _NETWORK_ERRORS.search(out) else BuildError
    return cls(f"{what} failed (exit {proc.returncode}):\n{_tail(out)}")


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)[:3])


def check_toolchain(go: str | None) -> str:
    """The toolchain's version (``go1.24.6``); ToolchainUnavailable when there is none."""
    if go is None:
        raise ToolchainUnavailable("no Go toolchain: 'go' is not on PATH (set GO to its path)")
    try:
        proc = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolchainUnavailable(f"the Go toolchain at {go} does not run: {exc}") from exc
    if proc.returncode != 0 or not proc.stdout.strip():
        raise ToolchainUnavailable(f"the Go toolchain at {go} does not run: {_tail(proc.stderr, 5)}")
    return proc.stdout.strip()


_REPLACE_BLOCK = re.compile(r"^replace[ \t]*\(\n.*?^\)[ \t]*$|^replace[ \t]+[^(\n][^\n]*$", re.MULTILINE | re.DOTALL)
_GO_DIRECTIVE = re.compile(r"^go\s+(\S+)\s*$", re.MULTILINE)


def replace_directives(dapr_go_mod: str) -> list[str]:
    """dapr's ``replace`` directives, verbatim (comments inside blocks kept), in order.
    Local-path replacements (``=> ../x``, development only, commented out upstream) are refused."""
    blocks = [m.group(0).rstrip() for m in _REPLACE_BLOCK.finditer(dapr_go_mod)]
    for block in blocks:
        for line in block.splitlines():
            target = line.split("=>", 1)[1].strip() if "=>" in line and not line.lstrip().startswith("//") else ""
            if target.startswith(("./", "../", "/")):
                raise BuildError(f"dapr's go.mod replaces a module with a local path: {line.strip()}")
    return blocks


def wrapper_go_mod(version: str, dapr_go_mod: str) -> str:
    m = _GO_DIRECTIVE.search(dapr_go_mod)
    go_line = f"go {m.group(1)}\n\n" if m else ""
    return (
        f"// Generated by scripts/dapr_build.py: builds daprd and the scheduler of {DAPR_MODULE} v{version}.\n"
        f"module {WRAPPER_MODULE}\n\n{go_line}require {DAPR_MODULE} v{version}\n\n"
        "// dapr's own replace directives (a dependency's replaces do not apply to the main module)\n"
        + "\n\n".join(replace_directives(dapr_go_mod))
        + "\n"
    )


TOOLS_GO = """//go:build tools

// Package daprbuild pins the commands this module builds.
package daprbuild

import (
{imports})
"""


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_built(
    version: str | None = None,
    *,
    log: Callable[[str], None] = lambda _msg: None,
    timeout: float = 3600.0,
) -> DaprBinaries:
    """The cached binaries, building them first when missing or built by another recipe.

    Raises ToolchainUnavailable (no go, or the module proxy unreachable) or BuildError.
    Safe to call from several processes at once: one builds, the others wait and reuse."""
    version = version or dapr_version()
    ready = cached(version)
    if ready is not None:
        return ready
    work = build_dir(version)
    with _lock(work / ".lock"):
        ready = cached(version)  # another process built them while we waited
        if ready is not None:
            return ready
        return _build(version, work, log=log, timeout=timeout)


def _build(version: str, work: Path, *, log: Callable[[str], None], timeout: float) -> DaprBinaries:
    go = go_executable()
    go_version = check_toolchain(go)
    assert go is not None
    log_file = work / "build.log"
    log_file.write_text("")
    log(f"building daprd and scheduler {version} with {go_version} in {work} (log: {log_file})")
    total = time.monotonic()

    # whether Go's module cache already holds dapr (a cold machine downloads ~5 GB of modules first)
    modcache = subprocess.run([go, "env", "GOMODCACHE"], capture_output=True, text=True, timeout=60, check=False)
    warm = bool(modcache.stdout.strip()) and (Path(modcache.stdout.strip()) / f"{DAPR_MODULE}@v{version}").is_dir()

    # the release's go.mod, through the module proxy (or the module cache when offline)
    secs, proc = _run(
        go, ["mod", "download", "-json", f"{DAPR_MODULE}@v{version}"], work, log_file, timeout=600, what="download"
    )
    if proc.returncode != 0:
        out = proc.stdout + proc.stderr
        raise ToolchainUnavailable(
            f"cannot fetch {DAPR_MODULE}@v{version} from the Go module proxy (exit {proc.returncode}):\n{_tail(out)}"
        )
    info = json.loads(proc.stdout)
    dapr_go_mod = Path(info["GoMod"]).read_text()
    need = _GO_DIRECTIVE.search(dapr_go_mod)
    if need and _version_tuple(go_version) < _version_tuple(need.group(1)) and os.environ.get("GOTOOLCHAIN") == "local":
        raise ToolchainUnavailable(f"dapr {version} needs go >= {need.group(1)}; this toolchain is {go_version}")

    (work / "go.mod").write_text(wrapper_go_mod(version, dapr_go_mod))
    imports = "".join(f'\t_ "{DAPR_MODULE}/cmd/{cmd}"\n' for cmd in COMMANDS)
    (work / "tools.go").write_text(TOOLS_GO.format(imports=imports))
    timings: dict[str, float] = {"download": round(secs, 1)}

    secs, proc = _run(go, ["mod", "tidy"], work, log_file, timeout=timeout, what="go mod tidy")
    if proc.returncode != 0:
        raise _fail("go mod tidy", proc)
    timings["mod_tidy"] = round(secs, 1)
    log(f"  go mod tidy: {secs:.1f} s")

    out_dir = work / "bin"
    out_dir.mkdir(exist_ok=True)
    (out_dir / STAMP).unlink(missing_ok=True)
    sizes: dict[str, int] = {}
    for cmd in COMMANDS:
        tmp = out_dir / f".{cmd}.tmp"
        args = ["build", "-tags", BUILD_TAGS, "-ldflags", ldflags(version), "-o", str(tmp), f"{DAPR_MODULE}/cmd/{cmd}"]
        secs, proc = _run(go, args, work, log_file, timeout=timeout, what=f"go build {cmd}")
        if proc.returncode != 0:
            raise _fail(f"go build {cmd}", proc)
        tmp.replace(out_dir / cmd)
        timings[cmd] = round(secs, 1)
        sizes[cmd] = (out_dir / cmd).stat().st_size
        log(f"  go build {cmd}: {secs:.1f} s, {sizes[cmd] / 1e6:.0f} MB")

    stamp = {
        **recipe(version),
        "go": go_version,
        "module_cache": "warm" if warm else "cold",
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": timings,
        "total_seconds": round(time.monotonic() - total, 1),
        "sizes": sizes,
    }
    (out_dir / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
    ready = cached(version)
    if ready is None:  # pragma: no cover - the stamp was just written
        raise BuildError("binaries missing after the build")
    reported = binary_version(ready.daprd)
    if reported != version:
        raise BuildError(f"daprd --version says {reported!r}, expected {version!r}")
    return ready


def binary_version(daprd: Path) -> str:
    proc = subprocess.run([str(daprd), "--version"], capture_output=True, text=True, timeout=60, check=False)
    return (proc.stdout or proc.stderr).strip()


# --------------------------------------------------------------------------- CLI


def report(binaries: DaprBinaries, *, this_run: float, built_now: bool) -> dict[str, Any]:
    stamp = binaries.stamp
    return {
        "version": binaries.version,
        "daprd": str(binaries.daprd),
        "scheduler": str(binaries.scheduler),
        "built_at": stamp.get("built_at"),
        "go": stamp.get("go"),
        "module_cache": stamp.get("module_cache", "unknown"),
        "build_seconds": stamp.get("seconds"),
        "build_total_seconds": stamp.get("total_seconds"),
        "sizes": {cmd: (binaries.daprd.parent / cmd).stat().st_size for cmd in COMMANDS},
        "this_run_seconds": round(this_run, 2),
        "built_now": built_now,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/dapr_build.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="build nothing; exit 0 when the binaries are ready")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    ap.add_argument("--version", default=None, help=f"Dapr release (default {dapr_version()})")
    args = ap.parse_args(argv)
    version = (args.version or dapr_version()).removeprefix("v")
    started = time.monotonic()
    built_now = False
    if args.check:
        ready = cached(version)
        if ready is None:
            try:
                check_toolchain(go_executable())
            except ToolchainUnavailable as exc:
                print(f"dapr {version}: not built, and cannot be built here: {exc}", file=sys.stderr)
                return EXIT_UNAVAILABLE
            print(f"dapr {version}: not built yet (run scripts/dapr_build.py); expected in {bin_dir(version)}")
            return EXIT_NOT_BUILT
        reported = binary_version(ready.daprd)
        if reported != version:
            print(f"dapr {version}: {ready.daprd} reports version {reported!r}", file=sys.stderr)
            return EXIT_FAILED
    else:
        was_cached = cached(version) is not None
        try:
            ready = ensure_built(version, log=lambda msg: print(msg, file=sys.stderr, flush=True))
        except ToolchainUnavailable as exc:
            print(f"dapr {version}: cannot build here: {exc}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        except BuildError as exc:
            print(f"dapr {version}: build failed: {exc}", file=sys.stderr)
            return EXIT_FAILED
        built_now = not was_cached

    rep = report(ready, this_run=time.monotonic() - started, built_now=built_now)
    if args.json:
        print(json.dumps(rep, indent=2))
        return EXIT_OK
    secs = rep["build_seconds"] or {}
    steps = ", ".join(f"{k} {v:.0f} s" for k, v in secs.items())
    print(f"dapr {version} ({rep['go']}, tags {BUILD_TAGS}), built {rep['built_at']}")
    print(f"  build:      {rep['build_total_seconds']:.0f} s ({steps}; Go module cache {rep['module_cache']})")
    print(f"  this run:   {rep['this_run_seconds']:.2f} s ({'built now' if built_now else 'cached'})")
    for cmd in COMMANDS:
        print(f"  {cmd:<10} {rep['sizes'][cmd] / 1e6:6.1f} MB  {rep[cmd]}")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
