"""What an instance keeps from its existing objects (plugins/filter/layout.py): hosts, selectors,
container names and PostgreSQL's storage layout."""

from __future__ import annotations

from typing import Any

import pytest

import filterplugins

pytestmark = pytest.mark.unit

F = filterplugins.load("layout")

MARKUP = "{{ lookup('pipe', 'id') }}{% raw %}"


def _route(name: str, host: Any) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"host": host}}


def _ingress(name: str, host: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"rules": [{"host": host}]}}


def test_a_new_instance_gets_hosts_from_its_namespace_or_route_name() -> None:
    assert F.instance_hosts([], False, "ns", "apps.x") == {
        "litellm": "litellm-ns.apps.x",
        "frontend": "litemaas-ns.apps.x",
    }
    assert F.instance_hosts([], True, "ns", "apps.x") == {
        "litellm": "",
        "frontend": "litemaas-ns.apps.x",
    }
    assert F.instance_hosts([], True, "ns", "apps.x", "demo") == {
        "litellm": "litellm-demo.apps.x",
        "frontend": "litemaas-demo.apps.x",
    }


def test_existing_hosts_are_kept() -> None:
    routes = [_route("litellm", "old-llm.apps.y"), _route("litemaas", "old.apps.y")]
    expected = {"litellm": "old-llm.apps.y", "frontend": "old.apps.y"}
    assert F.instance_hosts(routes, True, "ns", "apps.x", "demo") == expected
    ingresses = [_ingress("litellm", "old-llm.apps.y"), _ingress("litemaas", "old.apps.y")]
    assert F.instance_hosts(ingresses, False, "ns", "apps.x") == expected
    # An OpenShift Route without a host yet does not count.
    assert (
        F.instance_hosts([_route("litemaas", "")], True, "ns", "d")["frontend"] == "litemaas-ns.d"
    )


@pytest.mark.parametrize(
    "exposures",
    [None, "junk", [None, 1, {}, {"metadata": None}, {"metadata": {"name": "litellm"}, "spec": 1}]],
)
def test_malformed_exposures_keep_no_host(exposures: Any) -> None:
    assert F.instance_hosts(exposures, False, "ns", "d") == {
        "litellm": "litellm-ns.d",
        "frontend": "litemaas-ns.d",
    }
    assert F.instance_hosts(exposures, False, "ns", "d") == F.instance_hosts([], False, "ns", "d")


def test_hosts_stay_literal_text() -> None:
    assert F.instance_hosts([_route("litemaas", MARKUP)], True, "ns", "d")["frontend"] == MARKUP


NEW = {
    "selectors": {
        "postgres": {"app": "postgres"},
        "litellm": {"app": "litellm"},
        "backend": {"app": "backend"},
        "frontend": {"app": "frontend"},
    },
    "containers": {
        "postgres": "postgres",
        "litellm": "litellm",
        "backend": "backend",
        "frontend": "frontend",
    },
    "postgres": {
        "existing": False,
        "claim": "postgres-storage",
        "service_name": "postgres",
        "mount_path": "/var/lib/postgresql/data",
        "pgdata": "/var/lib/postgresql/data/pgdata",
    },
}


def _workload(name: str, labels: dict[str, str], container: str, **pod: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {"spec": {"containers": [{"name": container, **pod}, {"name": "side"}]}},
        },
    }


def test_a_new_instance_gets_the_roles_layout() -> None:
    assert F.kept_layout([], []) == NEW


def test_existing_workloads_keep_selectors_containers_and_postgres_storage() -> None:
    deployments = [
        _workload("litellm", {"app": "litellm", "tier": "x"}, "proxy"),
        _workload("unrelated", {"app": "other"}, "other"),
    ]
    sts = _workload(
        "postgres-0.1",
        {"name": "db"},
        "pg",
        volumeMounts=[{"name": "other", "mountPath": "/x"}, {"name": "data", "mountPath": "/pg"}],
        env=[{"name": "PGDATA", "value": "/pg/d"}],
    )
    sts["spec"] |= {"serviceName": "db", "volumeClaimTemplates": [{"metadata": {"name": "data"}}]}
    layout = F.kept_layout(deployments, [sts])
    assert layout["selectors"] == {
        **NEW["selectors"],
        "litellm": {"app": "litellm", "tier": "x"},
        "postgres": {"name": "db"},
    }
    assert layout["containers"] == {**NEW["containers"], "litellm": "proxy", "postgres": "pg"}
    assert layout["postgres"] == {
        "existing": True,
        "claim": "data",
        "service_name": "db",
        "mount_path": "/pg",
        "pgdata": "/pg/d",
    }


def test_an_existing_postgres_without_pgdata_or_its_mount_keeps_its_image_defaults() -> None:
    sts = _workload("postgres", {"app": "postgres"}, "postgres", env=[{"name": "PGDATA"}])
    sts["spec"] |= {
        "serviceName": "postgres",
        "volumeClaimTemplates": [{"metadata": {"name": "v"}}],
    }
    assert F.kept_layout([], [sts])["postgres"] == {
        "existing": True,
        "claim": "v",
        "service_name": "postgres",
        "mount_path": "/var/lib/postgresql/data",
        "pgdata": "",
    }


@pytest.mark.parametrize(
    ("deployments", "statefulsets"),
    [
        (None, None),
        ("junk", "junk"),
        (
            [
                None,
                1,
                {"metadata": {"name": "litellm"}},
                {"metadata": {"name": "backend"}, "spec": 1},
            ],
            [],
        ),
        (
            [
                {
                    "metadata": {"name": "frontend"},
                    "spec": {"template": {"spec": {"containers": []}}},
                }
            ],
            [1],
        ),
    ],
)
def test_malformed_objects_keep_the_roles_layout(deployments: Any, statefulsets: Any) -> None:
    assert F.kept_layout(deployments, statefulsets) == NEW


def test_a_malformed_statefulset_still_counts_as_existing_data() -> None:
    layout = F.kept_layout([], [{"metadata": {"name": "postgres"}, "spec": {"template": None}}])
    assert layout["postgres"] == {**NEW["postgres"], "existing": True, "pgdata": ""}
    assert layout["selectors"] == NEW["selectors"]


def test_names_stay_literal_text() -> None:
    layout = F.kept_layout([_workload("backend", {"app": MARKUP}, MARKUP)], [])
    assert layout["selectors"]["backend"] == {"app": MARKUP}
    assert layout["containers"]["backend"] == MARKUP
