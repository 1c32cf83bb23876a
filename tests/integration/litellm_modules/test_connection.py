"""How the modules find an instance's LiteLLM in the cluster (module_utils.litellm_connection),
against the sandbox's real kube-apiserver: Route (OpenShift) or Ingress (plain Kubernetes), the
master key from litellm-secret, and the errors that say what is missing."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import pytest

from kubeobjects import make_namespace
from sandbox import Sandbox

REPO = Path(__file__).resolve().parents[3]
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or str(REPO / ".venv" / "collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)

from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_connection import (  # noqa: E402
    Connection,
    ConnectionError_,
    Kube,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def namespace(sandbox_aws: Sandbox) -> str:
    return make_namespace(sandbox_aws.kube(), f"conn-{secrets.token_hex(4)}")


def params(sandbox: Sandbox, namespace: str, **extra: object) -> dict[str, object]:
    return {
        "namespace": namespace,
        "kubeconfig": str(sandbox.kubeconfig),
        "context": None,
        "url": None,
        "master_key": None,
        "validate_certs": True,
        "ca_path": None,
        "timeout": 10,
        **extra,
    }


def put_master_key(sandbox: Sandbox, namespace: str, key: str) -> None:
    sandbox.kube().create(
        f"/api/v1/namespaces/{namespace}/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "litellm-secret"},
            "stringData": {"LITELLM_MASTER_KEY": key},
        },
    )


def test_the_url_comes_from_the_route_with_tls(sandbox_aws: Sandbox, namespace: str) -> None:
    host = f"litellm-{namespace}.{sandbox_aws.domain}"
    sandbox_aws.kube().create(
        f"/apis/route.openshift.io/v1/namespaces/{namespace}/routes",
        {
            "apiVersion": "route.openshift.io/v1",
            "kind": "Route",
            "metadata": {"name": "litellm"},
            "spec": {
                "host": host,
                "to": {"kind": "Service", "name": "litellm"},
                "tls": {"termination": "edge"},
            },
        },
    )
    put_master_key(sandbox_aws, namespace, "sk-conn-route-key")
    connection = Connection(params(sandbox_aws, namespace))
    assert connection.url == f"https://{host}"
    assert connection.api.key == "sk-conn-route-key"


def test_the_url_comes_from_the_ingress_on_plain_kubernetes(
    sandbox_aws: Sandbox, namespace: str
) -> None:
    host = f"litellm-{namespace}.{sandbox_aws.domain}"
    sandbox_aws.kube().create(
        f"/apis/networking.k8s.io/v1/namespaces/{namespace}/ingresses",
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "litellm"},
            "spec": {
                "rules": [
                    {
                        "host": host,
                        "http": {
                            "paths": [
                                {
                                    "path": "/",
                                    "pathType": "Prefix",
                                    "backend": {
                                        "service": {"name": "litellm", "port": {"number": 4000}}
                                    },
                                }
                            ]
                        },
                    }
                ]
            },
        },
    )
    assert Kube(str(sandbox_aws.kubeconfig)).litellm_url(namespace) == f"http://{host}"


def test_an_explicit_url_wins_over_the_route(sandbox_aws: Sandbox, namespace: str) -> None:
    put_master_key(sandbox_aws, namespace, "sk-conn-explicit")
    connection = Connection(
        params(sandbox_aws, namespace, url=f"http://litellm.{namespace}.svc:4000/")
    )
    assert connection.url == f"http://litellm.{namespace}.svc:4000"


def test_without_route_or_ingress_the_error_says_what_is_missing(
    sandbox_aws: Sandbox, namespace: str
) -> None:
    put_master_key(sandbox_aws, namespace, "sk-conn-no-route")
    with pytest.raises(ConnectionError_, match="no Route or Ingress named litellm"):
        Connection(params(sandbox_aws, namespace))


def test_without_the_master_key_the_error_names_the_secret(
    sandbox_aws: Sandbox, namespace: str
) -> None:
    with pytest.raises(ConnectionError_, match=f"{namespace}/litellm-secret has no"):
        Connection(params(sandbox_aws, namespace))


def test_neither_url_nor_namespace_is_refused() -> None:
    with pytest.raises(ConnectionError_, match="either url and master_key, or namespace"):
        Connection({"url": "http://127.0.0.1:1", "master_key": None, "namespace": None})
