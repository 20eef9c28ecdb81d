"""scripts/k8s_build.py: the control-plane binaries it builds report the pinned versions.

Nothing is built here: the binaries are looked up the way ``scripts/k8s_build.py --check`` does, and the tests
that need them are skipped with the reason when they are not built (exit 2: run the script, about an hour cold
on two cores) or cannot be built on this machine (exit 3: no Go toolchain, no Go module proxy). A built binary
that reports another version is a failure. The wrapper go.mod and the exit codes are checked without binaries.
"""

from __future__ import annotations

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests._scripts import load_script

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "k8s_build.py"
k8s_build = load_script("k8s_build.py", "todo_cloud_k8s_build")

pytestmark = pytest.mark.timeout(300)


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False, **kwargs)


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    """``--check --json``: the report of the built binaries; skip when they are not built or not buildable."""
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--json"], capture_output=True, text=True, timeout=600, check=False
    )
    reason = (proc.stderr or proc.stdout).strip()
    if proc.returncode in (k8s_build.EXIT_NOT_BUILT, k8s_build.EXIT_UNAVAILABLE):
        pytest.skip(reason)
    assert proc.returncode == 0, reason
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def path(built: dict[str, Any], name: str) -> str:
    return built["paths"][name]


# -- without binaries -----------------------------------------------------------------------------------


