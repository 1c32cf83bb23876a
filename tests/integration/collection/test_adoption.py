"""An instance laid out as rhpds.litemaas 0.1.2 leaves it in `rhpds` is adopted, not duplicated."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from kubeobjects import secret_data
from sandbox import Sandbox
from waiting import wait_until

from .playrun import assert_ok, deploy, remove

pytestmark = pytest.mark.integration

NS = "rhpds"
# 0.1.2 evaluated its password lookup once per reference: POSTGRES_PASSWORD and the URLs disagree.
# The database really has the password of litellm-secret's DATABASE_URL.
REAL_PASSWORD = "RealPasswordInDatabaseUrl0123456"
STALE_PASSWORD = "StalePasswordNeverUsedByTheDb987"


def _b64(values: dict[str, str]) -> dict[str, str]:
    return {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}


def lay_out_0_1_2_instance(sandbox: Sandbox) -> dict[str, Any]:
    """The objects 0.1.2's workload.yml creates (ORIGINAL-COLLECTION.md), created directly."""
    kube = sandbox.kube()
    host = f"litellm-rhpds.{sandbox.domain}"
    kube.create(
        "/api/v1/namespaces",
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": NS, "labels": {"app": "litemaas", "workload": "litemaas"}},
        },
    )
    litellm_secret = {
        "LITELLM_MASTER_KEY": "sk-legacyMasterKey0123456789abcdef",
        "UI_USERNAME": "admin",
        "UI_PASSWORD": "LegacyUiPassword",
        "DATABASE_URL": f"postgresql://litemaas:{REAL_PASSWORD}@postgres:5432/litellm_db",
    }
    postgres_secret = {
        "POSTGRES_PASSWORD": STALE_PASSWORD,
        "DATABASE_URL": f"postgresql://litemaas:{STALE_PASSWORD}@postgres:5432/litemaas?sslmode=disable",
    }
    for name, data in (("litellm-secret", litellm_secret), ("postgres-secret", postgres_secret)):
        kube.create(
            f"/api/v1/namespaces/{NS}/secrets",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": name, "labels": {"app": name.split("-")[0]}},
                "type": "Opaque",
                "data": _b64(data),
            },
        )
    for name, port in (("postgres", 5432), ("litellm", 4000)):
        kube.create(
            f"/api/v1/namespaces/{NS}/services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name, "labels": {"app": name}},
                "spec": {
                    "selector": {"app": name},
                    "ports": [
                        {
                            "name": "http" if port == 4000 else "postgres",
                            "port": port,
                            "targetPort": port,
                        }
                    ],
                },
            },
        )
    kube.create(
        f"/apis/apps/v1/namespaces/{NS}/statefulsets",
        {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": {"name": "postgres", "labels": {"app": "postgres"}},
            "spec": {
                "serviceName": "postgres",
                "replicas": 1,
                "selector": {"matchLabels": {"app": "postgres"}},
                "template": {
                    "metadata": {"labels": {"app": "postgres"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "postgres",
                                "image": "postgres:16",
                                "ports": [{"containerPort": 5432, "name": "postgres"}],
                                "env": [
                                    {
                                        "name": "POSTGRES_PASSWORD",
                                        "valueFrom": {
                                            "secretKeyRef": {
                                                "name": "postgres-secret",
                                                "key": "POSTGRES_PASSWORD",
                                            }
                                        },
                                    },
                                    {"name": "POSTGRES_USER", "value": "litemaas"},
                                    {"name": "POSTGRES_DB", "value": "litemaas"},
                                    {"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"},
                                ],
                                "volumeMounts": [
                                    {
                                        "name": "postgres-storage",
                                        "mountPath": "/var/lib/postgresql/data",
                                    }
                                ],
                            }
                        ]
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "postgres-storage", "labels": {"app": "postgres"}},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "storageClassName": "gp3-csi",
                            "resources": {"requests": {"storage": "10Gi"}},
                        },
                    }
                ],
            },
        },
    )
    kube.create(
        f"/apis/apps/v1/namespaces/{NS}/deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "litellm", "labels": {"app": "litellm"}},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "litellm"}},
                "template": {
                    "metadata": {"labels": {"app": "litellm"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "litellm",
                                "image": "ghcr.io/berriai/litellm-non_root:main-v1.74.7-stable",
                                "ports": [{"containerPort": 4000, "name": "http"}],
                                "env": [
                                    {
                                        "name": k,
                                        "valueFrom": {
                                            "secretKeyRef": {"name": "litellm-secret", "key": k}
                                        },
                                    }
                                    for k in ("LITELLM_MASTER_KEY", "UI_USERNAME", "UI_PASSWORD")
                                ],
                            }
                        ]
                    },
                },
            },
        },
    )
    kube.create(
        f"/apis/route.openshift.io/v1/namespaces/{NS}/routes",
        {
            "apiVersion": "route.openshift.io/v1",
            "kind": "Route",
            "metadata": {"name": "litellm", "labels": {"app": "litellm"}},
            "spec": {
                "host": host,
                "to": {"kind": "Service", "name": "litellm"},
                "port": {"targetPort": "http"},
                "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"},
            },
        },
    )
    pvc_path = f"/api/v1/namespaces/{NS}/persistentvolumeclaims/postgres-storage-postgres-0"
    pvc = wait_until(
        lambda: (p := kube.get(pvc_path)) and p["status"].get("phase") == "Bound" and p,
        timeout=60,
        what="0.1.2 PVC bound",
    )
    return {"host": host, "litellm_secret": litellm_secret, "pvc_uid": pvc["metadata"]["uid"]}


