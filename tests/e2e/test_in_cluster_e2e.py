"""The controller in the cluster, end to end (issue 15): the image the `Containerfile`'s
instructions were carried out into (`tests/containerfile/`) runs as a real pod of the sandbox,
installed by `install_controller.yml`; orders reach it through its Route with nothing but
`.sandbox/env`, model messages through its Redis, and every write it makes is its ServiceAccount's
in the API server's audit log. One sandbox with real workloads (LiteLLM, PostgreSQL, a fake model
server) for the module.

The pod reaches Redis and the router on the node's pod-network address (the sandbox's bridge), as a
cluster's pods reach services outside it; both addresses are settings of the install (the router
as the proxy of its ConfigMap, the Redis URL in its Secret, as docs/in-cluster.md says).
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis

from containerfile import build
from e2e.incluster import TERMINAL, Forwarder, RouteClient
from e2e.realworld import LONG, MODEL, UPSERT, upstream_objects
from integration.collection.playrun import PlayRun, run_playbook
from integration.controller_install.installkit import (
    NS,
    SA,
    SYSTEM,
    WRITES,
    Installed,
    api_path,
    manifests,
    ok,
    sa_kubeconfig,
    status,
)
from integration.real.podkit import condition, pod_processes
from integration.service.msgkit import send
from integration.service.redisproc import PASSWORD, RedisServer
from kubeobjects import has_ready_endpoints, make_namespace, secret_data
from sandbox import Sandbox
from sandbox.agent.kube import Kube
from waiting import Watch, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]

#: the cluster CA where Kubernetes mounts it: the router's certificates are signed by it here
POD_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt"
DEPLOYMENT = f"/apis/apps/v1/namespaces/{NS}/deployments/litemaas-controller"
SECRET = f"/api/v1/namespaces/{NS}/secrets/litemaas-controller"
HEALING = {
    "LITEMAAS_HEALING": "repair",
    "LITEMAAS_HEALTH_GRACE": "5",
    "LITEMAAS_REPAIR_BACKOFF": "2",
    "LITEMAAS_REPAIR_WAIT_TIMEOUT": "240",
    "LITEMAAS_REDIS_CLAIM_IDLE": "2",
    "LITEMAAS_REDIS_MAX_DELIVERIES": "2",
}


@dataclass(repr=False)
class InCluster:
    box: Sandbox
    workdir: Path
    redis: RedisServer
    installs: list[PlayRun]
    api: RouteClient
    instance: str
    ns: str
    models_ns: str
    upstream_key: str
    #: every secret value of the module: none may show in test output or the pod's log
    secrets: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # what a failure shows: never the secrets it holds
        return f"InCluster(instance={self.instance!r}, ns={self.ns!r})"

    @property
    def r(self) -> redis.Redis:
        return self.redis.client()

    def pods(self) -> list[dict[str, Any]]:
        found = self.box.kube().list(
            f"/api/v1/namespaces/{NS}/pods?labelSelector=app.kubernetes.io/name%3Dlitemaas-controller"
        )
        return [p for p in found["items"] if not p["metadata"].get("deletionTimestamp")]

    def message(self, message_id: str, kind: str, body: Any) -> dict[str, Any]:
        """XADD a model message; its order's view once ended, read through the Route."""
        send(self.r, message_id, kind, self.instance, body)
        return self.api.finished(f"msg:{message_id}", LONG)


def shown(view: dict[str, Any]) -> str:
    """An order's view as a failure shows it: its runs' outcome (the API never holds secrets)."""
    return json.dumps({k: view.get(k) for k in ("id", "status", "runs", "results")})[-4000:]


def gateway(box: Sandbox) -> str:
    """The node's address on the pod network (the bridge's), made at the first real pod."""
    subnet = json.loads((box.directory / "network.json").read_text())["subnet"]
    return str(ipaddress.ip_network(subnet).network_address + 1)


def start_model_server(box: Sandbox, models_ns: str, key: str) -> None:
    kube = box.kube()
    make_namespace(kube, models_ns)
    for path, obj in upstream_objects(models_ns, key):
        kube.create(path, obj)
    wait_until(
        lambda: has_ready_endpoints(kube, models_ns, "vllm"), timeout=120, what="the model server"
    )