def test_the_script_says_exit_3_when_there_is_no_go_toolchain(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TODO_CLOUD_CACHE": str(tmp_path), "GO": "/no/such/go"}
    for args in ([], ["--check"]):
        proc = run([sys.executable, str(SCRIPT), *args], env=env)
        assert proc.returncode == 3, proc.stderr
        assert "no Go toolchain" in proc.stderr


def test_the_kubernetes_wrapper_requires_and_pins_the_staging_modules_at_the_release() -> None:
    upstream = (
        "module k8s.io/kubernetes\n\ngo 1.26.0\n\ngodebug default=go1.26\n\n"
        "require (\n\tgithub.com/a/b v1.0.0\n\tk8s.io/api v0.0.0\n\tk8s.io/client-go v0.0.0\n)\n\n"
        "replace (\n\tk8s.io/api => ./staging/src/k8s.io/api\n\tk8s.io/client-go => ./staging/src/k8s.io/client-go\n"
        "\tk8s.io/sample-controller => ./staging/src/k8s.io/sample-controller\n)\n\n"
        "replace x.io/y => x.io/y v0.1.0 // a fork\n"
    )
    text = k8s_build.wrapper_go_mod(k8s_build.KUBERNETES, upstream)
    version = k8s_build.KUBERNETES_VERSION
    staging = "v0." + version.split(".", 1)[1]
    assert "module todocloud/k8sbuild/kubernetes\n\ngo 1.26.0\n\ngodebug default=go1.26\n" in text
    assert f"\tk8s.io/kubernetes {version}\n\tk8s.io/api {staging}\n\tk8s.io/client-go {staging}\n)" in text
    assert f"\tk8s.io/api => k8s.io/api {staging} // upstream: => ./staging/src/k8s.io/api\n" in text
    assert f"\tk8s.io/sample-controller => k8s.io/sample-controller {staging}" in text  # replaced, not required
    assert "\tk8s.io/sample-controller v0" not in text
    assert "replace x.io/y => x.io/y v0.1.0 // a fork" in text
    assert "=> ./" not in text.replace("upstream: => ./", "")


def test_the_etcd_wrapper_maps_sibling_modules_and_leaves_out_the_guards() -> None:
    upstream = (
        "module go.etcd.io/etcd/server/v3\n\ngo 1.26.0\n\ntoolchain go1.26.10\n\n"
        "require (\n\tgo.etcd.io/etcd/api/v3 v3.6.16\n)\n\n"
        "replace (\n\tgo.etcd.io/etcd/api/v3 => ../api\n)\n\n"
        "// This makes the error more explicit.\nreplace go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY\n"
    )
    text = k8s_build.wrapper_go_mod(k8s_build.ETCD, upstream)
    v = k8s_build.ETCD_VERSION
    assert f"require (\n\tgo.etcd.io/etcd/server/v3 {v}\n\tgo.etcd.io/etcd/api/v3 {v}\n)" in text
    assert f"\tgo.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 {v} // upstream: => ../api\n" in text
    assert "// left out (a guard): replace go.etcd.io/etcd => ./FORBIDDEN_DEPENDENCY" in text
    assert "toolchain" not in text


def test_keda_replace_directives_are_repeated_verbatim_and_a_local_path_is_refused() -> None:
    upstream = (
        "module github.com/kedacore/keda/v2\n\ngo 1.23.8\n\nrequire k8s.io/api v0.31.7\n\n"
        "replace (\n\t// we need a version with a proper license\n"
        "\tgithub.com/chzyer/logex => github.com/chzyer/logex v1.2.1\n"
        "\tk8s.io/api => k8s.io/api v0.31.7\n)\n"
    )
    text = k8s_build.wrapper_go_mod(k8s_build.KEDA, upstream)
    assert f"require (\n\tgithub.com/kedacore/keda/v2 {k8s_build.KEDA_VERSION}\n)" in text
    assert upstream[upstream.index("replace (") :].rstrip() in text
    with pytest.raises(k8s_build.BuildError):
        k8s_build.wrapper_go_mod(k8s_build.KEDA, "replace a.io/b => ../b\n")


# -- the built binaries ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["kube-apiserver", "kube-controller-manager", "kube-scheduler"])
def test_the_kubernetes_commands_report_the_pinned_release(built: dict[str, Any], command: str) -> None:
    binary = Path(path(built, command))
    assert binary.is_symlink() and binary.resolve().name == k8s_build.MULTICALL  # one multi-call binary
    proc = run([str(binary), "--version"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"Kubernetes {k8s_build.KUBERNETES_VERSION}"
    help_text = run([str(binary), "--help"]).stdout
    assert f"Usage:\n  {command}" in help_text  # the command it was run as, not another one


def test_the_kubernetes_binary_is_built_as_the_release_build_builds_it(built: dict[str, Any]) -> None:
    info = k8s_build.go_build_info(Path(path(built, "kube-apiserver")))
    assert info["deps"]["k8s.io/kubernetes"] == k8s_build.KUBERNETES_VERSION
    assert info["deps"]["k8s.io/apiserver"] == "v0." + k8s_build.KUBERNETES_VERSION.split(".", 1)[1]
    settings = info["settings"]
    assert settings["CGO_ENABLED"] == "0"
    assert settings["-tags"] == "selinux,notest,grpcnotrace"
    assert settings["-trimpath"] == "true"
    assert f"k8s.io/component-base/version.gitVersion={k8s_build.KUBERNETES_VERSION}" in settings["-ldflags"]


def test_etcd_reports_the_pinned_release(built: dict[str, Any]) -> None:
    proc = run([path(built, "etcd"), "--version"])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == f"etcd Version: {k8s_build.ETCD_VERSION.removeprefix('v')}"


def test_kwok_reports_the_pinned_release(built: dict[str, Any]) -> None:
    proc = run([path(built, "kwok"), "--version"])
    assert proc.returncode == 0, proc.stderr
    assert re.search(rf"\bv?{re.escape(k8s_build.KWOK_VERSION.removeprefix('v'))}\b", proc.stdout), proc.stdout


@pytest.mark.parametrize("command", ["keda-operator", "keda-adapter"])
def test_the_keda_commands_are_the_pinned_release_and_start(built: dict[str, Any], command: str) -> None:
    info = k8s_build.go_build_info(Path(path(built, command)))
    assert info["deps"]["github.com/kedacore/keda/v2"] == k8s_build.KEDA_VERSION
    assert f"version.Version={k8s_build.KEDA_VERSION.removeprefix('v')}" in info["settings"]["-ldflags"]
    proc = run([path(built, command), "--help"])
    assert proc.returncode == 0, proc.stderr
    assert "--kubeconfig" in proc.stdout + proc.stderr


# -- the API server on etcd -----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> dict[str, Any]:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with urllib.request.urlopen(url, context=ctx, timeout=5) as resp:
        data: dict[str, Any] = json.loads(resp.read())
    return data


@pytest.mark.timeout(240)
def test_the_api_server_serves_the_pinned_version_on_etcd(built: dict[str, Any], tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    sa_key = tmp_path / "sa.key"
    sa_key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    client, peer, secure = _free_port(), _free_port(), _free_port()
    etcd_args = [
        path(built, "etcd"),
        f"--data-dir={tmp_path / 'etcd'}",
        f"--listen-client-urls=http://127.0.0.1:{client}",
        f"--advertise-client-urls=http://127.0.0.1:{client}",
        f"--listen-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-cluster=default=http://127.0.0.1:{peer}",
    ]
    apiserver_args = [
        path(built, "kube-apiserver"),
        f"--etcd-servers=http://127.0.0.1:{client}",
        "--bind-address=127.0.0.1",
        f"--secure-port={secure}",
        f"--cert-dir={tmp_path / 'certs'}",
        f"--service-account-key-file={sa_key}",
        f"--service-account-signing-key-file={sa_key}",
        "--service-account-issuer=https://kubernetes.default.svc",
        "--service-cluster-ip-range=10.0.0.0/24",
        "--authorization-mode=AlwaysAllow",
    ]
    procs: list[subprocess.Popen[bytes]] = []
    logs = {name: (tmp_path / f"{name}.log").open("wb") for name in ("etcd", "kube-apiserver")}
    try:
        for name, args in (("etcd", etcd_args), ("kube-apiserver", apiserver_args)):
            procs.append(subprocess.Popen(args, stdout=logs[name], stderr=subprocess.STDOUT, env=dict(os.environ)))
        deadline = time.monotonic() + 180
        version: dict[str, Any] | None = None
        while version is None and time.monotonic() < deadline:
            for p, name in zip(procs, logs, strict=True):
                assert p.poll() is None, (tmp_path / f"{name}.log").read_text()[-3000:]
            try:
                version = _get(f"https://127.0.0.1:{secure}/version")
            except (OSError, ValueError):
                time.sleep(1)
        assert version is not None, (tmp_path / "kube-apiserver.log").read_text()[-3000:]
        major, minor = k8s_build.KUBERNETES_VERSION.removeprefix("v").split(".")[:2]
        assert version["gitVersion"] == k8s_build.KUBERNETES_VERSION
        assert (version["major"], version["minor"]) == (major, minor)
    finally:
        for p in reversed(procs):
            p.terminate()
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        for fh in logs.values():
            fh.close()
