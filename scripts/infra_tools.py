"""Install and cache the infra validation toolchain outside the repository.

    python scripts/infra_tools.py            # install what is missing, print what was done
    python scripts/infra_tools.py --check    # exit 1 when a tool or schema set is missing
    python scripts/infra_tools.py --json     # install, then print the paths as JSON (tests read it)
    python scripts/infra_tools.py --strimzi FILE...  # validate the kafka.strimzi.io documents of YAML files

Everything goes under ``~/.cache/todo-cloud/tools`` (``TODO_CLOUD_TOOLS`` overrides it):

- ``bin/``: helm, kubeconform and actionlint, built with ``go install`` at pinned versions
  (``GOFLAGS=-p=2``: this machine has two cores);
- ``schemas/kubernetes/v<version>-standalone-strict/<kind>-<group>-<version>.json``: the strict
  Kubernetes JSON schemas of the ``kubernetes-validate`` wheel for 1.28 and for the newest version
  it ships, made self-contained (their shared definitions inlined) for kubeconform;
- ``schemas/crds/<group>/<kind>_<version>.json``: JSON schemas converted from the CRDs of KEDA,
  Dapr and the Prometheus operator (ServiceMonitor), read from those projects' Go module zips;
- ``node/strimzi/``: an npm prefix with ``@kubernetes-models/strimzi-kafka-operator`` (AJV validators
  and TypeScript interfaces generated from Strimzi's published CRDs, 0.49.0 for v1beta2 and 1.0.0 for
  v1) and ``typescript``, installed with npm at pinned versions (needs Node.js and npm).

kubeconform gets no JSON schema for ``kafka.strimzi.io`` (none is converted here) and skips that
group by kind; ``scripts/strimzi_validate.mjs`` validates its documents instead (``--strimzi``, or
``strimzi_problems()``): the AJV validator of each document's apiVersion and kind (types, enums,
required fields) and, since the CRDs leave objects open, a look-up of every field in the package's
TypeScript interfaces, so an undeclared field fails as under kubeconform -strict. Without Node.js the
rest of the toolchain still installs, and ``--json`` says why Strimzi is not validated.

Each step is recorded with a stamp naming its version; a step whose stamp matches is skipped, so
the script is idempotent and a second run takes well under a second. Exit codes: 0 done, 1 a step
failed (with ``--strimzi``: also a document has a problem), 3 a prerequisite is missing or a registry
could not be reached (tests skip on 3 only).
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
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

TOOLS_HOME = Path(os.environ.get("TODO_CLOUD_TOOLS", Path.home() / ".cache" / "todo-cloud" / "tools"))
CONVERTER_VERSION = "3"  # bump when the schema conversion changes: rebuilds the schema sets
BUILD_RECIPE = "3"  # bump when the go install flags change: rebuilds the tools

HELM_VERSION = "v3.22.0"
GO_TOOLS: dict[str, dict[str, Any]] = {
    "helm": {
        "package": "helm.sh/helm/v3/cmd/helm",
        "version": HELM_VERSION,
        "ldflags": f"-X helm.sh/helm/v3/internal/version.version={HELM_VERSION}",
        "version_args": ["version", "--short"],
        # helm's Makefile stamps the Kubernetes version of its client-go (the default of
        # `helm template` and of the lint deprecation checks); `go install` must do the same
        "k8s_version_from": "k8s.io/client-go",
    },
    "kubeconform": {
        "package": "github.com/yannh/kubeconform/cmd/kubeconform",
        "version": "v0.8.0",
        "ldflags": "-X main.version=v0.8.0",
        "version_args": ["-v"],
    },
    "actionlint": {
        "package": "github.com/rhysd/actionlint/cmd/actionlint",
        "version": "v1.7.12",
        "ldflags": "-X github.com/rhysd/actionlint.version=v1.7.12",
        "version_args": ["-version"],
    },
}

KUBERNETES_VALIDATE_VERSION = "1.37.0"
OLDEST_KUBERNETES = "1.28.0"  # the chart's kubeVersion floor
# kubeconform -schema-location templates, relative to the schema roots
K8S_SCHEMA_TEMPLATE = (
    "/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json"
)
CRD_SCHEMA_TEMPLATE = "/{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json"

CRD_SOURCES: dict[str, dict[str, str]] = {
    "keda": {"module": "github.com/kedacore/keda/v2", "version": "v2.17.2", "dir": "config/crd/bases"},
    "dapr": {"module": "github.com/dapr/dapr", "version": "v1.16.0", "dir": "charts/dapr/crds"},
    "prometheus-operator": {
        "module": "github.com/prometheus-operator/prometheus-operator",
        "version": "v0.85.0",
        "dir": "example/prometheus-operator-crd",
    },
}
STRIMZI_GROUP = "kafka.strimzi.io"
STRIMZI_VALIDATOR = Path(__file__).resolve().parent / "strimzi_validate.mjs"
# exact versions, the package's runtime dependencies included (its own ranges would float)
NODE_PACKAGES = {
    "@kubernetes-models/strimzi-kafka-operator": "1.0.1",  # Strimzi CRDs 0.49.0 (v1beta2), 1.0.0 (v1)
    "@kubernetes-models/apimachinery": "3.0.2",
    "@kubernetes-models/base": "6.0.1",
    "@kubernetes-models/validate": "5.0.2",
    "typescript": "5.9.3",  # the version ui/ uses
}

NETWORK_ERRORS = re.compile(
    r"dial tcp|no such host|connection refused|i/o timeout|proxyconnect|TLS handshake|"
    r"Temporary failure in name resolution|Network is unreachable|403 Forbidden|404 Not Found|"
    r"not available|Could not find a version|No matching distribution|"
    r"ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNREFUSED|ECONNRESET|E404|E403",
    re.IGNORECASE,
)


class _CrdLoader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's ``=`` value tag (CRD enums contain a bare ``=``)."""


_CrdLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:value"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class Unavailable(RuntimeError):
    """A prerequisite is missing or a registry did not answer: exit 3 (callers may skip)."""


def say(message: str) -> None:
    print(f"infra-tools: {message}", file=sys.stderr, flush=True)


# -- paths ----------------------------------------------------------------------------------------


def bin_dir() -> Path:
    return TOOLS_HOME / "bin"


def tool_path(name: str) -> Path:
    return bin_dir() / name


def k8s_schema_root() -> Path:
    return TOOLS_HOME / "schemas" / "kubernetes"


def crd_schema_root() -> Path:
    return TOOLS_HOME / "schemas" / "crds"


def node_prefix() -> Path:
    return TOOLS_HOME / "node" / "strimzi"


def stamp_path(name: str) -> Path:
    return TOOLS_HOME / "stamps" / name


def read_stamp(name: str) -> str | None:
    p = stamp_path(name)
    return p.read_text().strip() if p.exists() else None


def write_stamp(name: str, value: str) -> None:
    p = stamp_path(name)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(value + "\n")


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """One installer at a time (two test sessions may start together)."""
    TOOLS_HOME.mkdir(parents=True, exist_ok=True)
    with open(TOOLS_HOME / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# -- go -------------------------------------------------------------------------------------------


def go_env() -> dict[str, str]:
    env = dict(os.environ)
    flags = env.get("GOFLAGS", "").split()
    flags = [f for f in flags if not f.startswith("-p=")] + ["-p=2"]
    if not any(f.startswith("-buildvcs") for f in flags):
        flags.append("-buildvcs=false")
    env["GOFLAGS"] = " ".join(flags)
    env["GOBIN"] = str(bin_dir())
    env.setdefault("CGO_ENABLED", "0")
    return env


def run(cmd: list[str], *, env: dict[str, str] | None = None, what: str) -> str:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        output = (proc.stderr or proc.stdout).strip()
        tail = "\n".join(output.splitlines()[-15:])
        if NETWORK_ERRORS.search(output):
            raise Unavailable(f"{what}: could not download\n{tail}")
        raise RuntimeError(f"{what} failed (exit {proc.returncode})\n{tail}")
    return proc.stdout


def require_go() -> str:
    go = shutil.which("go")
    if go is None:
        raise Unavailable("the go command is not installed (the tools are built with `go install`)")
    return go


def _module_of(package: str) -> str:
    """helm.sh/helm/v3/cmd/helm -> helm.sh/helm/v3 (the tools here live in <module>/cmd/<name>)."""
    return package.split("/cmd/", 1)[0]


def _k8s_ldflags(spec: dict[str, Any]) -> str:
    mod = go_module_dir(_module_of(spec["package"]), spec["version"]) / "go.mod"
    m = re.search(rf"^\s*{re.escape(spec['k8s_version_from'])} v0\.(\d+)\.", mod.read_text(), re.MULTILINE)
    if m is None:
        raise RuntimeError(f"{mod}: no {spec['k8s_version_from']} requirement")
    minor = m.group(1)
    return " ".join(
        f"-X helm.sh/helm/v3/pkg/{pkg}.k8sVersion{part}={value}"
        for pkg in ("chartutil", "lint/rules")
        for part, value in (("Major", "1"), ("Minor", minor))
    )


def install_go_tool(name: str) -> str:
    spec = GO_TOOLS[name]
    want = f"{spec['package']}@{spec['version']}"
    stamp = f"{want} recipe {BUILD_RECIPE}"
    if tool_path(name).exists() and read_stamp(f"tool-{name}") == stamp:
        return f"{name} {spec['version']}: cached"
    go = require_go()
    bin_dir().mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    cmd = [go, "install"]
    ldflags = [spec["ldflags"]] if spec.get("ldflags") else []
    if spec.get("k8s_version_from"):
        ldflags.append(_k8s_ldflags(spec))
    if ldflags:
        cmd.append("-ldflags=" + " ".join(ldflags))
    cmd.append(want)
    say(f"building {name} {spec['version']} with go install (this takes a few minutes the first time)")
    run(cmd, env=go_env(), what=f"go install {want}")
    write_stamp(f"tool-{name}", stamp)
    return f"{name} {spec['version']}: built in {time.monotonic() - started:.0f} s"


def go_module_dir(module: str, version: str) -> Path:
    go = require_go()
    out = run([go, "mod", "download", "-json", f"{module}@{version}"], env=go_env(), what=f"go mod download {module}")
    info = json.loads(out)
    if info.get("Error"):
        raise Unavailable(f"go mod download {module}@{version}: {info['Error']}")
    return Path(info["Dir"])


# -- Kubernetes schemas from the kubernetes-validate wheel ----------------------------------------


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def _rewrite_refs(node: Any, needed: set[str]) -> Any:
    """``/api/_definitions.json#/$defs/X`` (or ``#/$defs/X``) -> ``#/definitions/X``, noting X."""
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and "#/$defs/" in value:
                name = value.split("#/$defs/", 1)[1]
                needed.add(name)
                out[key] = f"#/definitions/{name}"
            else:
                out[key] = _rewrite_refs(value, needed)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, needed) for v in node]
    return node