def install_vars(proxy: str) -> dict[str, Any]:
    no_proxy = "kubernetes.default.svc,10.96.0.1,.svc,.cluster.local,localhost,127.0.0.1"
    return {
        "litemaas_controller_image": "litemaas-controller:e2e",
        "litemaas_controller_wait_timeout": 240,
        "litemaas_controller_settings": {
            **HEALING,
            # the cluster's proxy and CA as a cluster-wide proxy hands them to pods
            "HTTPS_PROXY": proxy,
            "https_proxy": proxy,
            "NO_PROXY": no_proxy,
            "no_proxy": no_proxy,
            "SSL_CERT_FILE": POD_CA,
        },
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InCluster]:
    base = tmp_path_factory.mktemp("in-cluster-e2e")
    image = build()
    box = Sandbox.start(
        base / "sandbox", "aws", parent=os.getpid(), real=True, controller_image=image.root.parent
    )
    server: RedisServer | None = None
    forwarder: Forwarder | None = None
    try:
        instance = f"c{uuid.uuid4().hex[:6]}"
        models_ns, upstream_key = f"models-{instance}", f"sk-upstream-canary-{uuid.uuid4().hex}"
        start_model_server(box, models_ns, upstream_key)
        node = gateway(box)
        server = RedisServer(base / "redis", also_bind=(node,)).start()
        forwarder = Forwarder((node, 0), ("127.0.0.1", int(box.info["router"].rsplit(":")[1])))
        proxy = f"http://{node}:{forwarder.server_address[1]}"
        workdir = base / "runs"
        extravars = install_vars(proxy)
        installs = [ok(run_playbook(box, "install_controller.yml", extravars, workdir), box)]
        # A secret setting goes into the install's Secret, as an operator adds it; the next
        # install rolls the pod onto it (the pod template's checksum of the Secret).
        redis_url = f"redis://:{PASSWORD}@{node}:{server.port}/0"
        box.kube().patch(SECRET, {"stringData": {"LITEMAAS_REDIS_URL": redis_url}})
        installs.append(ok(run_playbook(box, "install_controller.yml", extravars, workdir), box))
        installs.append(ok(run_playbook(box, "install_controller.yml", extravars, workdir), box))
        made = secret_data(box.kube(), NS, "litemaas-controller")
        route = box.kube().get(
            f"/apis/route.openshift.io/v1/namespaces/{NS}/routes/litemaas-controller"
        )
        assert route is not None
        api = RouteClient(
            box.env(),
            route["spec"]["host"],
            made["LITEMAAS_WEBHOOK_SECRET"],
            made["LITEMAAS_API_TOKEN"],
        )
        world = InCluster(
            box, workdir, server, installs, api, instance,
            ns=f"litemaas-{instance}", models_ns=models_ns, upstream_key=upstream_key,
        )  # fmt: skip
        world.secrets.update({**made, "redis password": PASSWORD, "upstream key": upstream_key})
        yield world
    finally:
        if forwarder is not None:
            forwarder.stop()
        if server is not None:
            server.stop()
        for kept in ("logs", "audit.log"):  # the audit log holds metadata only
            subprocess.run(["cp", "-r", str(box.directory / kept), str(base)], check=False)
        box.stop()


def test_the_install_brings_the_pod_ready_through_its_probes_and_a_second_run_changes_nothing(
    cluster: InCluster,
) -> None:
    kube = cluster.box.kube()
    (pod,) = cluster.pods()
    assert condition(pod, "Ready")
    (container,) = pod["spec"]["containers"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert pod_processes(cluster.box, pod), "the pod does not run for real"
    log = cluster.box.directory / "logs" / "pods" / f"{NS}_{pod['metadata']['name']}_controller.log"
    assert f"own namespace: {NS}" in log.read_text()
    assert (kube.get(DEPLOYMENT) or {})["status"].get("readyReplicas") == 1
    first, rolled, again = cluster.installs
    assert first.changed > 0 and rolled.changed > 0  # the Secret's new setting rolled the pod
    assert again.changed == 0, again.changed_tasks()


def test_an_order_through_the_route_deploys_an_instance_written_by_the_controller_alone(
    cluster: InCluster,
) -> None:
    order = {"id": f"{cluster.instance}-p", "action": "provision", "instance": cluster.instance}
    status, accepted = cluster.api.order(order)
    assert status == 202, accepted
    final = cluster.api.finished(order["id"], LONG)
    assert final["status"] == "succeeded", shown(final)
    kube = cluster.box.kube()
    litellm = kube.get(f"/apis/apps/v1/namespaces/{cluster.ns}/deployments/litellm")
    assert litellm is not None and litellm["status"].get("readyReplicas") == 1
    writes = [
        e
        for e in cluster.box.audit_events()
        if e["verb"] in WRITES
        and (
            e.get("objectRef", {}).get("namespace") == cluster.ns
            or (
                e.get("objectRef", {}).get("resource") == "namespaces"
                and e["objectRef"].get("name") == cluster.ns
            )
        )
    ]
    writers = {e["user"]["username"] for e in writes} - SYSTEM
    assert writers == {SA}
    made = {
        (e["objectRef"]["resource"], e["objectRef"].get("name"))
        for e in writes
        if e["user"]["username"] == SA and e["verb"] == "create"
    }
    assert {
        ("namespaces", cluster.ns),
        ("deployments", "litellm"),
        ("statefulsets", "postgres"),
    } <= made
    # the model server's key for the model messages, as the platform team gives it
    kube.create(
        f"/api/v1/namespaces/{cluster.ns}/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "granite-creds",
                "labels": {"litemaas.rhpds.io/allow-message-ref": "true"},
            },
            "stringData": {"token": cluster.upstream_key},
        },
    )


