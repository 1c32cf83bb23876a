"""Fixtures for the LiteLLM modules: a real LiteLLM proxy on a real PostgreSQL (the shared
fixtures of ``litellm_local``), the fake OpenAI-compatible upstream, and an "instance" namespace in
the sandbox cluster whose Secret ``litellm-secret`` holds the proxy's master key and whose Route
``litellm`` points at the proxy, so the modules run exactly as in production: ``namespace`` only,
no secret in any variable."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner
import pytest
import yaml

import litellm_local
from kubeobjects import deployment, make_namespace, secret_data
from litellm_local import canary, pod_env
from litellm_local.proxy import Proxy, Reply, call
from sandbox import Sandbox
from sandbox.fakes.upstream import FakeUpstream
from sandbox.litellm import runtime

REPO = Path(__file__).resolve().parents[3]
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or str(REPO / ".venv" / "collections")
SECRET_FIELDS = {
    "OPENAI_API_KEY",
    "LITELLM_MASTER_KEY",
    "UI_PASSWORD",
    "token",
    "litellm-api-key",
    "jwt-secret",
    "NEW_MASTER_KEY",
    "OLD_MASTER_KEY",
}
#: the label that lets a model change read an upstream's key from a Secret
ALLOW_REF = {"litemaas.rhpds.io/allow-message-ref": "true"}
#: the Secret (key ``token``) the tests keep the fake upstream's API key in
UPSTREAM_SECRET = "upstream-creds"
TIMINGS = Path(os.environ.get("LITELLM_MODULES_TIMINGS", "/tmp/litellm-modules-timings.jsonl"))


# -- the real LiteLLM ---------------------------------------------------------------------------
# The shared fixtures: pytest finds them under these names here, so this folder gets its own
# PostgreSQL for the session.
litellm_runtime = litellm_local.litellm_runtime
postgres = litellm_local.postgres
template_db = litellm_local.template_db
fresh_database = litellm_local.fresh_database
workdir = litellm_local.workdir


class ProxyPod:
    """A real proxy process that can be restarted on the same port with a new environment, the
    way a rolled LiteLLM pod comes back behind its unchanged Route."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.proxy = Proxy(workdir, env)
        self.port = self.proxy.port
        self.restarts = 0
        self.restart_seconds: list[float] = []

    @property
    def url(self) -> str:
        return self.proxy.url

    @property
    def env(self) -> dict[str, str]:
        return self.proxy.env

    def start(self) -> ProxyPod:
        self.proxy.start()
        return self

    def restart(self, **env: str) -> None:
        started = time.monotonic()
        self.proxy.stop()
        replacement = Proxy(self.workdir, {**self.proxy.env, **env})
        replacement.port = self.port
        replacement.log_path = self.workdir / f"proxy-{self.port}-{self.restarts + 1}.log"
        self.proxy = replacement.start()
        self.restarts += 1
        self.restart_seconds.append(time.monotonic() - started)

    def api(self, method: str, path: str, body: Any = None, key: str | None = None) -> Reply:
        return call(
            method, f"{self.url}{path}", key=key or self.env["LITELLM_MASTER_KEY"], body=body
        )

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.workdir.glob("proxy-*.log"))

    def stop(self) -> None:
        self.proxy.stop()


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(api_key=canary("upstream")) as server:
        yield server


@pytest.fixture(scope="module")
def start_pod(workdir: Path, litellm_runtime: runtime.Runtime) -> Iterator[Callable[..., ProxyPod]]:
    """Starts a pod's proxy, each in a directory of its own; every one started is stopped at the
    end of the module, a proxy that never became ready included."""
    numbers = itertools.count()
    with contextlib.ExitStack() as started:

        def start(database_url: str, master_key: str, **env: str) -> ProxyPod:
            pod_dir = workdir / f"pod-{next(numbers)}"
            pod_dir.mkdir()
            pod = ProxyPod(pod_dir, {**pod_env(workdir, database_url, master_key), **env})
            started.callback(pod.stop)
            return pod.start()

        yield start


