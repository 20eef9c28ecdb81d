#!/usr/bin/env python3
"""Build a real Kubernetes control plane (kube-apiserver, kube-controller-manager, kube-scheduler), etcd, kwok and
the KEDA operator and metrics API server from their Go modules, once per machine.

Each upstream module carries ``replace`` directives (Kubernetes points its ``k8s.io/*`` staging modules at
``./staging/src/...``, etcd its sibling modules at ``../api`` and so on, KEDA pins forks and older k8s.io
modules), so ``go install MODULE/cmd/x@VERSION`` refuses them. For each component this script writes a small
wrapper module that requires the upstream module at the pinned release and repeats the release's own replace
directives, read from that release's go.mod (``go mod download -json``), not retyped. A replacement by a local
path, which a wrapper cannot use, names a module of the same source tree: it becomes a replacement by that
module at the release's matching version (Kubernetes staging ``k8s.io/api v0.37.2`` for ``v1.37.2``; etcd's
``go.etcd.io/etcd/api/v3 v3.6.16`` for ``v3.6.16``), and the wrapper requires it at that version. Guards that
point at a directory that does not exist (etcd's ``=> ./FORBIDDEN_DEPENDENCY``) are left out.

Kubernetes is one multi-call binary ``kubernetes`` (the wrapper's own main package dispatches on the name it is
run by, or on its first argument, to ``NewAPIServerCommand`` and the others) with ``kube-apiserver``,
``kube-controller-manager`` and ``kube-scheduler`` symlinked to it: the three share almost all of their code,
so one link instead of three saves minutes and 200 MB. It is built the way Kubernetes' release build builds
its server binaries: ``CGO_ENABLED=0``, ``-trimpath``, ``-tags selinux,notest,grpcnotrace`` and ``-ldflags "-s
-w -X .../version.gitVersion=v1.37.2 -X ...gitMajor=1 -X ...gitMinor=37"`` (for both ``k8s.io/component-base``
and ``k8s.io/client-go``) so that ``--version`` and the API server's ``/version`` say 1.37.2. etcd, kwok and
KEDA are built with ``CGO_ENABLED=0 -trimpath -ldflags "-s -w ..."`` plus the version ldflags their own
release builds pass (KEDA's ``version.Version``; etcd and kwok carry their versions as constants).

Everything lives outside the repository: ``${TODO_CLOUD_CACHE:-~/.cache/todo-cloud}/k8s-build/<name>-<version>/``
holds each component's wrapper module, its ``build.log`` and ``bin/`` with the binaries and ``bin/build.json``
(the recipe they were built with, the build's timings and sizes). Each component is built by its own
``go build`` so one failing wastes none of the others; a run whose recipe matches a component's stamp does
nothing for it; Go's own module and build caches (their default places) make a rebuild after a recipe change
cheap.

CLI::

    python scripts/k8s_build.py            # build what is missing; print paths, cold build times, sizes
    python scripts/k8s_build.py --check    # build nothing: exit 0 when every binary is ready
    python scripts/k8s_build.py --json     # the same report as JSON (for scripts)

Exit codes: 0 ready; 1 a build failed (or a built binary reports another version); 2 (``--check``) not built
yet but buildable here; 3 the Go toolchain or the Go module proxy is unavailable (tests skip on this, with the
reason).

Library::

    binaries = ensure_built()   # K8sBinaries(kube_apiserver=Path, ..., etcd=Path, kwok=Path, keda_operator=Path,
                                #             keda_adapter=Path, versions={...}, stamps={...})

Environment: ``TODO_CLOUD_CACHE`` (cache root), ``GO`` (the go executable; default from ``PATH``).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import mmap
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

KUBERNETES_VERSION = "v1.37.2"
ETCD_VERSION = "v3.6.16"  # the newest v3.6.x the module proxy lists
KWOK_VERSION = "v0.8.0"
KEDA_VERSION = "v2.17.2"  # as scripts/minikube.sh installs and scripts/infra_tools.py takes the CRDs from
# Bump when the build recipe below changes, so binaries built by an older recipe are rebuilt.
RECIPE = "1"
STAMP = "build.json"
MULTICALL = "kubernetes"

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


def _kube_ldflags(version: str) -> str:
    major, minor = re.findall(r"\d+", version)[:2]
    flags = ["-s", "-w"]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=archive",
        ]
    return " ".join(flags)


@dataclass(frozen=True)
class Component:
    """One upstream module and the commands built from it (one ``go build`` each)."""

    name: str
    module: str
    version: str
    commands: tuple[tuple[str, str], ...]  # (binary name, package; "." is the wrapper's own main package)
    ldflags: str
    tags: str = ""
    sibling_version: str | None = None  # the version of the modules the upstream go.mod replaces by local paths
    links: tuple[str, ...] = ()  # names symlinked to the (single) binary: a multi-call binary's commands

    @property
    def dirname(self) -> str:
        return f"{self.name}-{self.version.removeprefix('v')}"

    @property
    def wrapper_module(self) -> str:
        return f"todocloud/k8sbuild/{self.name}"

    def binaries(self) -> tuple[str, ...]:
        return (*(cmd for cmd, _ in self.commands), *self.links)


KUBERNETES = Component(
    name="kubernetes",
    module="k8s.io/kubernetes",
    version=KUBERNETES_VERSION,
    commands=((MULTICALL, "."),),
    ldflags=_kube_ldflags(KUBERNETES_VERSION),
    tags="selinux,notest,grpcnotrace",
    # the staging modules are published as k8s.io/<name> v0.<minor>.<patch>
    sibling_version="v0." + KUBERNETES_VERSION.removeprefix("v").split(".", 1)[1],
    links=("kube-apiserver", "kube-controller-manager", "kube-scheduler"),
)
ETCD = Component(
    name="etcd",
    module="go.etcd.io/etcd/server/v3",
    version=ETCD_VERSION,
    commands=(("etcd", "go.etcd.io/etcd/server/v3"),),  # server/main.go: etcdmain.Main(os.Args)
    ldflags="-s -w",
    sibling_version=ETCD_VERSION,
)
KWOK = Component(
    name="kwok",
    module="sigs.k8s.io/kwok",
    version=KWOK_VERSION,
    commands=(("kwok", "sigs.k8s.io/kwok/cmd/kwok"),),
    ldflags="-s -w",
)
KEDA = Component(
    name="keda",
    module="github.com/kedacore/keda/v2",
    version=KEDA_VERSION,
    commands=(
        ("keda-operator", "github.com/kedacore/keda/v2/cmd/operator"),
        ("keda-adapter", "github.com/kedacore/keda/v2/cmd/adapter"),
    ),
    ldflags=f"-s -w -X github.com/kedacore/keda/v2/version.Version={KEDA_VERSION.removeprefix('v')}",
)
COMPONENTS = (ETCD, KWOK, KUBERNETES, KEDA)  # built in this order: the quick ones first
BY_NAME = {c.name: c for c in COMPONENTS}


@dataclass(frozen=True)
class K8sBinaries:
    kube_apiserver: Path
    kube_controller_manager: Path
    kube_scheduler: Path
    etcd: Path
    kwok: Path
    keda_operator: Path
    keda_adapter: Path
    versions: dict[str, str] = field(default_factory=dict)  # component name -> pinned version ("v1.37.2")
    stamps: dict[str, dict[str, Any]] = field(default_factory=dict)  # component name -> its build.json

    def paths(self) -> dict[str, Path]:
        return {
            "kube-apiserver": self.kube_apiserver,
            "kube-controller-manager": self.kube_controller_manager,
            "kube-scheduler": self.kube_scheduler,
            "etcd": self.etcd,
            "kwok": self.kwok,
            "keda-operator": self.keda_operator,
            "keda-adapter": self.keda_adapter,
        }


# --------------------------------------------------------------------------- paths and recipe


def cache_root() -> Path:
    """``${TODO_CLOUD_CACHE:-~/.cache/todo-cloud}`` (shared with scripts/dapr_build.py)."""
    env = os.environ.get("TODO_CLOUD_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "todo-cloud"


def build_root() -> Path:
    return cache_root() / "k8s-build"


def build_dir(comp: Component) -> Path:
    return build_root() / comp.dirname


def bin_dir(comp: Component) -> Path:
    return build_dir(comp) / "bin"


def recipe(comp: Component) -> dict[str, str]:
    """What the binaries depend on besides the Go toolchain; a stamp with another recipe is stale."""
    return {
        "recipe": RECIPE,
        "module": comp.module,
        "version": comp.version,
        "commands": " ".join(f"{cmd}={pkg}" for cmd, pkg in comp.commands),
        "tags": comp.tags,
        "ldflags": comp.ldflags,
        "cgo": "0",
        "trimpath": "1",
    }


def read_stamp(comp: Component) -> dict[str, Any] | None:
    try:
        data = json.loads((bin_dir(comp) / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def cached_component(comp: Component) -> dict[str, Path] | None:
    """The component's binaries when they exist and were built with the current recipe, else None."""
    stamp = read_stamp(comp)
    if stamp is None or {k: stamp.get(k) for k in recipe(comp)} != recipe(comp):
        return None
    paths = {name: bin_dir(comp) / name for name in comp.binaries()}
    if not all(p.is_file() and os.access(p, os.X_OK) for p in paths.values()):
        return None
    return paths