def _standalone_k8s_set(zf: zipfile.ZipFile, version: str, dest: Path) -> int:
    prefix = f"kubernetes_validate/kubernetes-json-schema/v{version}-local-strict/"
    defs_raw = json.loads(zf.read(prefix + "_definitions.json"))
    defs_src: dict[str, Any] = defs_raw.get("$defs") or defs_raw.get("definitions") or {}
    defs: dict[str, Any] = {}
    deps: dict[str, set[str]] = {}
    for name, body in defs_src.items():
        needed: set[str] = set()
        defs[name] = _rewrite_refs(body, needed)
        deps[name] = needed
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    count = 0
    for entry in zf.namelist():
        if not entry.startswith(prefix) or not entry.endswith(".json"):
            continue
        base = entry[len(prefix) :]
        if "/" in base or base.startswith("_") or base == "all.json":
            continue
        schema = json.loads(zf.read(entry))
        if "x-kubernetes-group-version-kind" not in schema:
            continue  # only top-level kinds are looked up by kubeconform
        needed: set[str] = set()
        schema = _rewrite_refs(schema, needed)
        closure: set[str] = set()
        todo = list(needed)
        while todo:
            name = todo.pop()
            if name in closure or name not in defs:
                continue
            closure.add(name)
            todo.extend(deps[name])
        schema["definitions"] = {n: defs[n] for n in sorted(closure)}
        (tmp / base).write_text(json.dumps(schema, separators=(",", ":")))
        count += 1
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return count