# -- the instance in the sandbox ------------------------------------------------------------------
@dataclass
class Instance:
    """A namespace that looks like a deployed instance to the modules."""

    sandbox: Sandbox
    namespace: str
    pod: ProxyPod
    canaries: set[str] = field(default_factory=set)

    def secret(self, name: str) -> dict[str, str]:
        return secret_data(self.sandbox.kube(), self.namespace, name)

    def put_secret(
        self, name: str, data: dict[str, str], labels: dict[str, str] | None = None
    ) -> None:
        self.canaries.update(v for v in data.values() if v.startswith("sk-"))
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": self.namespace, "labels": labels or {}},
            "stringData": data,
        }
        kube = self.sandbox.kube()
        path = f"/api/v1/namespaces/{self.namespace}/secrets"
        if kube.get(f"{path}/{name}") is None:
            kube.create(path, body)
        else:
            kube.patch(f"{path}/{name}", {"stringData": data})

    def secret_values(self) -> set[str]:
        """Every secret value the namespace's Secrets hold right now (keys written by the
        playbooks included), plus every value planted or seen before."""
        found = set(self.canaries)
        listing = self.sandbox.kube().list(f"/api/v1/namespaces/{self.namespace}/secrets")
        for item in listing["items"]:
            for field_name, value in (item.get("data") or {}).items():
                if field_name in SECRET_FIELDS:
                    found.add(base64.b64decode(value).decode())
        return found

    @property
    def master_key(self) -> str:
        return self.secret("litellm-secret")["LITELLM_MASTER_KEY"]


def make_instance(sandbox: Sandbox, namespace: str, pod: ProxyPod) -> Instance:
    make_namespace(sandbox.kube(), namespace)
    instance = Instance(sandbox, namespace, pod)
    instance.put_secret(
        "litellm-secret",
        {
            "LITELLM_MASTER_KEY": pod.env["LITELLM_MASTER_KEY"],
            "UI_USERNAME": pod.env["UI_USERNAME"],
            "UI_PASSWORD": pod.env["UI_PASSWORD"],
            "DATABASE_URL": pod.env["DATABASE_URL"],
        },
    )
    instance.canaries.add(pod.env["UI_PASSWORD"])
    # The Route is a CRD in the sandbox: its host is where the real proxy listens, so the modules'
    # Route discovery leads to it (a real router would front the pod the same way).
    sandbox.kube().create(
        f"/apis/route.openshift.io/v1/namespaces/{namespace}/routes",
        {
            "apiVersion": "route.openshift.io/v1",
            "kind": "Route",
            "metadata": {"name": "litellm", "namespace": namespace},
            "spec": {"host": f"127.0.0.1:{pod.port}", "to": {"kind": "Service", "name": "litellm"}},
        },
    )
    return instance