def cached() -> K8sBinaries | None:
    """All the binaries when every component is built with the current recipe, else None (no go needed)."""
    paths: dict[str, Path] = {}
    for comp in COMPONENTS:
        found = cached_component(comp)
        if found is None:
            return None
        paths.update(found)
    return K8sBinaries(
        kube_apiserver=paths["kube-apiserver"],
        kube_controller_manager=paths["kube-controller-manager"],
        kube_scheduler=paths["kube-scheduler"],
        etcd=paths["etcd"],
        kwok=paths["kwok"],
        keda_operator=paths["keda-operator"],
        keda_adapter=paths["keda-adapter"],
        versions={c.name: c.version for c in COMPONENTS},
        stamps={c.name: read_stamp(c) or {} for c in COMPONENTS},
    )


# --------------------------------------------------------------------------- go


def go_executable() -> str | None:
    env = os.environ.get("GO")
    if env:
        return shutil.which(env) or (env if Path(env).is_file() else None)
    return shutil.which("go") or next(
        (str(p) for p in (Path("/usr/local/go/bin/go"), Path.home() / "go" / "bin" / "go") if p.is_file()), None
    )


def _go_env() -> dict[str, str]:
    env = dict(os.environ)
    env["CGO_ENABLED"] = "0"
    flags = [f for f in env.get("GOFLAGS", "").split() if not f.startswith(("-mod=", "-buildvcs"))]
    env["GOFLAGS"] = " ".join([*flags, "-mod=mod", "-buildvcs=false"])
    return env


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _run(
    go: str, args: list[str], cwd: Path, log_file: Path, *, timeout: float, what: str
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [go, *args], cwd=cwd, env=_go_env(), capture_output=True, text=True, timeout=timeout, check=False
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
    """The toolchain's version (``go1.26.8``); ToolchainUnavailable when there is none."""
    if go is None:
        raise ToolchainUnavailable("no Go toolchain: 'go' is not on PATH (set GO to its path)")
    try:
        proc = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolchainUnavailable(f"the Go toolchain at {go} does not run: {exc}") from exc
    if proc.returncode != 0 or not proc.stdout.strip():
        raise ToolchainUnavailable(f"the Go toolchain at {go} does not run: {_tail(proc.stderr, 5)}")
    return proc.stdout.strip()


# --------------------------------------------------------------------------- the wrapper module

_REPLACE_BLOCK = re.compile(r"^replace[ \t]*\(\n.*?^\)[ \t]*$|^replace[ \t]+[^(\n][^\n]*$", re.MULTILINE | re.DOTALL)
_GO_DIRECTIVE = re.compile(r"^go\s+(\S+)\s*$", re.MULTILINE)
_GODEBUG = re.compile(r"^godebug[ \t]*\(\n.*?^\)[ \t]*$|^godebug[ \t]+[^(\n][^\n]*$", re.MULTILINE | re.DOTALL)
_REPLACE_SPEC = re.compile(r"^(?P<old>\S+)(?:\s+(?P<oldv>v\S+))?\s*=>\s*(?P<new>\S+)(?:\s+(?P<newv>v\S+))?\s*$")
_GUARD = "FORBIDDEN_DEPENDENCY"  # etcd: `replace go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY` (no such directory)


def _is_local(target: str) -> bool:
    return target.startswith(("./", "../", "/")) or target in (".", "..")


def _rewrite_spec(spec: str, comp: Component, siblings: list[str]) -> str | None:
    """One replacement (``old [v] => new [v]``, no ``replace`` keyword, no comment): unchanged when it names a
    module; by a local path: the sibling module at ``comp.sibling_version`` (appended to ``siblings``), or None
    for a guard; BuildError when the component has no sibling version."""
    m = _REPLACE_SPEC.match(spec.strip())
    if m is None or not _is_local(m.group("new")):
        return spec
    if Path(m.group("new")).name == _GUARD:
        return None
    if comp.sibling_version is None:
        raise BuildError(f"{comp.module}'s go.mod replaces a module with a local path: {spec.strip()}")
    old = m.group("old")
    siblings.append(old)
    return f"{old} => {old} {comp.sibling_version} // upstream: => {m.group('new')}"


def replace_directives(go_mod: str, comp: Component) -> tuple[list[str], list[str]]:
    """The upstream go.mod's ``replace`` directives in order (comments kept, local paths rewritten, guards
    commented out) and the modules that were replaced by local paths (the wrapper requires those)."""
    blocks: list[str] = []
    siblings: list[str] = []
    for match in _REPLACE_BLOCK.finditer(go_mod):
        text = match.group(0).rstrip()
        if "(" not in text.split("\n", 1)[0]:  # replace old => new
            spec = text.removeprefix("replace").strip()
            new = _rewrite_spec(spec, comp, siblings)
            blocks.append(f"replace {new}" if new is not None else f"// left out (a guard): {text}")
            continue
        lines = []
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("//") or "=>" not in line:
                lines.append(line)
                continue
            spec = line.partition("//")[0]
            new = _rewrite_spec(spec, comp, siblings)
            if new is None:
                lines.append(f"\t// left out (a guard): {stripped}")
            else:
                lines.append(line if new == spec else "\t" + new)
        blocks.append("\n".join(lines))
    return blocks, siblings


def wrapper_go_mod(comp: Component, upstream_go_mod: str) -> str:
    m = _GO_DIRECTIVE.search(upstream_go_mod)
    go_line = f"go {m.group(1)}\n\n" if m else ""
    godebug = "".join(b.group(0).rstrip() + "\n\n" for b in _GODEBUG.finditer(upstream_go_mod))
    blocks, siblings = replace_directives(upstream_go_mod, comp)
    required = re.findall(r"^\s*(?:require\s+)?(\S+)\s+v\S+", upstream_go_mod, re.MULTILINE)
    require = [f"\t{comp.module} {comp.version}"]
    require += [f"\t{mod} {comp.sibling_version}" for mod in siblings if mod in required]
    return (
        f"// Generated by scripts/k8s_build.py: builds {', '.join(comp.binaries())} of {comp.module} {comp.version}.\n"
        f"module {comp.wrapper_module}\n\n{go_line}{godebug}require (\n" + "\n".join(require) + "\n)\n\n"
        f"// {comp.module}'s own replace directives (a dependency's replaces do not apply to the main module)\n"
        + ("\n\n".join(blocks) or "// (none)")
        + "\n"
    )


TOOLS_GO = """//go:build tools

// Package {package} pins the commands this module builds.
package {package}

import (
{imports})
"""

# The multi-call Kubernetes binary: the imports are those of cmd/kube-apiserver, cmd/kube-controller-manager and
# cmd/kube-scheduler's own main packages.
KUBERNETES_MAIN_GO = """// Generated by scripts/k8s_build.py: kube-apiserver, kube-controller-manager and
// kube-scheduler of k8s.io/kubernetes in one binary. Run it through a symlink named after
// the command, or name the command as the first argument.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	_ "time/tzdata" // for timeZone support in CronJob

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // for JSON log format registration
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // load all the prometheus client-go plugins
	_ "k8s.io/component-base/metrics/prometheus/version"  // for version metric registration
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	controllermanager "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
)

var commands = map[string]func() *cobra.Command{
	"kube-apiserver":          func() *cobra.Command { return apiserver.NewAPIServerCommand() },
	"kube-controller-manager": func() *cobra.Command { return controllermanager.NewControllerManagerCommand() },
	"kube-scheduler":          func() *cobra.Command { return scheduler.NewSchedulerCommand() },
}

func main() {
	name, args := filepath.Base(os.Args[0]), os.Args[1:]
	newCommand, ok := commands[name]
	if !ok && len(args) > 0 {
		newCommand, ok = commands[args[0]]
		args = args[1:]
	}
	if !ok {
		fmt.Fprintf(os.Stderr, "usage: %s kube-apiserver|kube-controller-manager|kube-scheduler [flags]\\n", name)
		os.Exit(2)
	}
	command := newCommand()
	command.SetArgs(args)
	os.Exit(cli.Run(command))
}
"""


def write_wrapper(comp: Component, work: Path, upstream_go_mod: str) -> None:
    (work / "go.mod").write_text(wrapper_go_mod(comp, upstream_go_mod))
    (work / "go.sum").unlink(missing_ok=True)
    if comp is KUBERNETES:
        (work / "main.go").write_text(KUBERNETES_MAIN_GO)
        return
    imports = "".join(f'\t_ "{pkg}"\n' for _, pkg in comp.commands)
    (work / "tools.go").write_text(TOOLS_GO.format(package=comp.name + "build", imports=imports))


# --------------------------------------------------------------------------- building


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
    *,
    log: Callable[[str], None] = lambda _msg: None,
    timeout: float = 7200.0,
) -> K8sBinaries:
    """The cached binaries, building first every component that is missing or built by another recipe.

    Every component is attempted even when one fails. Raises ToolchainUnavailable (no go, or the module proxy
    unreachable) or BuildError (naming every component that failed). Safe to call from several processes at
    once: one builds, the others wait and reuse."""
    ready = cached()
    if ready is not None:
        return ready
    with _lock(build_root() / ".lock"):
        ready = cached()  # another process built them while we waited
        if ready is not None:
            return ready
        go = go_executable()
        go_version = check_toolchain(go)
        assert go is not None
        failures: dict[str, RuntimeError] = {}
        for comp in COMPONENTS:
            if cached_component(comp) is not None:
                continue
            try:
                build_component(comp, go, go_version, log=log, timeout=timeout)
            except (BuildError, ToolchainUnavailable) as exc:
                log(f"{comp.name} {comp.version}: FAILED: {_tail(str(exc), 8)}")
                failures[comp.name] = exc
        if failures:
            text = "\n\n".join(f"{name}: {exc}" for name, exc in failures.items())
            if all(isinstance(exc, ToolchainUnavailable) for exc in failures.values()):
                raise ToolchainUnavailable(text)
            raise BuildError(text)
    ready = cached()
    if ready is None:  # pragma: no cover - every component was just built
        raise BuildError("binaries missing after the build")
    return ready


