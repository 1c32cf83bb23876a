"""Start, stop and talk to a sandbox from tests and from the command line."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from kubernetes import client as k8s
from kubernetes import config as k8s_config

from .agent.faults import ANNOTATION
from .agent.kube import Kube
from .real.controller_image import IMAGE_ENV as CONTROLLER_IMAGE_ENV
from .real.litellm_image import ensure_runtime
from .real.network import teardown as real_teardown
from .supervisor import RESTART_APISERVER, RESTART_ETCD

PLURAL_PATHS = {
    "deployment": "/apis/apps/v1/namespaces/{ns}/deployments/{name}",
    "statefulset": "/apis/apps/v1/namespaces/{ns}/statefulsets/{name}",
    "job": "/apis/batch/v1/namespaces/{ns}/jobs/{name}",
    "pod": "/api/v1/namespaces/{ns}/pods/{name}",
}


class SandboxError(RuntimeError):
    pass


class Sandbox:
    """A handle on a running sandbox, found by its state directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory.resolve()

    # -- lifecycle -------------------------------------------------------------------------
    @classmethod
    def start(
        cls,
        directory: Path,
        profile: str = "aws",
        parent: int | None = None,
        timeout: float = 120,
        real: bool = False,
        controller_image: Path | None = None,
    ) -> Sandbox:
        """Start a sandbox (or return the one running in `directory`). `real`: pods of known images
        run as real processes everywhere, not only in namespaces labelled for it.
        `controller_image`: the directory the controller's image was carried out into, with its
        `image.json` (`litemaas-controller:*` pods run it; see `real/controller_image.py`)."""
        directory = directory.resolve()
        existing = cls(directory)
        if existing.running():
            return existing
        if directory.exists():
            cls(directory).stop()
        (directory / "logs").mkdir(parents=True, exist_ok=True)
        if real:  # LiteLLM pods run the real proxy from a cached runtime: install it first
            ensure_runtime()
        proc = _spawn_supervisor(directory, profile, parent, real, controller_image)
        cls._wait_started(directory, proc, timeout)
        return cls(directory)

    @classmethod
    def _wait_started(cls, directory: Path, proc: subprocess.Popen[bytes], timeout: float) -> None:
        """Until the supervisor says ``ready``; a sandbox that failed or is late is stopped."""
        deadline = time.monotonic() + timeout
        while not (directory / "ready").exists():
            if proc.poll() is not None or (directory / "failed").exists():
                reason = (
                    (directory / "failed").read_text() if (directory / "failed").exists() else ""
                )
                tail = (directory / "logs" / "supervisor.log").read_text()[-2000:]
                cls(directory).stop()
                raise SandboxError(f"sandbox did not start: {reason}\n{tail}")
            if time.monotonic() > deadline:
                cls(directory).stop()
                raise SandboxError(f"sandbox not ready after {timeout}s; logs in {directory}/logs")
            time.sleep(0.1)

    def running(self) -> bool:
        pid = self.supervisor_pid()
        return pid is not None and _alive(pid) and (self.directory / "ready").exists()

    def supervisor_pid(self) -> int | None:
        try:
            return int((self.directory / "supervisor.pid").read_text())
        except (OSError, ValueError):
            return None

    def stop(self, timeout: float = 30) -> None:
        """Stop everything this sandbox started and remove its state directory."""
        pid = self.supervisor_pid()
        if pid is not None and _alive(pid):
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + timeout
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)
        for child in self._recorded_pids():
            if _alive(child):
                os.kill(child, signal.SIGKILL)
        # Real pods' processes, namespaces and bridge, should the supervisor have died first.
        real_teardown(self.directory)
        shutil.rmtree(self.directory, ignore_errors=True)

    def _recorded_pids(self) -> list[int]:
        try:
            lines = (self.directory / "pids").read_text().split("\n")
        except OSError:
            return []
        return [int(line.split()[0]) for line in lines if line.strip()]

    # -- facts -------------------------------------------------------------------------------
    @property
    def info(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads((self.directory / "info.json").read_text())
        return result

    @property
    def profile(self) -> str:
        return str(self.info["profile"])

    @property
    def domain(self) -> str:
        return str(self.info["domain"])

    @property
    def kubeconfig(self) -> Path:
        return self.directory / "kubeconfig"

    @property
    def audit_log(self) -> Path:
        return self.directory / "audit.log"

    def env(self) -> dict[str, str]:
        """Environment variables that point kubectl, Python and Ansible at this sandbox."""
        env = {}
        for line in (self.directory / "env").read_text().splitlines():
            if line.startswith("export "):
                key, _, value = line[len("export ") :].partition("=")
                env[key] = value
        return env

    def client(self) -> Any:
        """A kubernetes.client.ApiClient for the admin user."""
        conf = k8s.Configuration()
        k8s_config.load_kube_config(config_file=str(self.kubeconfig), client_configuration=conf)
        return k8s.ApiClient(conf)

    def kube(self) -> Kube:
        return Kube(str(self.kubeconfig))

    def audit_events(self, user: str | None = None) -> list[dict[str, Any]]:
        events = []
        with self.audit_log.open() as f:
            for line in f:
                event = json.loads(line)
                if user is None or event.get("user", {}).get("username") == user:
                    events.append(event)
        return events

    def restart_apiserver(self, timeout: float = 90) -> None:
        """Restart kube-apiserver (same port, same etcd); return once it answers again."""
        self._restart(RESTART_APISERVER, "kube-apiserver", timeout)

    def restart_etcd(self, timeout: float = 90) -> None:
        """Restart etcd (same data); return once kube-apiserver is ready on it again."""
        self._restart(RESTART_ETCD, "etcd", timeout)

    def _restart(self, request_file: str, what: str, timeout: float) -> None:
        request = self.directory / request_file
        request.touch()
        deadline = time.monotonic() + timeout
        while request.exists():
            if (self.directory / "failed").exists() or time.monotonic() > deadline:
                raise SandboxError(f"{what} did not come back; logs in {self.directory}/logs")
            time.sleep(0.1)

    def compact_etcd(self) -> int:
        """Compact etcd's history up to now, as kube-apiserver does every few minutes; return the
        revision. Two writes of a key of the sandbox's own come first, so that the revision after
        the last change of any kind is compacted too."""
        put = {"key": _b64("sandbox/compaction"), "value": _b64("x")}
        self._etcd("put", put)
        written = self._etcd("put", put)
        revision = int(written["header"]["revision"])
        self._etcd("compaction", {"revision": revision, "physical": True})
        return revision

    def _etcd(self, call: str, body: dict[str, Any]) -> dict[str, Any]:
        """etcd's JSON gateway (plain HTTP on loopback)."""
        request = urllib.request.Request(
            f"{self.info['etcd']}/v3/kv/{call}", data=json.dumps(body).encode(), method="POST"
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer: dict[str, Any] = json.loads(response.read())
        return answer

    # -- faults ------------------------------------------------------------------------------
    def set_fault(self, kind: str, namespace: str, name: str, fault: str | None) -> None:
        """Set (or with None clear) a fault on a pod or workload: crashloop, imagepull, notready,
        oomkilled, delete, fail."""
        path = PLURAL_PATHS[kind.lower()].format(ns=namespace, name=name)
        if self.kube().patch(path, {"metadata": {"annotations": {ANNOTATION: fault}}}) is None:
            raise SandboxError(f"{kind}/{name} not found in {namespace}")

    def clear_fault(self, kind: str, namespace: str, name: str) -> None:
        self.set_fault(kind, namespace, name, None)


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0); treat it as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _spawn_supervisor(
    directory: Path, profile: str, parent: int | None, real: bool, controller_image: Path | None
) -> subprocess.Popen[bytes]:
    """``python -m sandbox serve`` for ``directory``, in a session of its own, logging to
    ``logs/supervisor.log``."""
    argv = [sys.executable, "-m", "sandbox", "--dir", str(directory), "serve", "--profile", profile]
    if parent is not None:
        argv += ["--parent", str(parent)]
    if real:
        argv.append("--real")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    if controller_image is not None:
        env[CONTROLLER_IMAGE_ENV] = str(controller_image.resolve())
    with (directory / "logs" / "supervisor.log").open("ab") as log:
        return subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            stdin=subprocess.DEVNULL,
        )
