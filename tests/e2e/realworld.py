"""The world of the end-to-end tests with real workloads: one sandbox whose instance pods run the
real LiteLLM on its real PostgreSQL, a fake model server (sandbox/fakes/upstream.py) in a pod of its
own namespace behind the Service `vllm`, `litemaas-controller serve` with its own Redis (AOF, fsync
always), and one instance the controller provisioned by a signed catalog order. A module opens it
once with ``open_world`` and its tests share it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from integration.real_litellm.curlkit import curl, shown
from integration.service.credentials import SECRET
from integration.service.msgkit import send
from integration.service.redisproc import PASSWORD, RedisServer
from integration.service.serveproc import ServeProcess
from kubeobjects import has_ready_endpoints, make_namespace, secret_data
from litemaas_controller.intake.auth import signed_headers
from sandbox import Sandbox
from sandbox.fakes import upstream
from waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or str(REPO / ".venv" / "collections")
UPSTREAM_SOURCE = Path(upstream.__file__)
UPSTREAM_MODEL = "granite-3-8b-instruct"  # what the fake model server serves
MODEL = "granite-3-8b"  # the public name in LiteLLM
COMPLETION_MODEL = "granite-3-8b-text"
#: seconds a playbook run, or an instance's deploy, may take on two busy cores
LONG = 600


class ArtifactWatch:
    """Copies of every file under the controller's runs directory, taken every 0.2 s: a run's
    private directory (ansible-runner's env, inventory, artifacts) exists only while it runs."""

    def __init__(self, runs_dir: Path) -> None:
        self.runs_dir = runs_dir
        self.seen: dict[tuple[str, int], bytes] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(0.2):
            for path in self.runs_dir.rglob("*") if self.runs_dir.is_dir() else []:
                try:
                    data = path.read_bytes() if path.is_file() else None
                except OSError:
                    continue  # removed at the run's end
                if data is not None:
                    self.seen[(str(path.relative_to(self.runs_dir)), hash(data))] = data

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)


@dataclass(repr=False)
class World:
    box: Sandbox
    redis: RedisServer
    svc: ServeProcess
    state_dir: Path
    log: Path
    instance: str
    ns: str
    models_ns: str
    upstream_key: str
    artifacts: ArtifactWatch
    host: str = ""
    #: every secret value seen in the module: none may show in the ledger, artifacts or logs
    secrets: dict[str, str] = field(default_factory=dict)
    latency: dict[str, float] = field(default_factory=dict)
    run_times: dict[str, list[float]] = field(default_factory=dict)

    def __repr__(self) -> str:  # what a failure shows: never the secrets it holds
        return f"World(instance={self.instance!r}, ns={self.ns!r}, host={self.host!r})"

    @property
    def r(self) -> redis.Redis:
        return self.redis.client()

    @property
    def api_base(self) -> str:
        return f"http://vllm.{self.models_ns}.svc:8000/v1"

    def message(
        self, message_id: str, kind: str, body: Any, timeout: float = LONG
    ) -> dict[str, Any]:
        """XADD a message, wait for its order to end; record XADD → run end and the run time."""
        _, sent = send(self.r, message_id, kind, self.instance, body)
        view = self.svc.finished(f"msg:{message_id}", timeout)
        last = view["runs"][-1]
        self.latency[f"{message_id} ({kind})"] = last["finished_at"] - sent
        self.run_times.setdefault(last["playbook"], []).append(
            last["finished_at"] - last["started_at"]
        )
        return view

    def secret(self, namespace: str, name: str) -> dict[str, str]:
        return secret_data(self.box.kube(), namespace, name)

    def master_key(self) -> str:
        found = self.secret(self.ns, "litellm-secret")
        self.secrets[f"master key {found['LITELLM_MASTER_KEY'][-4:]}"] = found["LITELLM_MASTER_KEY"]
        return found["LITELLM_MASTER_KEY"]

    def virtual_key(self, secret_name: str) -> tuple[str, str]:
        found = self.secret(self.ns, secret_name)
        assert found, f"Secret {secret_name} was not written"
        key = found["OPENAI_API_KEY"]
        self.secrets[f"virtual key {secret_name} {key[-4:]}"] = key
        return key, found["OPENAI_BASE_URL"]

    def deployments(self, name: str) -> list[dict[str, Any]]:
        url = f"https://{self.host}/model/info"
        status, body = curl(self.box, "GET", url, key=self.master_key())
        assert status == 200, shown(body)
        return [d for d in body["data"] if d["model_name"] == name]

    def chat(self, base_url: str, key: str, model: str) -> tuple[int, Any]:
        body = {"model": model, "messages": [{"role": "user", "content": "ping"}]}
        return curl(self.box, "POST", f"{base_url}/chat/completions", key=key, body=body)

    def received(self, part: str = "items") -> list[dict[str, Any]]:
        """What the model server received (``presented``: every key presented to it, refused
        ones too), read through its Service from outside the cluster (keys only as SHA-256)."""
        status, body = curl(
            self.box, "GET", f"http://vllm.{self.models_ns}.svc:8000{upstream.RECEIVED_PATH}",
            key=self.upstream_key,
        )  # fmt: skip
        assert status == 200, shown(body)
        return list(body[part])