def _modcache_has(go: str, module: str, version: str) -> bool:
    proc = subprocess.run([go, "env", "GOMODCACHE"], capture_output=True, text=True, timeout=60, check=False)
    root = proc.stdout.strip()
    escaped = re.sub(r"[A-Z]", lambda m: "!" + m.group(0).lower(), module)  # the module cache's case-encoding
    return bool(root) and (Path(root) / f"{escaped}@{version}").is_dir()


def build_component(
    comp: Component, go: str, go_version: str, *, log: Callable[[str], None], timeout: float
) -> dict[str, Path]:
    work = build_dir(comp)
    work.mkdir(parents=True, exist_ok=True)
    log_file = work / "build.log"
    log_file.write_text("")
    log(f"building {comp.name} {comp.version} ({', '.join(comp.binaries())}) with {go_version} in {work}")
    total = time.monotonic()
    warm = _modcache_has(go, comp.module, comp.version)

    # the release's go.mod, through the module proxy (or the module cache when offline)
    secs, proc = _run(
        go, ["mod", "download", "-json", f"{comp.module}@{comp.version}"], work, log_file, timeout=900, what="download"
    )
    if proc.returncode != 0:
        raise ToolchainUnavailable(
            f"cannot fetch {comp.module}@{comp.version} from the Go module proxy (exit {proc.returncode}):\n"
            + _tail(proc.stdout + proc.stderr)
        )
    info = json.loads(proc.stdout)
    upstream_go_mod = Path(info["GoMod"]).read_text()
    need = _GO_DIRECTIVE.search(upstream_go_mod)
    if need and _version_tuple(go_version) < _version_tuple(need.group(1)) and os.environ.get("GOTOOLCHAIN") == "local":
        raise ToolchainUnavailable(f"{comp.module} {comp.version} needs go >= {need.group(1)}; this is {go_version}")
    write_wrapper(comp, work, upstream_go_mod)
    timings: dict[str, float] = {"download": round(secs, 1)}

    secs, proc = _run(go, ["mod", "tidy"], work, log_file, timeout=timeout, what="go mod tidy")
    if proc.returncode != 0:
        raise _fail(f"{comp.name}: go mod tidy", proc)
    timings["mod_tidy"] = round(secs, 1)
    log(f"  {comp.name}: go mod tidy: {secs:.1f} s")

    out_dir = work / "bin"
    out_dir.mkdir(exist_ok=True)
    (out_dir / STAMP).unlink(missing_ok=True)
    sizes: dict[str, int] = {}
    for cmd, pkg in comp.commands:
        tmp = out_dir / f".{cmd}.tmp"
        args = ["build", "-trimpath", "-ldflags", comp.ldflags, "-o", str(tmp)]
        args += ["-tags", comp.tags] if comp.tags else []
        secs, proc = _run(go, [*args, pkg], work, log_file, timeout=timeout, what=f"go build {cmd}")
        if proc.returncode != 0:
            raise _fail(f"{comp.name}: go build {cmd}", proc)
        tmp.replace(out_dir / cmd)
        timings[cmd] = round(secs, 1)
        sizes[cmd] = (out_dir / cmd).stat().st_size
        log(f"  {comp.name}: go build {cmd}: {secs:.1f} s, {sizes[cmd] / 1e6:.0f} MB")
    for link in comp.links:
        (out_dir / link).unlink(missing_ok=True)
        (out_dir / link).symlink_to(comp.commands[0][0])

    stamp = {
        **recipe(comp),
        "go": go_version,
        "module_cache": "warm" if warm else "cold",
        "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": timings,
        "total_seconds": round(time.monotonic() - total, 1),
        "sizes": sizes,
    }
    paths = {name: out_dir / name for name in comp.binaries()}
    reported = binary_versions(comp, paths)
    wrong = {name: v for name, v in reported.items() if v != comp.version}
    if wrong:
        raise BuildError(f"{comp.name}: the binaries report {wrong}, expected {comp.version}")
    stamp["reported_versions"] = reported
    (out_dir / STAMP).write_text(json.dumps(stamp, indent=2) + "\n")
    log(f"  {comp.name}: {stamp['total_seconds']:.0f} s in all")
    return paths


