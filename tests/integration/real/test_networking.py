"""Pod networking for real: Service names per namespace, and Route hosts through the router."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

import pytest

from kubeobjects import has_ready_endpoints, make_namespace
from sandbox import Sandbox
from sandbox.agent.kube import Kube
from sandbox.real import LABEL
from waiting import wait_until

from .podkit import condition, netns_inode, wait_for_default_service_account

pytestmark = pytest.mark.integration


def _database(ns: str) -> list[dict[str, Any]]:
    """A PostgreSQL Deployment and its Service `db`, ready when its port answers (tcpSocket)."""
    labels = {"app": "db"}
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "db", "namespace": ns},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "postgres",
                                "image": "docker.io/library/postgres:16",
                                "env": [{"name": "POSTGRES_HOST_AUTH_METHOD", "value": "trust"}],
                                "ports": [{"containerPort": 5432}],
                                "readinessProbe": {
                                    "tcpSocket": {"port": 5432},
                                    "periodSeconds": 1,
                                },
                            }
                        ]
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "db", "namespace": ns},
            "spec": {"selector": labels, "ports": [{"port": 5432, "targetPort": 5432}]},
        },
    ]


# Asks `db` which address answered, and where `db.<other namespace>` points; fails on a mismatch.
ASK = """
set -eu
here=$(psql -h db -U postgres -d postgres -Atc 'SELECT host(inet_server_addr())')
echo "db answered from $here"
test "$here" = "$EXPECTED"
set -- $(getent hosts "db.$OTHER.svc.cluster.local")
test "$1" = "$EXPECTED_OTHER"
"""


def _ask(ns: str, expected: str, other: str, expected_other: str) -> dict[str, Any]:
    env = {"EXPECTED": expected, "OTHER": other, "EXPECTED_OTHER": expected_other}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "ask", "namespace": ns},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {
                            "name": "ask",
                            "image": "postgres:16",
                            "command": ["sh", "-c", ASK],
                            "env": [{"name": k, "value": v} for k, v in env.items()],
                        }
                    ],
                }
            },
        },
    }


def _create(kube: Kube, obj: dict[str, Any]) -> None:
    plural = {"Deployment": "deployments", "Service": "services", "Job": "jobs"}[obj["kind"]]
    group = "/api/v1" if obj["apiVersion"] == "v1" else f"/apis/{obj['apiVersion']}"
    kube.create(f"{group}/namespaces/{obj['metadata']['namespace']}/{plural}", obj)


def _db_pod(kube: Kube, ns: str) -> dict[str, Any] | None:
    items = kube.list(f"/api/v1/namespaces/{ns}/pods?labelSelector=app%3Ddb")["items"]
    return items[0] if items and condition(items[0], "Ready") else None


def test_service_name_resolves_to_the_pod_of_each_namespace(sandbox_aws: Sandbox) -> None:
    """On a simulated sandbox, namespaces labelled for it run real pods; others stay simulated."""
    kube = sandbox_aws.kube()
    first, second, plain = (f"dns-{uuid.uuid4().hex[:6]}" for _ in range(3))
    for ns in (first, second):
        kube.create(
            "/api/v1/namespaces",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {LABEL: "true"}},
            },
        )
    make_namespace(kube, plain)
    for ns in (first, second, plain):
        for obj in _database(ns):
            _create(kube, obj)
    pods = {
        ns: wait_until(lambda ns=ns: _db_pod(kube, ns), timeout=90, what=f"db Ready in {ns}")
        for ns in (first, second, plain)
    }
    ips = {ns: p["status"]["podIP"] for ns, p in pods.items()}
    assert ips[first] != ips[second]
    netns_inode(sandbox_aws, pods[first])  # real pods have a network namespace...
    with pytest.raises(FileNotFoundError):
        netns_inode(sandbox_aws, pods[plain])  # ...the unlabelled namespace's pod is simulated
    for ns, other in ((first, second), (second, first)):
        _create(kube, _ask(ns, ips[ns], other, ips[other]))
    for ns in (first, second):
        job = wait_until(
            lambda ns=ns: (
                (j := kube.get(f"/apis/batch/v1/namespaces/{ns}/jobs/ask"))
                and (j["status"].get("succeeded") or j["status"].get("failed"))
                and j
            ),
            timeout=90,
            what=f"job in {ns} finished",
        )
        assert job["status"].get("succeeded") == 1, f"lookup in {ns} failed: {job['status']}"
    for ns in (first, second, plain):
        kube.delete(f"/api/v1/namespaces/{ns}")


def _web(ns: str, token: str) -> list[dict[str, Any]]:
    labels = {"app": "web"}
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "site", "namespace": ns},
            "data": {"index.html": f"<p>{token}</p>\n"},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "containers": [
                            {
                                "name": "web",
                                "image": "python:3.11-slim",
                                "command": ["python3", "-m", "http.server", "8080"],
                                "workingDir": "/srv",
                                "ports": [{"name": "http", "containerPort": 8080}],
                                "readinessProbe": {
                                    "httpGet": {"path": "/", "port": "http"},
                                    "periodSeconds": 1,
                                },
                                "volumeMounts": [{"name": "site", "mountPath": "/srv"}],
                            }
                        ],
                        "volumes": [{"name": "site", "configMap": {"name": "site"}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {
                "selector": labels,
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}],
            },
        },
        {
            "apiVersion": "route.openshift.io/v1",
            "kind": "Route",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {
                "to": {"kind": "Service", "name": "web"},
                "port": {"targetPort": "http"},
                "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"},
            },
        },
    ]


def _only_sandbox_env(box: Sandbox) -> dict[str, str]:
    """The caller's environment without any proxy or CA settings of its own, plus `.sandbox/env`."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if "proxy" not in k.lower()
        and k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
    }
    return {**keep, **box.env()}