def test_a_repair_a_model_registration_and_a_key_rotation_run_in_the_pod(
    cluster: InCluster,
) -> None:
    kube = cluster.box.kube()
    service = f"/api/v1/namespaces/{cluster.ns}/services/litellm"
    gone = (kube.get(service) or {})["metadata"]["uid"]
    before = {o["id"] for o in cluster.api.orders(cluster.instance)}
    kube.delete(service)  # the fault
    repair = wait_until(
        lambda: [
            o
            for o in cluster.api.orders(cluster.instance)
            if o["action"] == "repair" and o["id"] not in before and o["status"] in TERMINAL
        ],
        timeout=LONG,
        what="the controller's repair order to end",
    )[0]
    assert repair["status"] == "succeeded", shown(repair)
    restored = kube.get(service)
    assert restored is not None and restored["metadata"]["uid"] != gone

    upsert = cluster.message("up-1", "model.upsert", {**UPSERT, "api_base": api_base(cluster)})
    assert upsert["status"] == "succeeded", shown(upsert)
    assert upsert["results"]["action"] == "created", upsert["results"]

    body = {
        "alias": "team-a",
        "user_id": "alice",
        "models": [MODEL],
        "secret": {"name": "team-a-llm"},
    }
    created = cluster.message("key-1", "key.create", body)
    assert created["status"] == "succeeded", shown(created)
    old = secret_data(kube, cluster.ns, "team-a-llm")["OPENAI_API_KEY"]
    rotated = cluster.message("key-2", "key.rotate", {"alias": "team-a"})
    assert rotated["status"] == "succeeded", shown(rotated)
    new = secret_data(kube, cluster.ns, "team-a-llm")["OPENAI_API_KEY"]
    assert new != old, "the key was not rotated"  # the keys themselves are never shown
    master = secret_data(kube, cluster.ns, "litellm-secret")["LITELLM_MASTER_KEY"]
    cluster.secrets.update({"old virtual key": old, "virtual key": new, "master key": master})


def api_base(cluster: InCluster) -> str:
    return f"http://vllm.{cluster.models_ns}.svc:8000/v1"


def test_the_service_account_token_is_refused_secrets_it_was_not_given(cluster: InCluster) -> None:
    """The ServiceAccount's token as the pod has it, against the real API server's RBAC (the
    install tests check the same rules on a simulated pod: `controller_install`)."""
    kube = cluster.box.kube()
    other = make_namespace(kube, f"t-{uuid.uuid4().hex[:8]}")
    installed = Installed(
        cluster.box,
        cluster.workdir,
        *cluster.installs[:2],
        sa_kubeconfig(cluster.box, cluster.workdir),
    )
    refused = {
        "/api/v1/namespaces/kube-system/secrets": 403,
        f"/api/v1/namespaces/{other}/secrets": 403,
        "/api/v1/secrets": 403,
    }
    given = {f"/api/v1/namespaces/{cluster.ns}/secrets": 200}  # the instance it deployed
    answers = {path: status(installed, path) for path in {**refused, **given}}
    kube.delete(f"/api/v1/namespaces/{other}")
    assert answers == {**refused, **given}


