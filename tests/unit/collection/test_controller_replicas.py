"""Several controller replicas on a PostgreSQL ledger, as the install makes them: the filters
controller_ledger and controller_objects (role litemaas_controller) on deploy/controller/."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from ansible.errors import AnsibleFilterError

import filterplugins

from .test_controller_objects import by_kind, documents, options

pytestmark = pytest.mark.unit

F = filterplugins.load("controller")
L = filterplugins.load("controller_ledger")

URL = "postgresql://ctl@db.example:5432/ledger?sslmode=require"
#: a password that only the Secret holds: it must show nowhere in the objects
CANARY = "pw-canary-5c1f"


def choice(**changes: Any) -> dict[str, Any]:
    return {
        "namespace": "ctl",
        "kind": "postgresql",
        "replicas": 3,
        "url": URL,
        "password_secret": "ledger-db",
        "password_key": "password",
        "image": "postgres:16",
        "settings": {},
        **changes,
    }


def wanted(**changes: Any) -> dict[str, Any]:
    ledger = L.controller_ledger(choice(**changes))
    return options(ledger=ledger, postgresql_storage_size="3Gi", postgresql_storage_class="")


def render(**changes: Any) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """The objects by kind (one of each here, but for PersistentVolumeClaims), and the unwanted."""
    objects = F.controller_objects(documents(), wanted(**changes))
    return by_kind(objects), F.controller_unwanted(documents(), wanted(**changes))


def pod_of(objects: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return dict(objects["Deployment"]["spec"]["template"])


def assert_no_password(objects: dict[str, dict[str, Any]]) -> None:
    text = json.dumps(list(objects.values()))
    assert CANARY not in text
    # no URL with a user:password, no password= in a query, no password given as a literal value
    assert not re.search(r"postgres(ql)?://[^@/\s\"]*:[^@/\s\"]*@", text)
    assert "password=" not in text.lower()
    for obj in objects.values():
        for container in (
            obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        ):
            for env in container.get("env", []):
                if "PASSWORD" in env["name"] and not env["name"].endswith("_FILE"):
                    assert "value" not in env and env["valueFrom"]["secretKeyRef"], env["name"]


def test_three_replicas_on_an_existing_postgresql() -> None:
    objects, unwanted = render()
    deployment, pod = objects["Deployment"], pod_of(objects)
    assert deployment["spec"]["replicas"] == 3 and not unwanted
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    (preferred,) = pod["spec"]["affinity"]["podAntiAffinity"][
        "preferredDuringSchedulingIgnoredDuringExecution"
    ]
    term = preferred["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    budget = objects["PodDisruptionBudget"]["spec"]
    assert budget["maxUnavailable"] == 1
    assert budget["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    # the ledger: its URL and password file in the settings, the named Secret's key as that file
    config = objects["ConfigMap"]["data"]
    assert config["LITEMAAS_LEDGER_URL"] == URL
    password_file = config["LITEMAAS_LEDGER_PASSWORD_FILE"]
    (container,) = pod["spec"]["containers"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    secret = volumes["ledger-password"]["secret"]
    assert secret["secretName"] == "ledger-db"
    (item,) = secret["items"]
    assert item["key"] == "password"
    assert password_file == f"{mounts['ledger-password']['mountPath']}/{item['path']}"
    assert mounts["ledger-password"]["readOnly"] is True
    # no shared volume: the SQLite claim is neither mounted nor made (nor deleted: not unwanted)
    assert volumes["state"] == {"name": "state", "emptyDir": {}}
    assert "PersistentVolumeClaim" not in objects
    env = {e["name"]: e for e in container["env"]}
    assert env["LITEMAAS_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert env["LITEMAAS_REPLICA"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    lease = objects["Role"]
    assert lease["metadata"]["namespace"] == "ctl"
    assert {"coordination.k8s.io"} == {g for r in lease["rules"] for g in r["apiGroups"]}
    assert "StatefulSet" not in objects  # no PostgreSQL of its own
    assert_no_password(objects)


def test_one_replica_has_no_disruption_budget_and_going_back_to_one_removes_it() -> None:
    for kind in ("sqlite", "postgresql", "postgresql_beside"):
        objects, unwanted = render(kind=kind, replicas=1)
        assert "PodDisruptionBudget" not in objects, kind
        assert [(o["kind"], o["metadata"]["namespace"]) for o in unwanted] == [
            ("PodDisruptionBudget", "ctl")
        ]
        assert unwanted[0]["apiVersion"] == "policy/v1beta1"
    sqlite = render(kind="sqlite", replicas=1)[0]["Deployment"]["spec"]
    assert sqlite["replicas"] == 1 and sqlite["strategy"]["type"] == "Recreate"


def test_sqlite_refuses_more_than_one_replica() -> None:
    with pytest.raises(AnsibleFilterError, match="litemaas_controller_replicas is 3") as refused:
        L.controller_ledger(choice(kind="sqlite"))
    assert "litemaas_controller_ledger" in str(refused.value)


def test_a_postgresql_beside_comes_first_and_reads_its_password_from_its_secret() -> None:
    ordered = F.controller_objects(documents(), wanted(kind="postgresql_beside"))
    kinds = [o["kind"] for o in ordered]
    assert kinds.index("StatefulSet") < kinds.index("Deployment")  # the install waits in order
    objects = by_kind(ordered)
    host = "litemaas-controller-postgresql.ctl.svc"
    url = f"postgresql://litemaas@{host}:5432/litemaas_controller"
    assert objects["ConfigMap"]["data"]["LITEMAAS_LEDGER_URL"] == url
    pod = objects["StatefulSet"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "postgres:16"
    env = {e["name"]: e for e in container["env"]}
    for name in ("POSTGRES_PASSWORD", "POSTGRESQL_PASSWORD"):
        assert env[name]["valueFrom"]["secretKeyRef"] == {
            "name": "litemaas-controller-postgresql",
            "key": "password",
        }
    assert pod_of(objects)["spec"]["volumes"][-1]["secret"]["secretName"] == (
        "litemaas-controller-postgresql"
    )
    assert env["PGDATA"]["value"].startswith(container["volumeMounts"][0]["mountPath"] + "/")
    claim = pod["volumes"][0]["persistentVolumeClaim"]["claimName"]
    claims = [o for o in ordered if o["kind"] == "PersistentVolumeClaim"]  # not the SQLite one
    assert [
        (c["metadata"]["name"], c["spec"]["resources"]["requests"]["storage"]) for c in claims
    ] == [(claim, "3Gi")]
    assert_no_password(objects)
    sclorg = render(kind="postgresql_beside", image="registry.example/rhel9/postgresql-16:1-40")[0]
    (container,) = sclorg["StatefulSet"]["spec"]["template"]["spec"]["containers"]
    assert container["volumeMounts"][0]["mountPath"] == "/var/lib/pgsql/data"
    assert "PGDATA" not in {e["name"] for e in container["env"]}


HOSTILE = [
    ({"url": f"postgresql://ctl:{CANARY}@db.example/ledger"}, "litemaas_controller_ledger_url"),
    (
        {"url": f"postgresql://ctl@db.example/ledger?password={CANARY}"},
        "litemaas_controller_ledger_url",
    ),
    ({"url": "mysql://ctl@db.example/ledger"}, "litemaas_controller_ledger_url"),
    ({"url": "postgresql://ctl@db.example/ledger\nx: 1"}, "litemaas_controller_ledger_url"),
    ({"url": "postgresql:///ledger"}, "litemaas_controller_ledger_url"),
    ({"password_secret": "../kube-system/x"}, "litemaas_controller_ledger_password_secret"),
    ({"password_secret": "Ledger-DB"}, "litemaas_controller_ledger_password_secret"),
    ({"password_secret": ""}, "litemaas_controller_ledger_password_secret"),
    ({"password_key": "../token"}, "litemaas_controller_ledger_password_key"),
    ({"password_key": ".."}, "litemaas_controller_ledger_password_key"),
    ({"replicas": 0}, "litemaas_controller_replicas"),
    ({"replicas": -1}, "litemaas_controller_replicas"),
    ({"replicas": "3; rm -rf /"}, "litemaas_controller_replicas"),
    ({"replicas": True}, "litemaas_controller_replicas"),
    ({"replicas": "1e3"}, "litemaas_controller_replicas"),
    ({"kind": "mysql"}, "litemaas_controller_ledger"),
    ({"settings": {"LITEMAAS_LEDGER_URL": "sqlite:///x"}}, "litemaas_controller_settings"),
    ({"kind": "postgresql_beside", "image": "postgres:16; rm -rf /"}, "postgresql_image"),
    ({"kind": "postgresql_beside", "image": "registry.example/mysql:8"}, "postgresql_image"),
    ({"kind": "postgresql_beside", "image": "{{ lookup('pipe', 'id') }}"}, "postgresql_image"),
]


@pytest.mark.parametrize(("changes", "variable"), HOSTILE)
def test_hostile_values_are_refused_by_name_without_echo(
    changes: dict[str, Any], variable: str
) -> None:
    with pytest.raises(AnsibleFilterError) as refused:
        L.controller_ledger(choice(**changes))
    message = str(refused.value)
    assert variable in message
    assert CANARY not in message and "rm -rf" not in message and "lookup" not in message


def test_ordinary_values_are_taken() -> None:
    for url in (
        "postgres://ctl@db:5432/l",
        "postgresql://ctl@[fd00::1]:5432/l?sslmode=verify-full",
    ):
        assert L.controller_ledger(choice(url=url))["url"] == url
    for image, layout in [
        ("postgres:16", "postgres"),
        ("mirror.example:5000/library/postgres:16-alpine", "postgres"),
        ("registry.example/rhel9/postgresql-16", "sclorg"),
        ("quay.example/sclorg/postgresql-16-c9s@sha256:" + "a" * 64, "sclorg"),
    ]:
        assert (
            L.controller_ledger(choice(kind="postgresql_beside", image=image))["layout"] == layout
        )
    assert L.controller_ledger(choice(kind="sqlite", replicas="1")) == {
        "kind": "sqlite",
        "replicas": 1,
    }
    assert yaml.safe_dump(L.controller_ledger(choice(password_secret="ledger.db-1")))