def upstream_objects(ns: str, key: str) -> list[tuple[str, dict[str, Any]]]:
    """The fake model server as a platform team would run a vLLM: a Deployment behind a Service,
    its API key in a Secret."""
    labels = {"app": "vllm"}
    container = {
        "name": "server",
        "image": "python:3.11-slim",
        "command": ["python3", "/opt/fake/upstream.py", "--port", "8000"],
        "args": ["--host", "0.0.0.0", "--model-id", UPSTREAM_MODEL],  # noqa: S104 (in its pod)
        "env": [
            {
                "name": "FAKE_UPSTREAM_API_KEY",
                "valueFrom": {"secretKeyRef": {"name": "vllm-api-key", "key": "token"}},
            }
        ],
        "ports": [{"name": "http", "containerPort": 8000}],
        "readinessProbe": {"tcpSocket": {"port": 8000}, "periodSeconds": 1},
        "volumeMounts": [{"name": "code", "mountPath": "/opt/fake"}],
    }
    return [
        (
            f"/api/v1/namespaces/{ns}/secrets",
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "vllm-api-key"},
                "stringData": {"token": key},
            },
        ),
        (
            f"/api/v1/namespaces/{ns}/configmaps",
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "fake-model-server"},
                "data": {"upstream.py": UPSTREAM_SOURCE.read_text()},
            },
        ),
        (
            f"/apis/apps/v1/namespaces/{ns}/deployments",
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "vllm"},
                "spec": {
                    "selector": {"matchLabels": labels},
                    "template": {
                        "metadata": {"labels": labels},
                        "spec": {
                            "containers": [container],
                            "volumes": [
                                {"name": "code", "configMap": {"name": "fake-model-server"}}
                            ],
                        },
                    },
                },
            },
        ),
        (
            f"/api/v1/namespaces/{ns}/services",
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "vllm"},
                "spec": {"selector": labels, "ports": [{"name": "http", "port": 8000}]},
            },
        ),
    ]


def place_order(world: World, order: dict[str, Any]) -> dict[str, Any]:
    """A signed catalog order, followed to its end; its final record."""
    body = json.dumps(order).encode()
    headers = {**signed_headers(SECRET, body, time.time()), "Content-Type": "application/json"}
    status, accepted = world.svc.request("POST", "/api/v1/orders", body, **headers)
    assert status == 202, accepted
    final: dict[str, Any] = world.svc.finished(order["id"], timeout=LONG)
    return final


def provision(world: World) -> None:
    """The instance by a signed catalog order, and the model server beside it."""
    kube = world.box.kube()
    make_namespace(kube, world.models_ns)
    for path, obj in upstream_objects(world.models_ns, world.upstream_key):
        kube.create(path, obj)
    order = {
        "id": f"{world.instance}-p",
        "action": "provision",
        "instance": world.instance,
    }
    started = time.monotonic()
    final = place_order(world, order)
    assert final["status"] == "succeeded", final
    world.run_times.setdefault("deploy_litemaas.yml", []).append(time.monotonic() - started)
    route = kube.get(f"/apis/route.openshift.io/v1/namespaces/{world.ns}/routes/litellm")
    assert route is not None
    world.host = route["spec"]["host"]
    # The platform team's Secret with the model server's key, in the instance's namespace: the
    # message names it, never carries the key; the label lets model changes read it.
    kube.create(
        f"/api/v1/namespaces/{world.ns}/secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {
                "name": "granite-creds",
                "labels": {"litemaas.rhpds.io/allow-message-ref": "true"},
            },
            "stringData": {"token": world.upstream_key},
        },
    )
    wait_until(
        lambda: has_ready_endpoints(kube, world.models_ns, "vllm"),
        timeout=120,
        what="a ready model server",
    )
    creds = {
        **world.secret(world.ns, "litellm-secret"),
        **world.secret(world.ns, "litellm-salt-key"),
    }
    for name in ("LITELLM_MASTER_KEY", "UI_PASSWORD", "LITELLM_SALT_KEY"):
        if creds.get(name):
            world.secrets[name] = creds[name]


UPSERT = {
    "name": MODEL,
    "api_key_secret": {"name": "granite-creds", "key": "token"},
    "mode": "chat",
    "limits": {"rpm": 600},
}


@contextmanager
def open_world(base: Path, label: str, **settings: str) -> Iterator[World]:
    """The world in ``base``; ``settings`` (LITEMAAS_*) add to or override the controller's.
    Figures are printed at the end and written to ``timings.json`` in ``base``."""
    box = Sandbox.start(base / "sandbox", "aws", parent=os.getpid(), real=True)
    server = RedisServer(base / "redis").start()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    env = {
        **box.env(),
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "PATH": path,
        "LITEMAAS_REDIS_URL": server.url,
        "LITEMAAS_REDIS_CONSUMER": "e2e",
        "LITEMAAS_REDIS_CLAIM_IDLE": "2",
        "LITEMAAS_REDIS_MAX_DELIVERIES": "2",
        "LITEMAAS_DRAIN_GRACE": "60",
        **settings,
    }
    svc = ServeProcess(base / "state", REPO / "playbooks", base / "serve.log", **env).start()
    instance = f"m{uuid.uuid4().hex[:6]}"
    upstream_key = f"sk-upstream-canary-{uuid.uuid4().hex}"
    world = World(
        box, server, svc, base / "state", base / "serve.log", instance,
        ns=f"litemaas-{instance}", models_ns=f"models-{instance}", upstream_key=upstream_key,
        artifacts=ArtifactWatch(base / "state" / "runs"),
    )  # fmt: skip
    world.secrets.update(
        {"upstream key": upstream_key, "redis password": PASSWORD, "webhook secret": SECRET}
    )
    try:
        provision(world)
        yield world
    finally:
        report = {
            "xadd_to_run_end_s": {k: round(v, 1) for k, v in world.latency.items()},
            "run_time_s": {k: [round(v, 1) for v in vs] for k, vs in world.run_times.items()},
        }
        (base / "timings.json").write_text(json.dumps(report, indent=2))
        print(f"\n[{label}] {json.dumps(report)}")
        world.artifacts.stop()
        svc.stop()
        server.stop()
        kept = base / "logs"
        subprocess.run(["cp", "-r", str(box.directory / "logs"), str(kept)], check=False)
        box.stop()
