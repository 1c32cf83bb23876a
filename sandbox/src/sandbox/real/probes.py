"""Readiness, liveness and startup probes, run for real as the kubelet runs them.

httpGet and tcpSocket probes connect from the host to the pod's address (the kubelet probes from
the node too); exec probes run inside the container's namespaces with its environment.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import subprocess
from dataclasses import dataclass, field

from ..agent.kube import Obj
from .rootfs import exec_argv


@dataclass
class Prober:
    """The kubelet's bookkeeping for one probe of one container instance."""

    kind: str  # readiness | liveness | startup
    spec: Obj
    started: float  # when the container started
    successes: int = 0
    failures: int = 0
    passed: bool = False  # current result after thresholds
    next_due: float = field(default=0.0)
    in_flight: bool = False
    last_message: str = ""

    def __post_init__(self) -> None:
        self.next_due = self.started + float(self.spec.get("initialDelaySeconds", 0))
        # Until a liveness probe fails, the container is alive.
        self.passed = self.kind == "liveness"

    @property
    def period(self) -> float:
        return float(self.spec.get("periodSeconds", 10))

    @property
    def timeout(self) -> float:
        return float(self.spec.get("timeoutSeconds", 1))

    def due(self, now: float) -> bool:
        return not self.in_flight and now >= self.next_due

    def record(self, ok: bool, message: str, now: float) -> bool:
        """Take one result; returns True when the thresholded result changed."""
        self.in_flight = False
        self.next_due = now + self.period
        self.last_message = message
        before = self.passed
        if ok:
            self.successes, self.failures = self.successes + 1, 0
            if self.successes >= int(self.spec.get("successThreshold", 1)):
                self.passed = True
        else:
            self.failures, self.successes = self.failures + 1, 0
            if self.failures >= int(self.spec.get("failureThreshold", 3)):
                self.passed = False
        return self.passed != before

    @property
    def gave_up(self) -> bool:
        return self.failures >= int(self.spec.get("failureThreshold", 3))


def _port(value: int | str, container: Obj) -> int:
    if isinstance(value, int) or str(value).isdigit():
        return int(value)
    for port in container.get("ports", []):
        if port.get("name") == value:
            return int(port["containerPort"])
    raise ValueError(f"no container port named {value}")


def run_probe(
    spec: Obj,
    container: Obj,
    pod_ip: str,
    pid: int | None,
    env: dict[str, str],
    user: tuple[int, int] | None,
    timeout: float,
) -> tuple[bool, str]:
    """One attempt: (success, message). Never raises for a failing target."""
    try:
        if "exec" in spec:
            if pid is None:
                return False, "container not running"
            result = subprocess.run(
                exec_argv(pid, user, list(spec["exec"].get("command", []))),
                env=env,
                capture_output=True,
                timeout=timeout,
                check=False,
            )
            output = (result.stdout + result.stderr).decode(errors="replace").strip()
            return result.returncode == 0, output[-300:]
        if "tcpSocket" in spec:
            port = _port(spec["tcpSocket"]["port"], container)
            with socket.create_connection((pod_ip, port), timeout=timeout):
                return True, ""
        if "httpGet" in spec:
            get = spec["httpGet"]
            port = _port(get["port"], container)
            conn: http.client.HTTPConnection
            if get.get("scheme", "HTTP").upper() == "HTTPS":
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE  # the kubelet does not verify probe certificates
                conn = http.client.HTTPSConnection(pod_ip, port, timeout=timeout, context=ctx)
            else:
                conn = http.client.HTTPConnection(pod_ip, port, timeout=timeout)
            headers = {h["name"]: h["value"] for h in get.get("httpHeaders", [])}
            headers.setdefault("User-Agent", "kube-probe/1.20")
            try:
                conn.request("GET", get.get("path", "/"), headers=headers)
                status = conn.getresponse().status
            finally:
                conn.close()
            return 200 <= status < 400, f"HTTP probe failed with statuscode: {status}"
        return False, "probe has no handler"
    except subprocess.TimeoutExpired:
        return False, f"command timed out after {timeout}s"
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return False, str(exc)