def install_k8s_schemas() -> tuple[str, list[str]]:
    stamp = f"kubernetes-validate=={KUBERNETES_VALIDATE_VERSION} converter {CONVERTER_VERSION}"
    recorded = read_stamp("k8s-schemas")
    if recorded and recorded.startswith(stamp):
        versions = recorded.split("versions ", 1)[1].split(",")
        if all((k8s_schema_root() / f"v{v}-standalone-strict").is_dir() for v in versions):
            return f"kubernetes schemas {', '.join(versions)}: cached", versions
    downloads = TOOLS_HOME / "downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    wheel = next(downloads.glob(f"kubernetes_validate-{KUBERNETES_VALIDATE_VERSION}-*.whl"), None)
    if wheel is None:
        say(f"downloading the kubernetes-validate {KUBERNETES_VALIDATE_VERSION} wheel (schemas)")
        run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--only-binary=:all:",
                "-d",
                str(downloads),
                f"kubernetes-validate=={KUBERNETES_VALIDATE_VERSION}",
            ],
            what="pip download kubernetes-validate",
        )
        wheel = next(downloads.glob(f"kubernetes_validate-{KUBERNETES_VALIDATE_VERSION}-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        found = sorted(
            {
                m.group(1)
                for n in zf.namelist()
                if (m := re.match(r"kubernetes_validate/kubernetes-json-schema/v([\d.]+)-local-strict/", n))
            },
            key=_version_key,
        )
        if OLDEST_KUBERNETES not in found:
            raise RuntimeError(f"the wheel has no {OLDEST_KUBERNETES} schemas (has {found})")
        versions = [OLDEST_KUBERNETES] if found[-1] == OLDEST_KUBERNETES else [OLDEST_KUBERNETES, found[-1]]
        counts = []
        for version in versions:
            n = _standalone_k8s_set(zf, version, k8s_schema_root() / f"v{version}-standalone-strict")
            counts.append(f"{version} ({n} kinds)")
    write_stamp("k8s-schemas", f"{stamp} versions {','.join(versions)}")
    return f"kubernetes schemas {', '.join(counts)}: written", versions


# -- CRD schemas ----------------------------------------------------------------------------------


def crd_to_jsonschema(node: Any) -> Any:
    """An OpenAPI v3 schema of a CRD as a strict JSON schema, the way kubeconform's
    openapi2jsonschema does it: objects that list their properties accept no others (unless the
    CRD preserves unknown fields), ``nullable`` admits null, int-or-string admits both."""
    if isinstance(node, list):
        return [crd_to_jsonschema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in {"properties", "patternProperties", "definitions"} and isinstance(value, dict):
            out[key] = {k: crd_to_jsonschema(v) for k, v in value.items()}
        elif key in {"items", "additionalProperties", "not"} and isinstance(value, dict):
            out[key] = crd_to_jsonschema(value)
        elif key in {"allOf", "anyOf", "oneOf"} and isinstance(value, list):
            out[key] = [crd_to_jsonschema(v) for v in value]
        elif key == "nullable":
            continue
        else:
            out[key] = value
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "string"}, {"type": "integer"}]
    if node.get("nullable") and "type" in out:
        t = out["type"]
        out["type"] = [*t, "null"] if isinstance(t, list) else [t, "null"]
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def crd_schemas(crd: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(group, kind, version, json schema) for each served version of a CRD document."""
    spec = crd.get("spec", {})
    group, kind = spec["group"], spec["names"]["kind"]
    for version in spec.get("versions", []):
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if not schema or not version.get("served", True):
            continue
        converted = crd_to_jsonschema(schema)
        props = converted.setdefault("properties", {})
        props["apiVersion"] = {"type": "string", "enum": [f"{group}/{version['name']}"]}
        props["kind"] = {"type": "string", "enum": [kind]}
        props.setdefault("metadata", {"type": "object"})
        converted["additionalProperties"] = False
        converted.setdefault("required", [])
        for field in ("apiVersion", "kind"):
            if field not in converted["required"]:
                converted["required"].append(field)
        yield group, kind, version["name"], converted


def install_crd_schemas() -> list[str]:
    done = []
    for name, src in CRD_SOURCES.items():
        stamp = f"{src['module']}@{src['version']} converter {CONVERTER_VERSION}"
        if read_stamp(f"crds-{name}") == stamp:
            done.append(f"{name} CRDs {src['version']}: cached")
            continue
        root = go_module_dir(src["module"], src["version"]) / src["dir"]
        if not root.is_dir():
            raise RuntimeError(f"{src['module']}@{src['version']} has no {src['dir']}")
        kinds = []
        for path in sorted(root.glob("*.yaml")):
            for doc in yaml.load_all(path.read_text(), Loader=_CrdLoader):  # a SafeLoader subclass
                if not isinstance(doc, dict) or doc.get("kind") != "CustomResourceDefinition":
                    continue
                for group, kind, version, schema in crd_schemas(doc):
                    dest = crd_schema_root() / group / f"{kind.lower()}_{version}.json"
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    dest.write_text(json.dumps(schema, separators=(",", ":")))
                    kinds.append(f"{kind}/{version}")
        if not kinds:
            raise RuntimeError(f"no CRDs found in {root}")
        write_stamp(f"crds-{name}", stamp)
        done.append(f"{name} CRDs {src['version']}: {len(kinds)} schemas written ({', '.join(sorted(set(kinds)))})")
    return done


# -- Strimzi: validators from npm -----------------------------------------------------------------


def _node_stamp() -> str:
    return " ".join(f"{name}@{version}" for name, version in NODE_PACKAGES.items())


def _installed_node_versions() -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in NODE_PACKAGES:
        meta = node_prefix() / "node_modules" / name / "package.json"
        found[name] = json.loads(meta.read_text()).get("version") if meta.exists() else None
    return found


def node_packages_ready() -> bool:
    return read_stamp("node-strimzi") == _node_stamp() and _installed_node_versions() == NODE_PACKAGES


def install_node_packages() -> str:
    if node_packages_ready():
        return f"{STRIMZI_GROUP} validators (strimzi-kafka-operator models, typescript): cached"
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise Unavailable("Node.js and npm are needed to validate Strimzi resources (scripts/strimzi_validate.mjs)")
    started = time.monotonic()
    prefix = node_prefix()
    shutil.rmtree(prefix, ignore_errors=True)  # nothing of an older set stays behind
    prefix.mkdir(parents=True)
    (prefix / "package.json").write_text(json.dumps({"private": True, "description": "scripts/infra_tools.py"}))
    say(f"installing {', '.join(f'{n}@{v}' for n, v in NODE_PACKAGES.items())} with npm")
    run(
        [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund", "--save-exact", "--loglevel=error"]
        + [f"{name}@{version}" for name, version in NODE_PACKAGES.items()],
        what="npm install (Strimzi validators)",
    )
    found = _installed_node_versions()
    if found != NODE_PACKAGES:
        raise RuntimeError(f"npm installed {found}, not {NODE_PACKAGES}")
    write_stamp("node-strimzi", _node_stamp())
    return f"{STRIMZI_GROUP} validators: installed in {time.monotonic() - started:.0f} s"


def strimzi_problems(docs: list[tuple[str, dict[str, Any]]]) -> tuple[int, list[dict[str, Any]]]:
    """Validate (source, document) pairs of kafka.strimzi.io in one run of the validator (one
    TypeScript program): the number checked and the problems, each with source, kind, name, path,
    message and check ("schema": the CRD's AJV validator; "fields": the TypeScript interfaces)."""
    node = shutil.which("node")
    if node is None or not node_packages_ready():
        raise Unavailable("the Strimzi validators are not installed (run scripts/infra_tools.py)")
    payload = json.dumps([{"source": source, "doc": doc} for source, doc in docs], default=str)
    proc = subprocess.run(
        [node, str(STRIMZI_VALIDATOR), str(node_prefix())],
        input=payload,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode not in (0, 1) or not proc.stdout.strip():
        raise RuntimeError(f"{STRIMZI_VALIDATOR.name} failed (exit {proc.returncode})\n{proc.stderr.strip()}")
    report = json.loads(proc.stdout)
    return int(report["checked"]), list(report["problems"])


def describe_problem(p: dict[str, Any]) -> str:
    return f"{p['source']}: {p['kind']} {p['name']}: {p['path']}: {p['message']} [{p['check']}]"


def strimzi_documents(text: str, source: str) -> list[tuple[str, dict[str, Any]]]:
    """The kafka.strimzi.io documents of a YAML stream as ("<source>#<n>", doc), n counting from 1."""
    docs = [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    return [
        (f"{source}#{n}", doc)
        for n, doc in enumerate(docs, 1)
        if str(doc.get("apiVersion", "")).split("/")[0] == STRIMZI_GROUP
    ]


def validate_strimzi_files(paths: list[str]) -> int:
    with locked():
        say(install_node_packages())
    docs = []
    for path in paths:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
        docs += strimzi_documents(text, "stdin" if path == "-" else path)
    checked, problems = strimzi_problems(docs)
    for problem in problems:
        print(describe_problem(problem))
    bad = len({p["source"] for p in problems})
    say(f"{checked} {STRIMZI_GROUP} documents checked, {bad} with problems")
    return 1 if problems else 0


# -- entry points ---------------------------------------------------------------------------------


def manifest(k8s_versions: list[str] | None = None, strimzi_unavailable: str | None = None) -> dict[str, Any]:
    if strimzi_unavailable is None and not node_packages_ready():
        strimzi_unavailable = "not installed"
    if k8s_versions is None:
        recorded = read_stamp("k8s-schemas") or ""
        k8s_versions = recorded.split("versions ", 1)[1].split(",") if "versions " in recorded else []
    return {
        "home": str(TOOLS_HOME),
        "bin": {name: str(tool_path(name)) for name in GO_TOOLS},
        "versions": {name: spec["version"] for name, spec in GO_TOOLS.items()}
        | {"kubernetes-validate": KUBERNETES_VALIDATE_VERSION}
        | {f"{name}-crds": src["version"] for name, src in CRD_SOURCES.items()},
        "kubernetes_versions": k8s_versions,
        "schema_locations": [
            str(k8s_schema_root()) + K8S_SCHEMA_TEMPLATE,
            str(crd_schema_root()) + CRD_SCHEMA_TEMPLATE,
        ],
        "crd_groups": sorted(p.name for p in crd_schema_root().iterdir()) if crd_schema_root().is_dir() else [],
        # kubeconform has no schema for this group (it skips it); strimzi_validate.mjs validates it
        "strimzi": {
            "group": STRIMZI_GROUP,
            "validator": str(STRIMZI_VALIDATOR),
            "prefix": str(node_prefix()),
            "versions": NODE_PACKAGES,
            "unavailable": strimzi_unavailable,
        },
    }


def check() -> list[str]:
    """What is missing (empty when everything is in place)."""
    missing = [name for name in GO_TOOLS if not tool_path(name).exists()]
    missing += [
        f"{name} {s['version']} (built)"
        for name, s in GO_TOOLS.items()
        if read_stamp(f"tool-{name}") != f"{s['package']}@{s['version']} recipe {BUILD_RECIPE}"
    ]
    versions = manifest()["kubernetes_versions"]
    if not versions or not all((k8s_schema_root() / f"v{v}-standalone-strict").is_dir() for v in versions):
        missing.append("kubernetes schemas")
    missing += [f"{name} CRD schemas" for name in CRD_SOURCES if not read_stamp(f"crds-{name}")]
    if not node_packages_ready():
        missing.append(f"{STRIMZI_GROUP} validators ({_node_stamp()})")
    return missing


def install() -> dict[str, Any]:
    started = time.monotonic()
    with locked():
        for name in GO_TOOLS:
            say(install_go_tool(name))
        line, versions = install_k8s_schemas()
        say(line)
        for line in install_crd_schemas():
            say(line)
        strimzi_unavailable = None
        try:
            say(install_node_packages())
        except Unavailable as exc:  # the rest of the toolchain stays usable without Node.js
            strimzi_unavailable = str(exc)
            say(f"{STRIMZI_GROUP} will not be validated: {exc}")
    say(f"toolchain ready in {TOOLS_HOME} ({time.monotonic() - started:.1f} s)")
    return manifest(versions, strimzi_unavailable)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only check; exit 1 when something is missing")
    ap.add_argument("--json", action="store_true", help="print the tool and schema paths as JSON on stdout")
    ap.add_argument(
        "--strimzi",
        nargs="+",
        metavar="FILE",
        help=f"validate the {STRIMZI_GROUP} documents of these YAML files ('-': stdin); exit 1 on a problem",
    )
    args = ap.parse_args(argv)
    if args.check:
        missing = check()
        for item in missing:
            say(f"missing: {item}")
        if not missing:
            say(f"everything in place in {TOOLS_HOME}")
        return 1 if missing else 0
    try:
        if args.strimzi:
            return validate_strimzi_files(args.strimzi)
        info = install()
    except Unavailable as exc:
        say(f"unavailable: {exc}")
        return 3
    except (RuntimeError, OSError, subprocess.SubprocessError, yaml.YAMLError, ValueError, KeyError) as exc:
        say(f"failed: {exc}")
        return 1
    if args.json:
        print(json.dumps(info, indent=2))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        raise SystemExit(main())
    raise SystemExit(130)
