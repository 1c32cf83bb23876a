"""How the real runtime reads pod specs, Endpoints and Routes: pure functions, no cluster."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from sandbox.real import images, names, routing
from sandbox.real.container import backoff
from sandbox.real.environment import ConfigError, argv, expand, resolve_env
from sandbox.real.kubernetes_service import ClusterIP
from sandbox.real.network import PodNetwork

pytestmark = pytest.mark.unit

POD = {"metadata": {"name": "p", "namespace": "n", "uid": "u"}, "spec": {"nodeName": "node"}}


def _fetch(objects: dict[tuple[str, str], dict[str, Any]]) -> Any:
    return lambda kind, name: objects.get((kind, name))


def test_references_expand_like_the_kubelet() -> None:
    env = {"A": "1", "B": "two"}
    assert expand("$(A)-$(B)", env) == "1-two"
    assert expand("$$(A) $(MISSING) $", env) == "$(A) $(MISSING) $"


def test_env_after_env_from_and_only_earlier_variables_expand() -> None:
    config = {"kind": "ConfigMap", "data": {"color": "blue", "X": "from-config"}}
    container = {
        "envFrom": [{"configMapRef": {"name": "c"}}],
        "env": [
            {"name": "EARLY", "value": "$(LATE)"},
            {"name": "X", "value": "from-env"},
            {"name": "LATE", "value": "late"},
            {"name": "NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {
                "name": "MAYBE",
                "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k", "optional": True}},
            },
        ],
    }
    env = resolve_env(container, POD, "10.90.0.2", _fetch({("configmaps", "c"): config}))
    assert env == {
        "color": "blue",
        "X": "from-env",
        "EARLY": "$(LATE)",
        "LATE": "late",
        "NAME": "p",
        "IP": "10.90.0.2",
    }


def test_a_missing_secret_or_key_is_a_config_error() -> None:
    ref = {"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}
    with pytest.raises(ConfigError, match='secret "s" not found'):
        resolve_env({"env": [ref]}, POD, "", _fetch({}))
    secret = {"kind": "Secret", "data": {}}
    with pytest.raises(ConfigError, match="couldn't find key k"):
        resolve_env({"env": [ref]}, POD, "", _fetch({("secrets", "s"): secret}))


def test_command_replaces_the_entrypoint_and_args_the_cmd() -> None:
    env = {"V": "x"}
    assert argv({}, ["/entry"], ["postgres"], env) == ["/entry", "postgres"]
    assert argv({"args": ["-c", "$(V)"]}, ["/entry"], ["postgres"], env) == ["/entry", "-c", "x"]
    assert argv({"command": ["sh"]}, ["/entry"], ["postgres"], env) == ["sh"]


def _endpoints(ns: str, name: str, ready: list[str], unready: list[str]) -> dict[str, Any]:
    return {
        "metadata": {"namespace": ns, "name": name},
        "subsets": [
            {
                "addresses": [{"ip": ip} for ip in ready],
                "notReadyAddresses": [{"ip": ip} for ip in unready],
                "ports": [{"name": "http", "port": 8080}],
            }
        ],
    }


def test_hosts_list_ready_endpoints_with_short_names_for_the_own_namespace() -> None:
    hosts = names.render(
        POD,
        "10.90.0.9",
        [
            _endpoints("n", "db", ["10.90.0.2"], ["10.90.0.3"]),
            _endpoints("o", "db", ["10.90.0.4"], []),
        ],
    )
    lines = hosts.splitlines()
    assert "10.90.0.9\tp" in lines
    assert "10.90.0.2\tdb.n.svc.cluster.local db.n.svc db.n db" in lines
    assert "10.90.0.4\tdb.o.svc.cluster.local db.o.svc db.o" in lines
    assert "10.90.0.3" not in hosts


def test_the_kubernetes_service_is_named_by_its_cluster_ip_not_its_endpoint() -> None:
    """As cluster DNS answers for a Service with a ClusterIP: the address kube-proxy serves."""
    api = _endpoints("default", "kubernetes", ["10.90.0.1"], [])
    hosts = names.render(POD, "10.90.0.9", [api], {"default/kubernetes": "10.96.0.1"})
    lines = hosts.splitlines()
    names_of_api = "kubernetes.default.svc.cluster.local kubernetes.default.svc kubernetes.default"
    assert f"10.96.0.1\t{names_of_api}" in lines
    assert "10.90.0.1" not in hosts


def test_routes_lead_to_ready_endpoints_of_their_target_port() -> None:
    route = {
        "metadata": {"namespace": "n", "name": "web"},
        "spec": {
            "host": "web.apps.test",
            "to": {"kind": "Service", "name": "web"},
            "port": {"targetPort": "http"},
            "tls": {"termination": "edge", "insecureEdgeTerminationPolicy": "Redirect"},
        },
        "status": {"ingress": [{"conditions": [{"type": "Admitted", "status": "True"}]}]},
    }
    eps = {("n", "web"): _endpoints("n", "web", ["10.90.0.2"], [])}
    svcs: dict[tuple[str, ...], Any] = {}
    target = routing.find("WEB.apps.test", 443, [route], [], lambda *k: svcs.get(k),
                          lambda *k: eps.get(k))  # fmt: skip
    assert target == routing.Target("web.apps.test", "edge", "Redirect", [("10.90.0.2", 8080)])
    route["status"] = {}
    assert routing.find("web.apps.test", 443, [route], [], lambda *k: svcs.get(k),
                        lambda *k: eps.get(k)) is None  # fmt: skip


def test_service_names_lead_to_ready_endpoints_of_the_service_ports_target() -> None:
    eps = {("n", "web"): _endpoints("n", "web", ["10.90.0.2"], ["10.90.0.3"])}
    svcs = {("n", "web"): {"spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}}

    def find(host: str, port: int) -> routing.Target | None:
        return routing.find(host, port, [], [], lambda *k: svcs.get(k), lambda *k: eps.get(k))

    expected = [("10.90.0.2", 8080)]
    for host in ("web.n.svc", "WEB.n.svc.cluster.local."):
        target = find(host, 80)
        assert target is not None and target.service and target.addresses == expected
        assert target.tls is None
    unknown_port = find("web.n.svc", 8080)  # not a port of the Service: nowhere to go
    assert unknown_port is not None and unknown_port.addresses == []
    assert find("other.n.svc", 80) is None  # no such Service
    assert find("web.svc", 80) is None and find("a.web.n.svc", 80) is None  # not a Service name


def test_back_off_is_immediate_then_doubles_from_ten_seconds_to_five_minutes() -> None:
    assert [backoff(n) for n in range(1, 8)] == [0, 10, 20, 40, 80, 160, 300]


@pytest.mark.parametrize(
    ("ref", "known"),
    [
        ("postgres:16", "postgres"),
        ("docker.io/library/postgres:16.4@sha256:abc", "postgres"),
        ("registry.example/team/postgres", "postgres"),
        ("quay.io/sclorg/postgresql-15-c9s", None),
        ("python:3.11-slim", "python"),
        ("registry.example/nginx:1.25", None),
    ],
)
def test_known_images_by_repository_name(ref: str, known: str | None) -> None:
    image = images.find(ref)
    assert (image.name if image else None) == known


def test_released_pod_addresses_are_not_reused_at_once(tmp_path: Any) -> None:
    net = PodNetwork(tmp_path)
    net.subnet = ipaddress.IPv4Network("10.90.0.0/29")  # .2 to .6 for pods
    first = [net._allocate() for _ in range(3)]
    assert first == ["10.90.0.2", "10.90.0.3", "10.90.0.4"]
    net._used.discard("10.90.0.2")
    assert [net._allocate(), net._allocate(), net._allocate()] == [
        "10.90.0.5",
        "10.90.0.6",
        "10.90.0.2",  # only once the network wraps
    ]


def test_the_kubernetes_service_variables_are_the_kubelets() -> None:
    assert ClusterIP("10.96.0.1", 443, "https").env() == {
        "KUBERNETES_SERVICE_HOST": "10.96.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
        "KUBERNETES_SERVICE_PORT_HTTPS": "443",
        "KUBERNETES_PORT": "tcp://10.96.0.1:443",
        "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443",
        "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
        "KUBERNETES_PORT_443_TCP_PORT": "443",
        "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1",
    }