def test_0_1_2_instance_in_rhpds_is_adopted_in_place(
    sandbox_aws: Sandbox, module_workdir: Path
) -> None:
    kube = sandbox_aws.kube()
    legacy = lay_out_0_1_2_instance(sandbox_aws)
    try:
        run = deploy(sandbox_aws, module_workdir)  # no namespace given, as 0.1.2 users run it
        assert_ok(run)
        assert "converging that instance in place" in run.stdout
        assert kube.get("/api/v1/namespaces/litemaas") is None  # no second instance
        assert run.set_stats["litemaas"]["namespace"] == NS
        # The values that work today are kept; the database password is the URL's one everywhere.
        litellm = secret_data(sandbox_aws.kube(), NS, "litellm-secret")
        assert litellm == legacy["litellm_secret"]
        postgres = secret_data(sandbox_aws.kube(), NS, "postgres-secret")
        assert postgres["POSTGRES_PASSWORD"] == REAL_PASSWORD
        assert urlsplit(postgres["DATABASE_URL"]).password == REAL_PASSWORD
        # The Route keeps its host, the volume (the data) is the same claim.
        route = kube.get(f"/apis/route.openshift.io/v1/namespaces/{NS}/routes/litellm")
        assert route["spec"]["host"] == legacy["host"]
        assert run.set_stats["litemaas"]["admin_url"] == f"https://{legacy['host']}"
        pvc = kube.get(
            f"/api/v1/namespaces/{NS}/persistentvolumeclaims/postgres-storage-postgres-0"
        )
        assert pvc["metadata"]["uid"] == legacy["pvc_uid"]
        sts = kube.get(f"/apis/apps/v1/namespaces/{NS}/statefulsets/postgres")
        env = {
            e["name"]: e.get("value")
            for e in sts["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env["PGDATA"] == "/var/lib/postgresql/data/pgdata"
        assert sts["metadata"]["labels"]["litemaas.rhpds.io/instance"] == NS

        again = deploy(sandbox_aws, module_workdir)
        assert_ok(again)
        assert again.changed == 0, again.changed_tasks()
        assert secret_data(sandbox_aws.kube(), NS, "litellm-secret") == legacy["litellm_secret"]
    finally:
        assert_ok(remove(sandbox_aws, module_workdir))
    assert kube.get(f"/api/v1/namespaces/{NS}") is None