def test_tls_route_host_and_service_names_answer_through_the_router(sandbox_real: Sandbox) -> None:
    kube = sandbox_real.kube()
    ns, token = f"web-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    make_namespace(kube, ns)
    for obj in _web(ns, token):
        kind = obj["kind"]
        path = {
            "ConfigMap": f"/api/v1/namespaces/{ns}/configmaps",
            "Deployment": f"/apis/apps/v1/namespaces/{ns}/deployments",
            "Service": f"/api/v1/namespaces/{ns}/services",
            "Route": f"/apis/route.openshift.io/v1/namespaces/{ns}/routes",
        }[kind]
        kube.create(path, obj)
    host = f"web-{ns}.{sandbox_real.domain}"
    wait_until(lambda: has_ready_endpoints(kube, ns, "web"), timeout=60, what="a ready web pod")
    env = _only_sandbox_env(sandbox_real)
    curl = subprocess.run(
        ["curl", "-sS", "--max-time", "10", f"https://{host}/"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert curl.returncode == 0, curl.stderr
    assert token in curl.stdout
    python = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import urllib.request; print(urllib.request.urlopen('https://{host}/').read())",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert python.returncode == 0, python.stderr
    assert token in python.stdout
    redirect = subprocess.run(
        [
            "curl",
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
            f"http://{host}/x",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert redirect.stdout == f"302 https://{host}/x"
    unknown = subprocess.run(
        ["curl", "-sS", f"https://nothing-here.{sandbox_real.domain}/"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert unknown.returncode != 0 and "503" in unknown.stderr

    # The Service by its cluster DNS names, as from a pod: Service port 80 → targetPort http.
    def via_service(url: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["curl", "-sS", "--max-time", "10", "-w", "\n%{http_code}", url],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )

    for name in (f"web.{ns}.svc", f"web.{ns}.svc.cluster.local"):
        answer = via_service(f"http://{name}/")
        assert answer.returncode == 0, answer.stderr
        assert token in answer.stdout and answer.stdout.endswith("\n200")
    assert via_service(f"http://web.{ns}.svc:8080/").stdout.endswith("\n503")  # no such port
    assert via_service(f"http://nothing.{ns}.svc/").stdout.endswith("\n503")
    kube.delete(f"/api/v1/namespaces/{ns}")


def test_ingress_hosts_answer_through_the_router(sandbox_vanilla: Sandbox) -> None:
    """Plain Kubernetes: an Ingress host with TLS (sandbox CA) and one without, in a namespace
    labelled for real pods on an otherwise simulated sandbox."""
    kube = sandbox_vanilla.kube()
    ns, token = f"ing-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex
    kube.create(
        "/api/v1/namespaces",
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns, "labels": {LABEL: "true"}},
        },
    )
    wait_for_default_service_account(kube, ns)
    secure, plain = f"secure-{ns}.{sandbox_vanilla.domain}", f"plain-{ns}.{sandbox_vanilla.domain}"
    objects = [o for o in _web(ns, token) if o["kind"] != "Route"]
    backend = {"service": {"name": "web", "port": {"number": 80}}}
    objects.append(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "web", "namespace": ns},
            "spec": {
                "tls": [{"hosts": [secure]}],
                "rules": [
                    {
                        "host": h,
                        "http": {
                            "paths": [{"path": "/", "pathType": "Prefix", "backend": backend}]
                        },
                    }
                    for h in (secure, plain)
                ],
            },
        }
    )
    for obj in objects:
        plural = {"ConfigMap": "configmaps", "Deployment": "deployments", "Service": "services"}
        group = "/api/v1" if obj["apiVersion"] == "v1" else f"/apis/{obj['apiVersion']}"
        kube.create(f"{group}/namespaces/{ns}/{plural.get(obj['kind'], 'ingresses')}", obj)
    wait_until(lambda: has_ready_endpoints(kube, ns, "web"), timeout=60, what="a ready web pod")
    env = _only_sandbox_env(sandbox_vanilla)
    for url in (f"https://{secure}/", f"http://{plain}/"):
        curl = subprocess.run(
            ["curl", "-sS", "--max-time", "10", url],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert curl.returncode == 0, f"{url}: {curl.stderr}"
        assert token in curl.stdout
    kube.delete(f"/api/v1/namespaces/{ns}")