def test_a_killed_pod_comes_back_and_ends_the_orders_it_had_queued(cluster: InCluster) -> None:
    """Two update orders for the instance (one runs, the other waits behind it); the pod is
    deleted while the first runs; the Deployment's next pod, on the same volume, waits for the
    stopping one's lock on the ledger, then ends both. Neither order is ever seen `failed`."""
    (pod,) = cluster.pods()
    ids = [f"{cluster.instance}-u1", f"{cluster.instance}-u2"]
    for order_id, wanted in zip(ids, ("running", "queued"), strict=True):
        order = {"id": order_id, "action": "update", "instance": cluster.instance}
        status, accepted = cluster.api.order(order)
        assert status == 202, accepted
        wait_until(
            lambda order_id=order_id, wanted=wanted: (
                (cluster.api.view(order_id) or {}).get("status") == wanted
            ),
            timeout=60,
            what=f"order {order_id} {wanted}",
        )
    watch = Watch(lambda: {(i, v["status"]) for i in ids if (v := cluster.api.view(i))})
    try:
        cluster.box.kube().delete(f"/api/v1/namespaces/{NS}/pods/{pod['metadata']['name']}")
        back = wait_until(
            lambda: [
                p
                for p in cluster.pods()
                if p["metadata"]["uid"] != pod["metadata"]["uid"] and condition(p, "Ready")
            ],
            timeout=240,
            what="the Deployment's next pod Ready",
        )
        assert back
        finals = [cluster.api.finished(order_id, LONG) for order_id in ids]
    finally:
        seen = watch.stop()
    assert [f["status"] for f in finals] == ["succeeded", "succeeded"], [shown(f) for f in finals]
    assert {(i, "succeeded") for i in ids} <= seen
    assert [s for s in seen if s[1] == "failed"] == []
    # the first one's run either ended within the drain's grace (an idle machine), or was cut
    # by the pod's end (drained, or ended by the next pod as interrupted when the grace ran out
    # first) and the next pod ran it again
    *cut, last = finals[0]["runs"]
    assert last["status"] == "succeeded", shown(finals[0])
    assert all(run["status"] in ("cancelled", "failed") for run in cut), shown(finals[0])


def test_no_secret_appears_in_the_pods_logs_its_ledger_or_its_answers(cluster: InCluster) -> None:
    assert len(cluster.secrets) >= 7  # webhook secret, API token, Redis, upstream, LiteLLM keys
    kube = cluster.box.kube()
    claim = kube.get(f"/api/v1/namespaces/{NS}/persistentvolumeclaims/litemaas-controller-state")
    volume = kube.get(f"/api/v1/persistentvolumes/{(claim or {})['spec']['volumeName']}")
    state = Path((volume or {})["spec"]["hostPath"]["path"])
    texts = {str(p): p.read_bytes() for p in state.rglob("*") if p.is_file()}
    assert any(name.endswith("ledger.sqlite3") for name in texts), sorted(texts)[:20]
    logs = cluster.box.directory / "logs" / "pods"
    texts.update({p.name: p.read_bytes() for p in logs.glob(f"{NS}_*.log")})
    for path in ("/api/v1/orders?limit=1000", "/api/v1/audit"):
        status, answer = cluster.api.read(path)
        assert status == 200
        texts[path] = json.dumps(answer).encode()
    found = [
        f"{label} in {where}"
        for label, value in cluster.secrets.items()
        for where, text in texts.items()
        if value.encode() in text
    ]
    assert found == []


def test_remove_leaves_nothing_of_the_controller_and_no_instance_touched(
    cluster: InCluster,
) -> None:
    kube = cluster.box.kube()
    instance_objects = snapshot(kube, cluster.ns)
    ok(run_playbook(cluster.box, "remove_controller.yml", {}, cluster.workdir))
    left = [api_path(o) for o in manifests() if kube.get(api_path(o)) is not None]
    assert not left
    assert kube.get(f"/api/v1/namespaces/{NS}") is None
    labelled = "labelSelector=app.kubernetes.io/name%3Dlitemaas-controller"
    for kind in ("clusterroles", "clusterrolebindings", "rolebindings"):
        found = kube.list(f"/apis/rbac.authorization.k8s.io/v1/{kind}?{labelled}")["items"]
        assert not found, [o["metadata"]["name"] for o in found]
    assert snapshot(kube, cluster.ns) == instance_objects


#: what a deploy makes in an instance's namespace (pods come and go with their workloads)
INSTANCE_KINDS = (
    "/api/v1/namespaces/{ns}/secrets",
    "/api/v1/namespaces/{ns}/services",
    "/api/v1/namespaces/{ns}/persistentvolumeclaims",
    "/apis/apps/v1/namespaces/{ns}/deployments",
    "/apis/apps/v1/namespaces/{ns}/statefulsets",
    "/apis/route.openshift.io/v1/namespaces/{ns}/routes",
)


def snapshot(kube: Kube, ns: str) -> dict[tuple[str, str], tuple[str, str]]:
    """Each object of the instance: its uid and its spec's generation (a Secret's version)."""
    found = {}
    for kind in INSTANCE_KINDS:
        for obj in kube.list(kind.format(ns=ns))["items"]:
            meta = obj["metadata"]
            found[(kind.rsplit("/", 1)[1], meta["name"])] = (
                meta["uid"],
                str(meta.get("generation") or meta["resourceVersion"]),
            )
    return found
