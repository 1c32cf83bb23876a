"""What the controller's install tests share (`controller_install/`, `e2e/test_in_cluster_e2e.py`):
the manifests of deploy/controller/ and their API paths, the ServiceAccount's token as a kubeconfig,
and the API server's answer to it."""

from __future__ import annotations

import base64
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from integration.collection.playrun import PlayRun
from sandbox import Sandbox

REPO = Path(__file__).resolve().parents[3]
NS = "litemaas-controller"
SA = f"system:serviceaccount:{NS}:litemaas-controller"
#: the sandbox's own actors, which act on every namespace (pods, tokens, garbage collection)
SYSTEM = {"system:kube-controller-manager", "system:node:sandbox-node"}
WRITES = {"create", "update", "patch", "delete", "deletecollection"}


def manifests() -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((REPO / "deploy/controller/kustomization.yaml").read_text())
    found = []
    for name in kustomization["resources"]:
        found += [
            d for d in yaml.safe_load_all((REPO / "deploy/controller" / name).read_text()) if d
        ]
    return found


def api_path(obj: dict[str, Any]) -> str:
    group, plural = obj["apiVersion"], obj["kind"].lower() + "s"
    plural = {
        "networkpolicys": "networkpolicies",
        "poddisruptionbudgets": "poddisruptionbudgets",
    }.get(plural, plural)
    group = "policy/v1beta1" if obj["kind"] == "PodDisruptionBudget" else group  # 1.20 serves this
    prefix = "/api/v1" if group == "v1" else f"/apis/{group}"
    namespace = obj["metadata"].get("namespace")
    where = f"/namespaces/{namespace}" if namespace else ""
    return f"{prefix}{where}/{plural}/{obj['metadata']['name']}"


def ok(run: PlayRun, box: Sandbox | None = None) -> PlayRun:
    """``run``, which must have succeeded; else what it printed, and with ``box`` the controller
    pods' state and logs (why a pod never got Ready)."""
    if run.failed:
        pods = controller_pods(box) if box is not None else ""
        raise AssertionError(f"playbook {run.status} (rc {run.rc}):\n{run.stdout[-3000:]}{pods}")
    return run


def controller_pods(box: Sandbox) -> str:
    """Each controller pod's phase, conditions and container states, and its log's tail."""
    lines = []
    for pod in box.kube().list(f"/api/v1/namespaces/{NS}/pods")["items"]:
        name, status = pod["metadata"]["name"], pod.get("status", {})
        lines.append(f"\npod {name}: {status.get('phase')} {status.get('conditions')}")
        lines.append(f"  containers: {status.get('containerStatuses')}")
        for log in (box.directory / "logs" / "pods").glob(f"{NS}_{name}_*.log"):
            lines.append(f"  {log.name}:\n{log.read_text(errors='replace')[-3000:]}")
    return "\n".join(lines)


@dataclass
class Installed:
    sandbox: Sandbox
    workdir: Path
    first: PlayRun
    second: PlayRun
    kubeconfig: Path  # the controller ServiceAccount's token, nothing else


def sa_kubeconfig(sandbox: Sandbox, workdir: Path) -> Path:
    """A kubeconfig holding only the token the token controller issued for the ServiceAccount."""
    secrets = sandbox.kube().list(f"/api/v1/namespaces/{NS}/secrets")["items"]
    (token,) = [
        s["data"]["token"]
        for s in secrets
        if s["type"] == "kubernetes.io/service-account-token"
        and s["metadata"]["annotations"]["kubernetes.io/service-account.name"]
        == "litemaas-controller"
    ]
    admin = yaml.safe_load(sandbox.kubeconfig.read_text())
    admin["users"] = [{"name": "controller", "user": {"token": base64.b64decode(token).decode()}}]
    admin["contexts"] = [
        {
            "name": "controller",
            "context": {"cluster": admin["clusters"][0]["name"], "user": "controller"},
        }
    ]
    admin["current-context"] = "controller"
    path = workdir / "controller.kubeconfig"
    path.write_text(yaml.safe_dump(admin))
    path.chmod(0o600)
    return path


def as_controller(installed: Installed) -> dict[str, str]:
    path = str(installed.kubeconfig)
    return {"KUBECONFIG": path, "K8S_AUTH_KUBECONFIG": path}


def status(installed: Installed, path: str) -> int:
    """The API server's answer to a GET of ``path`` with the controller's token."""
    config = yaml.safe_load(installed.kubeconfig.read_text())
    cluster, token = config["clusters"][0]["cluster"], config["users"][0]["user"]["token"]
    context = ssl.create_default_context(cafile=cluster["certificate-authority"])
    request = urllib.request.Request(
        cluster["server"] + path, headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, context=context, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code