# --------------------------------------------------------------------------- what the binaries say

_BUILDINFO_MAGIC = b"\xff Go buildinf:"


def go_build_info(path: Path) -> dict[str, Any]:
    """The build information the Go linker embeds (what ``go version -m`` prints), read without a Go
    toolchain: ``{"go": "go1.26.8", "path": main package, "deps": {module: version}, "settings": {k: v}}``."""
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        at = data.find(_BUILDINFO_MAGIC)
        if at < 0 or not data[at + 15] & 2:  # flag 2: the strings follow the header (Go >= 1.18)
            raise ValueError(f"{path}: no Go build information")
        pos = at + 32
        strings = []
        for _ in range(2):
            length = shift = 0
            while True:
                byte = data[pos]
                pos += 1
                length |= (byte & 0x7F) << shift
                shift += 7
                if byte < 0x80:
                    break
            strings.append(data[pos : pos + length].decode(errors="replace"))
            pos += length
    go_version, modinfo = strings
    if len(modinfo) >= 33 and modinfo[-17] == "\n":
        modinfo = modinfo[16:-16]  # sentinels around the text
    info: dict[str, Any] = {"go": go_version, "path": "", "deps": {}, "settings": {}}
    for line in modinfo.splitlines():
        parts = line.split("\t")
        if parts[0] == "path" and len(parts) > 1:
            info["path"] = parts[1]
        elif parts[0] == "dep" and len(parts) > 2:
            info["deps"][parts[1]] = parts[2]
        elif parts[0] == "build" and len(parts) > 1:
            key, _, value = parts[1].partition("=")
            info["settings"][key] = value
    return info