def add_deployment(instance: Instance, name: str, secret: str) -> None:
    """A Deployment like the role's (its pods are simulated by the sandbox's node agent)."""
    body = deployment(name)
    body["spec"]["template"]["metadata"]["annotations"] = {
        "litemaas.rhpds.io/secret-checksum": "initial"
    }
    body["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [{"secretRef": {"name": secret}}]
    instance.sandbox.kube().create(
        f"/apis/apps/v1/namespaces/{instance.namespace}/deployments", body
    )


# -- running Ansible ----------------------------------------------------------------------------
@dataclass
class Run:
    status: str
    rc: int
    events: list[dict[str, Any]]
    stdout: str
    private_data_dir: Path
    seconds: float

    @property
    def ok(self) -> bool:
        return self.status == "successful"

    def results(self, action: str) -> list[dict[str, Any]]:
        return [
            e["event_data"]["res"]
            for e in self.events
            if e.get("event") in ("runner_on_ok", "runner_on_failed")
            and e["event_data"].get("resolved_action", e["event_data"].get("task_action"))
            in (action, f"rhpds.litemaas.{action}")
        ]

    def result(self, action: str) -> dict[str, Any]:
        found = self.results(action)
        assert found, f"no result of {action}:\n{self.stdout[-4000:]}"
        return found[-1]

    @property
    def stats_data(self) -> dict[str, Any]:
        """What the play handed over with set_stats (the controller reads it from here)."""
        for event in reversed(self.events):
            if event.get("event") == "playbook_on_stats":
                return dict(event["event_data"].get("artifact_data") or {})
        return {}

    @property
    def changed(self) -> bool:
        return any(
            e["event_data"].get("res", {}).get("changed")
            for e in self.events
            if e.get("event") in ("runner_on_ok", "runner_item_on_ok")
        )

    def everything(self) -> str:
        """Every byte the run left: artifacts (events, stdout, command) and the captured stdout."""
        texts = [self.stdout]
        for path in (self.private_data_dir / "artifacts").rglob("*"):
            if path.is_file():
                texts.append(path.read_text(errors="replace"))
        return "\n".join(texts)


def record_timing(label: str, seconds: float) -> None:
    with TIMINGS.open("a") as out:
        out.write(json.dumps({"what": label, "seconds": round(seconds, 2)}) + "\n")


class Ansible:
    """Runs plays through ansible-runner against the sandbox, one fresh private dir per run, and
    checks that no canary secret appears in anything the run left behind."""

    def __init__(self, sandbox: Sandbox, workdir: Path, canaries: Callable[[], set[str]]) -> None:
        self.sandbox = sandbox
        self.workdir = workdir
        self.canaries = canaries

    def run(
        self,
        *,
        tasks: list[dict[str, Any]] | None = None,
        playbook: str | None = None,
        extravars: dict[str, Any] | None = None,
        check: bool = False,
        verbosity: int = 0,
        secret_vars: dict[str, str] | None = None,
        label: str = "",
        env: dict[str, str] | None = None,
    ) -> Run:
        """``secret_vars`` go to a vars file of the play (never extravars or environment, which
        ansible-runner copies into its artifacts); ``env`` adds environment variables (no
        secrets)."""
        private = Path(os.path.realpath(self.workdir)) / f"run-{time.monotonic_ns()}"
        (private / "project").mkdir(parents=True)
        if tasks is not None:
            play: list[dict[str, Any]] = [
                {"name": "test", "hosts": "localhost", "gather_facts": False, "tasks": tasks}
            ]
            if secret_vars:
                vars_file = private / "project" / "secret-vars.yml"
                vars_file.write_text(yaml.safe_dump(secret_vars))
                vars_file.chmod(0o600)
                play[0]["vars_files"] = [str(vars_file)]
            (private / "project" / "play.yml").write_text(yaml.safe_dump(play, sort_keys=False))
            target = str(private / "project" / "play.yml")
        else:
            assert playbook is not None
            target = str(REPO / "playbooks" / playbook)
        cmdline = " ".join(["--check"] if check else [])
        started = time.monotonic()
        runner = ansible_runner.run(
            private_data_dir=str(private),
            playbook=target,
            extravars=extravars or {},
            envvars={
                **self.sandbox.env(),
                "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
                "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                "ANSIBLE_NOCOLOR": "1",
                **(env or {}),
            },
            cmdline=cmdline or None,
            verbosity=verbosity,
            inventory="localhost ansible_connection=local ansible_python_interpreter="
            + sys.executable,
            quiet=True,
        )
        run = Run(
            status=runner.status,
            rc=runner.rc,
            events=list(runner.events),
            stdout=runner.stdout.read(),
            private_data_dir=private,
            seconds=time.monotonic() - started,
        )
        if label:
            record_timing(label, run.seconds)
        leaked = [c for c in self.canaries() if c in run.everything()]
        assert not leaked, f"{len(leaked)} secret value(s) in the run's output or artifacts"
        return run

    def register(self, namespace: str, model: dict[str, Any], label: str = "") -> Run:
        """register_model.yml with ``model`` in the instance's namespace."""
        extravars = {"litellm_models_namespace": namespace, "litellm_models_model": model}
        return self.run(playbook="register_model.yml", extravars=extravars, label=label)

    def keys(
        self,
        namespace: str,
        operation: str,
        *,
        key: dict[str, Any] | None = None,
        wait: int | None = None,
        check: bool = False,
        label: str = "",
        env: dict[str, str] | None = None,
    ) -> Run:
        """rotate_keys.yml's ``operation`` (with its ``key``, waiting ``wait`` s for rollouts)."""
        extravars: dict[str, Any] = {
            "litellm_keys_namespace": namespace,
            "litellm_keys_operation": operation,
        }
        if key is not None:
            extravars["litellm_keys_key"] = key
        if wait is not None:
            extravars["litellm_keys_wait_timeout"] = wait
        return self.run(
            playbook="rotate_keys.yml", extravars=extravars, check=check, label=label, env=env
        )


def keep_upstream_key(instance: Instance, upstream: FakeUpstream) -> None:
    """The fake upstream's API key in ``UPSTREAM_SECRET``, which model messages may reference."""
    instance.put_secret(UPSTREAM_SECRET, {"token": upstream.state.api_key}, ALLOW_REF)


def upstream_model(upstream: FakeUpstream, name: str = "granite", **extra: Any) -> dict[str, Any]:
    """A model served by the fake upstream, its API key read from ``UPSTREAM_SECRET``."""
    return {
        "name": name,
        "api_base": upstream.base_url,
        "api_key_secret": {"name": UPSTREAM_SECRET, "key": "token"},
        **extra,
    }


def assert_ok(run: Run) -> None:
    assert run.ok, f"run {run.status} (rc {run.rc}):\n{run.stdout[-6000:]}"


def read_key_secret(instance: Instance, name: str) -> str:
    value = instance.secret(name)["OPENAI_API_KEY"]
    instance.canaries.add(value)
    return value


def chat(url: str, key: str, model: str) -> Reply:
    return call(
        "POST",
        f"{url}/v1/chat/completions",
        key=key,
        body={"model": model, "messages": [{"role": "user", "content": "ping"}]},
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 30, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class RolloutWatcher:
    """Stands in for the kubelet: when the pod template of Deployment litellm changes (the roll
    that the checksum annotation causes), the proxy restarts on the same port with the values
    litellm-secret holds at that moment. Without a roll, the proxy keeps its old environment, as a
    running pod does."""

    def __init__(self, instance: Instance, on_roll: Callable[[], None] | None = None) -> None:
        self.instance = instance
        self.on_roll = on_roll  # called when the roll is seen, before the proxy restarts
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self.errors: list[str] = []

    def _template(self) -> str:
        obj = self.instance.sandbox.kube().get(
            f"/apis/apps/v1/namespaces/{self.instance.namespace}/deployments/litellm"
        )
        return json.dumps((obj or {}).get("spec", {}).get("template", {}), sort_keys=True)

    def __enter__(self) -> RolloutWatcher:
        self._seen = self._template()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=120)

    def _loop(self) -> None:
        while not self._stop.wait(0.3):
            template = self._template()
            if template == self._seen:
                continue
            self._seen = template
            if self.on_roll is not None:
                self.on_roll()
            data = self.instance.secret("litellm-secret")
            wanted = {k: data[k] for k in ("LITELLM_MASTER_KEY", "UI_PASSWORD") if k in data}
            self.instance.canaries.update(wanted.values())
            try:
                self.instance.pod.restart(**wanted)
            except RuntimeError as exc:  # the proxy did not come back: the test fails on it
                self.errors.append(str(exc))
                return
