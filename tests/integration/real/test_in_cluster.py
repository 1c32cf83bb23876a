"""Pods reach the API server as on a cluster: `kubernetes.default.svc` and the KUBERNETES_SERVICE_*
variables, TLS verified with the mounted cluster CA, authenticated by the mounted service-account
token and authorised by real RBAC; and the controller's image, run as a pod, knows its namespace."""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubeobjects import make_namespace
from sandbox import Sandbox
from sandbox.agent.kube import Kube
from waiting import wait_until

from .podkit import pod_processes, ready, wait_for_default_service_account

pytestmark = pytest.mark.integration

IMAGE = "litemaas-controller:test"

# Runs in the pod with only what the pod has: the mount, the variables, the names.
PROBE = r"""
import json, os, ssl, sys, time, urllib.error, urllib.request
from pathlib import Path

SA = Path("/var/run/secrets/kubernetes.io/serviceaccount")


def say(**what):
    print(json.dumps(what), flush=True)


say(
    mounted=sorted(p.name for p in SA.iterdir()) if SA.is_dir() else [],
    env={k: v for k, v in os.environ.items() if k.startswith("KUBERNETES_SERVICE")},
    python=sys.executable,
)
if not SA.is_dir():
    sys.exit(0)
namespace = (SA / "namespace").read_text()
path = f"/api/v1/namespaces/{namespace}/configmaps"


def by_name():
    # https://kubernetes.default.svc, the mounted CA and token: nothing else
    token = (SA / "token").read_text()
    request = urllib.request.Request(
        "https://kubernetes.default.svc" + path, headers={"Authorization": "Bearer " + token}
    )
    context = ssl.create_default_context(cafile=str(SA / "ca.crt"))
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        if exc.code == 403:  # who the API server took the pod for
            say(forbidden=json.loads(exc.read())["message"])
        return exc.code


from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from litemaas_controller.config.sources import load_settings

config.load_incluster_config()
core = client.CoreV1Api()


def in_cluster():
    try:
        core.list_namespaced_config_map(namespace)
        return 200
    except ApiException as exc:
        return exc.status


def own_namespace(environ):
    return load_settings(environ={**environ, "LITEMAAS_API_TOKEN": "t" * 32}).namespace


plain = {k: v for k, v in os.environ.items() if k != "LITEMAAS_NAMESPACE"}
say(
    host=core.api_client.configuration.host,
    settings={"downward_api": own_namespace(os.environ), "mount": own_namespace(plain)},
    before={"by_name": by_name(), "in_cluster": in_cluster()},
)
for _ in range(300):  # until the test grants the Role (at most a minute)
    if in_cluster() == 200:
        break
    time.sleep(0.2)
say(after={"by_name": by_name(), "in_cluster": in_cluster()})
"""


@pytest.fixture(scope="module")
def ns(sandbox_real: Sandbox) -> Iterator[str]:
    kube = sandbox_real.kube()
    name = make_namespace(kube, f"incluster-{uuid.uuid4().hex[:6]}")
    wait_for_default_service_account(kube, name)
    kube.create(
        f"/api/v1/namespaces/{name}/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader"}},
    )
    wait_until(
        lambda: (kube.get(f"/api/v1/namespaces/{name}/serviceaccounts/reader") or {}).get(
            "secrets"
        ),
        what="the reader service account's token Secret",
    )
    yield name
    kube.delete(f"/api/v1/namespaces/{name}")


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    container = {
        "name": "main",
        "image": IMAGE,
        "command": ["python", "-c", PROBE],
        "env": [
            {
                "name": "LITEMAAS_NAMESPACE",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
            }
        ],
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [container], **spec},
    }


def _said(box: Sandbox, ns: str, pod: str, key: str) -> dict[str, Any]:
    """The first line the pod printed that holds `key`."""
    log = box.directory / "logs" / "pods" / f"{ns}_{pod}_main.log"

    def find() -> dict[str, Any] | None:
        lines = log.read_text().splitlines() if log.exists() else []
        found = [json.loads(line) for line in lines if line.startswith(f'{{"{key}"')]
        return found[0] if found else None

    return wait_until(find, timeout=60, what=f"{pod} says {key} (log: {log})")


def _finished(kube: Kube, ns: str, pod: str) -> dict[str, Any]:
    found: dict[str, Any] = wait_until(
        lambda: (
            (p := kube.get(f"/api/v1/namespaces/{ns}/pods/{pod}"))
            and p["status"].get("phase") in ("Succeeded", "Failed")
            and p
        ),
        what=f"{pod} finished",
    )
    return found


