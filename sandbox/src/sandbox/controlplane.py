"""etcd, kube-apiserver and kube-controller-manager as child processes on loopback."""

from __future__ import annotations

import secrets
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import pki as pki_mod
from .binaries import Binaries

AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: Metadata
"""

# Users of the static token file. Distinct names keep each actor's requests apart in the audit log.
USERS = {
    "admin": ("admin", "system:masters"),
    "controller-manager": ("system:kube-controller-manager", "system:masters"),
    "node": ("system:node:sandbox-node", "system:masters"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ControlPlane:
    """The processes of one sandbox and the credentials to reach them."""

    directory: Path
    binaries: Binaries
    tokens: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    api_port: int = 0
    etcd_url: str = ""

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.api_port}"

    @property
    def audit_log(self) -> Path:
        return self.directory / "audit.log"

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        logs = self.directory / "logs"
        logs.mkdir(exist_ok=True)
        with (logs / f"{name}.log").open("ab") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        (self.directory / "pids").open("a").write(f"{proc.pid} {name}\n")
        return proc

    def start(self) -> None:
        """etcd, then kube-apiserver (waited for), then kube-controller-manager."""
        self.directory.mkdir(parents=True, exist_ok=True)
        pki = pki_mod.create(self.directory / "pki")
        self._start_etcd()
        self._start_apiserver(pki)
        self._wait_ready(pki.ca_cert)
        self._start_controller_manager(pki)

    def _start_etcd(self) -> None:
        etcd_port, peer_port = free_port(), free_port()
        self.etcd_url = f"http://127.0.0.1:{etcd_port}"
        peer_url = f"http://127.0.0.1:{peer_port}"
        self._spawn("etcd", [
            str(self.binaries.etcd),
            "--name=sandbox",
            f"--data-dir={self.directory / 'etcd'}",
            f"--listen-client-urls={self.etcd_url}",
            f"--advertise-client-urls={self.etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=sandbox={peer_url}",
            "--unsafe-no-fsync",
            "--log-level=warn",
        ])  # fmt: skip

    def _write_tokens(self) -> Path:
        """The static token file: a fresh token for each of USERS, readable by us alone."""
        self.tokens = {user: secrets.token_hex(16) for user in USERS}
        path = self.directory / "tokens.csv"
        path.write_text("".join(
            f'{self.tokens[u]},{name},{name},"{group}"\n' for u, (name, group) in USERS.items()
        ))  # fmt: skip
        path.chmod(0o600)
        return path

    def _start_apiserver(self, pki: pki_mod.Pki) -> None:
        tokens = self._write_tokens()
        policy = self.directory / "audit-policy.yaml"
        policy.write_text(AUDIT_POLICY)
        self.api_port = free_port()
        self._spawn("kube-apiserver", [
            str(self.binaries.apiserver),
            f"--etcd-servers={self.etcd_url}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={self.api_port}",
            "--insecure-port=0",
            f"--tls-cert-file={pki.server_cert}",
            f"--tls-private-key-file={pki.server_key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--token-auth-file={tokens}",
            "--authorization-mode=RBAC",
            f"--service-account-key-file={pki.sa_pub}",
            f"--service-account-signing-key-file={pki.sa_key}",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            "--api-audiences=https://kubernetes.default.svc.cluster.local",
            f"--service-cluster-ip-range={pki_mod.SERVICE_CIDR}",
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
            f"--audit-policy-file={policy}",
            f"--audit-log-path={self.audit_log}",
            "--audit-log-format=json",
            "--enable-priority-and-fairness=false",
            "--profiling=false",
            "--v=1",
        ])  # fmt: skip

    def _start_controller_manager(self, pki: pki_mod.Pki) -> None:
        kubeconfig = self.directory / "controller-manager.kubeconfig"
        self.write_kubeconfig(kubeconfig, "controller-manager", pki.ca_cert)
        self._spawn("kube-controller-manager", [
            str(self.binaries.controller_manager),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--leader-elect=false",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            "--port=0",
            f"--service-account-private-key-file={pki.sa_key}",
            f"--root-ca-file={pki.ca_cert}",
            "--use-service-account-credentials=false",
            # No cloud, no kubelet, no real nodes: keep the controllers of API objects.
            "--controllers=*,-nodeipam,-nodelifecycle,-cloud-node-lifecycle,-service,-route,"
            "-attachdetach,-persistentvolume-expander,-csrsigning,-csrapproving,-csrcleaner,"
            "-bootstrapsigner,-tokencleaner,-ttl,-ttl-after-finished",
            "--concurrent-deployment-syncs=5",
            "--v=1",
        ])  # fmt: skip

    def _wait_ready(self, ca: Path, timeout: float = 60.0) -> None:
        ctx = ssl.create_default_context(cafile=str(ca))
        req = urllib.request.Request(
            f"{self.server}/readyz", headers={"Authorization": f"Bearer {self.tokens['admin']}"}
        )
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"{proc.args[0]} exited with {proc.returncode}; see logs/")
            try:
                with urllib.request.urlopen(req, context=ctx, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError) as exc:
                last = str(exc)
            time.sleep(0.2)
        raise TimeoutError(f"kube-apiserver not ready after {timeout}s: {last}")

    def write_kubeconfig(self, path: Path, user: str, ca: Path) -> None:

        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "sandbox",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority": str(ca),
                    },
                }
            ],
            "users": [{"name": user, "user": {"token": self.tokens[user]}}],
            "contexts": [{"name": "sandbox", "context": {"cluster": "sandbox", "user": user}}],
            "current-context": "sandbox",
        }
        path.write_text(yaml.safe_dump(config))
        path.chmod(0o600)

    def restart_apiserver(self, grace: float = 10.0) -> None:
        """Stop kube-apiserver and start it again on the same port and etcd, as an upgrade or a
        crash does: every watch on it drops, and its watch cache starts empty."""
        self._respawn("kube-apiserver", self.binaries.apiserver, grace)
        self._wait_ready(self.directory / "pki" / "ca.crt")

    def restart_etcd(self, grace: float = 10.0) -> None:
        """Stop etcd and start it again on its data: kube-apiserver's watches on it resume from
        their last revisions, and a kind whose revision etcd compacted meanwhile is listed again
        (its watch cache starts again, its watchers are ended)."""
        self._respawn("etcd", self.binaries.etcd, grace)
        self._wait_ready(self.directory / "pki" / "ca.crt")

    def _respawn(self, name: str, binary: Path, grace: float) -> None:
        proc = next(p for p in self.procs if p.args[0] == str(binary))
        _end(proc, grace)
        place = self.procs.index(proc)
        self.procs.remove(proc)
        self._spawn(name, [str(arg) for arg in proc.args])
        self.procs.insert(place, self.procs.pop())  # where the old one was: stopped in its turn

    def stop(self, grace: float = 10.0) -> None:
        """Stop in reverse order of start; SIGKILL whatever ignores SIGTERM."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                _end(proc, grace)
        self.procs.clear()


def _end(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM, and SIGKILL if it still runs after ``grace`` seconds."""
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