def _output(cmd: list[str]) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"({exc})"
    return (proc.stdout + proc.stderr).strip()


def binary_versions(comp: Component, paths: dict[str, Path]) -> dict[str, str]:
    """The version each binary of the component reports, as ``v1.2.3`` (or what it printed instead): its own
    ``--version`` where it has one; for KEDA (whose commands print their version only once connected to a
    cluster) the KEDA module version compiled in, from the binary's build information."""
    found: dict[str, str] = {}
    for name, path in paths.items():
        if comp is KEDA:
            try:
                info = go_build_info(path)
            except (OSError, ValueError) as exc:
                found[name] = f"({exc})"
                continue
            dep = info["deps"].get(comp.module, "(not built from it)")
            stamped = re.search(r"version\.Version=(\S+)", info["settings"].get("-ldflags", ""))
            said = "v" + stamped.group(1) if stamped else "(none)"
            found[name] = dep if said == dep else f"{dep}, but -X version.Version says {said}"
            continue
        text = _output([str(path), "--version"])
        m = re.search(r"\bv?(\d+\.\d+\.\d+\S*)", text)
        found[name] = f"v{m.group(1)}" if m else text[-200:]
    return found


# --------------------------------------------------------------------------- CLI


def report(binaries: K8sBinaries, *, this_run: float, built_now: bool) -> dict[str, Any]:
    components = {}
    for comp in COMPONENTS:
        stamp = binaries.stamps.get(comp.name, {})
        components[comp.name] = {
            "module": comp.module,
            "version": comp.version,
            "dir": str(build_dir(comp)),
            "binaries": {name: str(bin_dir(comp) / name) for name in comp.binaries()},
            "built_at": stamp.get("built_at"),
            "go": stamp.get("go"),
            "module_cache": stamp.get("module_cache", "unknown"),
            "build_seconds": stamp.get("seconds"),
            "build_total_seconds": stamp.get("total_seconds"),
            "sizes": {cmd: (bin_dir(comp) / cmd).stat().st_size for cmd, _ in comp.commands},
            "reported_versions": stamp.get("reported_versions"),
        }
    return {
        "components": components,
        "paths": {name: str(p) for name, p in binaries.paths().items()},
        "build_total_seconds": round(sum(c["build_total_seconds"] or 0 for c in components.values()), 1),
        "disk_bytes": sum(sum(c["sizes"].values()) for c in components.values()),
        "this_run_seconds": round(this_run, 2),
        "built_now": built_now,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/k8s_build.py", description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="build nothing; exit 0 when the binaries are ready")
    ap.add_argument("--json", action="store_true", help="print the report as JSON")
    args = ap.parse_args(argv)
    started = time.monotonic()
    built_now = False
    if args.check:
        missing = [f"{c.name} {c.version}" for c in COMPONENTS if cached_component(c) is None]
        ready = cached()
        if ready is None:
            try:
                check_toolchain(go_executable())
            except ToolchainUnavailable as exc:
                print(f"k8s-build: {', '.join(missing)} not built, and cannot be built here: {exc}", file=sys.stderr)
                return EXIT_UNAVAILABLE
            print(
                f"k8s-build: {', '.join(missing)} not built yet (run scripts/k8s_build.py); expected in {build_root()}"
            )
            return EXIT_NOT_BUILT
        for comp in COMPONENTS:
            paths = {name: bin_dir(comp) / name for name in comp.binaries()}
            wrong = {n: v for n, v in binary_versions(comp, paths).items() if v != comp.version}
            if wrong:
                print(f"k8s-build: {comp.name} binaries report {wrong}, expected {comp.version}", file=sys.stderr)
                return EXIT_FAILED
    else:
        was_cached = cached() is not None
        try:
            ready = ensure_built(log=lambda msg: print(msg, file=sys.stderr, flush=True))
        except ToolchainUnavailable as exc:
            print(f"k8s-build: cannot build here: {exc}", file=sys.stderr)
            return EXIT_UNAVAILABLE
        except BuildError as exc:
            print(f"k8s-build: build failed: {exc}", file=sys.stderr)
            return EXIT_FAILED
        built_now = not was_cached

    rep = report(ready, this_run=time.monotonic() - started, built_now=built_now)
    if args.json:
        print(json.dumps(rep, indent=2))
        return EXIT_OK
    print(f"k8s-build: {build_root()} ({'built now' if built_now else 'cached'}, this run {rep['this_run_seconds']} s)")
    for name, c in rep["components"].items():
        steps = ", ".join(f"{k} {v:.0f} s" for k, v in (c["build_seconds"] or {}).items())
        print(f"  {name} {c['version']} ({c['go']}, built {c['built_at']}, Go module cache {c['module_cache']})")
        print(f"    build {c['build_total_seconds'] or 0:.0f} s: {steps}")
        for binary, path in c["binaries"].items():
            size = c["sizes"].get(binary)
            print(f"    {binary:<24} {f'{size / 1e6:6.1f} MB' if size else '   (link)'}  {path}")
    print(f"  total build {rep['build_total_seconds']:.0f} s, binaries {rep['disk_bytes'] / 1e6:.0f} MB")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