def test_a_pod_reaches_the_api_server_with_its_service_account(
    sandbox_real: Sandbox, ns: str
) -> None:
    kube = sandbox_real.kube()
    kube.create(f"/api/v1/namespaces/{ns}/pods", _pod("probe", serviceAccountName="reader"))

    service = kube.get("/api/v1/namespaces/default/services/kubernetes")
    assert service is not None
    cluster_ip = service["spec"]["clusterIP"]
    first = _said(sandbox_real, ns, "probe", "mounted")
    assert first["mounted"] == ["ca.crt", "namespace", "token"]
    assert first["env"]["KUBERNETES_SERVICE_HOST"] == cluster_ip
    assert first["env"]["KUBERNETES_SERVICE_PORT"] == "443"
    assert first["python"] == "/opt/app-root/bin/python"  # the image's venv, where the image has it

    before = _said(sandbox_real, ns, "probe", "host")
    assert before["host"] == f"https://{cluster_ip}:443"
    # Authenticated as system:serviceaccount:<ns>:reader, which no Role allows yet.
    assert before["before"] == {"by_name": 403, "in_cluster": 403}
    forbidden = _said(sandbox_real, ns, "probe", "forbidden")["forbidden"]
    assert f'User "system:serviceaccount:{ns}:reader" cannot list' in forbidden
    assert before["settings"] == {"downward_api": ns, "mount": ns}

    kube.create(
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "read-configmaps"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
        },
    )
    kube.create(
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "reader"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "read-configmaps",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}],
        },
    )
    assert _said(sandbox_real, ns, "probe", "after")["after"] == {"by_name": 200, "in_cluster": 200}
    assert _finished(kube, ns, "probe")["status"]["phase"] == "Succeeded"

    # The Service's endpoint is the API server on the pod network, as its reconciler writes it.
    endpoints = kube.get("/api/v1/namespaces/default/endpoints/kubernetes")
    assert endpoints is not None
    (subset,) = endpoints["subsets"]
    subnet = json.loads((sandbox_real.directory / "network.json").read_text())["subnet"]
    assert ipaddress.ip_address(subset["addresses"][0]["ip"]) in ipaddress.ip_network(subnet)
    assert subset["ports"][0]["port"] == service["spec"]["ports"][0]["targetPort"]


def test_automount_false_gives_no_token(sandbox_real: Sandbox, ns: str) -> None:
    kube = sandbox_real.kube()
    pod = _pod("no-token", serviceAccountName="reader", automountServiceAccountToken=False)
    kube.create(f"/api/v1/namespaces/{ns}/pods", pod)
    assert _finished(kube, ns, "no-token")["status"]["phase"] == "Succeeded"
    assert _said(sandbox_real, ns, "no-token", "mounted")["mounted"] == []


def test_the_controller_image_serves_in_a_pod(sandbox_real: Sandbox, ns: str) -> None:
    """The image's own ENTRYPOINT (`litemaas-controller serve`), as its user, Ready through its
    probe, knowing its namespace from the downward API, its cluster watch started on the
    in-cluster configuration (API discovery as the pod's ServiceAccount)."""
    kube = sandbox_real.kube()
    env = {
        "LITEMAAS_API_TOKEN": uuid.uuid4().hex,
        "LITEMAAS_LISTEN": "0.0.0.0:8080",
        "LITEMAAS_STATE_DIR": "/state",
        "LITEMAAS_HEALING": "observe",
    }
    container = {
        "name": "main",
        "image": IMAGE,
        "env": [
            *({"name": k, "value": v} for k, v in env.items()),
            {
                "name": "LITEMAAS_NAMESPACE",
                "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
            },
        ],
        "volumeMounts": [{"name": "state", "mountPath": "/state"}],
        "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 1},
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "controller"},
        "spec": {"containers": [container], "volumes": [{"name": "state", "emptyDir": {}}]},
    }
    kube.create(f"/api/v1/namespaces/{ns}/pods", pod)
    ready(kube, ns, "controller", timeout=60)
    log = sandbox_real.directory / "logs" / "pods" / f"{ns}_controller_main.log"
    assert f"own namespace: {ns}" in log.read_text()
    wait_until(lambda: "cluster watch started" in log.read_text(), what="the cluster watch")
    (process,) = pod_processes(sandbox_real, kube.get(f"/api/v1/namespaces/{ns}/pods/controller"))
    status = Path(f"/proc/{process}/status").read_text()
    assert "\nUid:\t1001\t" in status and "\nGid:\t0\t" in status
