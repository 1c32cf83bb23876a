"""The sandbox's supervisor process: control plane + node agent, torn down as one on SIGTERM.

It runs detached (its own session) so `make sandbox-up` can return; a test session passes its own
pid as `parent` so a killed test run still leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import ssl
import threading
from pathlib import Path

from . import binaries, profiles
from .agent import Agent
from .agent.kube import Kube
from .controlplane import ControlPlane, free_port
from .real.proxy import RouterProxy

log = logging.getLogger("sandbox")


#: files whose presence asks the supervisor to restart kube-apiserver or etcd (removed once back)
RESTART_APISERVER = "restart-apiserver"
RESTART_ETCD = "restart-etcd"


def ca_bundle(directory: Path) -> Path:
    """The machine's trusted CAs plus the sandbox CA, so Route hosts verify like public sites."""
    paths = ssl.get_default_verify_paths()
    system = next(
        (Path(p) for p in (paths.cafile, paths.openssl_cafile) if p and Path(p).is_file()), None
    )
    bundle = directory / "ca-bundle.crt"
    sandbox_ca = (directory / "pki" / "ca.crt").read_text()
    bundle.write_text((system.read_text() if system else "") + "\n" + sandbox_ca)
    return bundle


def write_env(directory: Path, kubeconfig: Path, router_port: int | None = None) -> None:
    """Shell `export` lines that point tools at this sandbox: the API, and Route hosts through the
    sandbox's router (proxy variables and a CA bundle that trusts the sandbox CA)."""
    lines = [f"export KUBECONFIG={kubeconfig}", f"export K8S_AUTH_KUBECONFIG={kubeconfig}"]
    if router_port is not None:
        proxy = f"http://127.0.0.1:{router_port}"
        bundle = ca_bundle(directory)
        for name in ("HTTP_PROXY", "HTTPS_PROXY"):
            lines += [f"export {name}={proxy}", f"export {name.lower()}={proxy}"]
        lines += ["export NO_PROXY=127.0.0.1,localhost", "export no_proxy=127.0.0.1,localhost"]
        for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            lines.append(f"export {name}={bundle}")
    (directory / "env").write_text("\n".join(lines) + "\n")


def serve(directory: Path, profile_name: str, parent: int | None = None, real: bool = False) -> int:
    """Start the sandbox in ``directory``, say it is ready, and keep it until it is told to stop,
    its parent is gone, or one of its processes exits (1: failed, the reason in ``failed``)."""
    directory.mkdir(parents=True, exist_ok=True)
    _log_to(directory)
    (directory / "supervisor.pid").write_text(str(os.getpid()))
    profile = profiles.PROFILES[profile_name]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    cp = ControlPlane(directory, binaries.find())
    agent: Agent | None = None
    router: RouterProxy | None = None
    try:
        cp.start()
        ca = directory / "pki" / "ca.crt"
        kubeconfig = directory / "kubeconfig"
        cp.write_kubeconfig(kubeconfig, "admin", ca)
        node_config = directory / "node.kubeconfig"
        cp.write_kubeconfig(node_config, "node", ca)
        profiles.seed(Kube(str(node_config)), profile, cp.server)
        agent = Agent(str(node_config), directory, profile.domain, profile.openshift, real=real)
        agent.start()
        router = RouterProxy(
            agent.route_target, agent.real.address_of_pod, directory / "pki", free_port()
        )
        router.start()
        _announce(directory, profile, cp, router.port, real)
        write_env(directory, kubeconfig, router.port)
        (directory / "ready").touch()
        log.info("sandbox %s ready at %s", profile.name, cp.server)
        return _supervise(directory, cp, stop, parent)
    except Exception as exc:
        log.exception("sandbox failed")
        (directory / "failed").write_text(f"{type(exc).__name__}: {exc}\n")
        return 1
    finally:
        if router is not None:
            router.stop()
        if agent is not None:
            agent.stop()  # stops real pods before the API they report to goes
        cp.stop()
        (directory / "ready").unlink(missing_ok=True)


def _log_to(directory: Path) -> None:
    logging.basicConfig(
        filename=directory / "logs" / "agent.log" if (directory / "logs").is_dir() else None,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )


def _announce(
    directory: Path, profile: profiles.Profile, cp: ControlPlane, router_port: int, real: bool
) -> None:
    """``info.json``: what the sandbox is and where its API server and router listen."""
    info = {
        "profile": profile.name,
        "domain": profile.domain,
        "openshift": profile.openshift,
        "server": cp.server,
        "etcd": cp.etcd_url,
        "platform": profile.platform,
        "real": real,
        "router": f"127.0.0.1:{router_port}",
    }
    (directory / "info.json").write_text(json.dumps(info, indent=2))


def _supervise(directory: Path, cp: ControlPlane, stop: threading.Event, parent: int | None) -> int:
    """Until ``stop``: carry out the restarts asked for by Sandbox.restart_* (a file each); end
    when the parent is gone (0) or a control-plane process exited (1)."""
    restarts = {RESTART_APISERVER: cp.restart_apiserver, RESTART_ETCD: cp.restart_etcd}
    while not stop.wait(0.5):
        for request, restart in restarts.items():
            if (directory / request).exists():
                restart()
                (directory / request).unlink()
        if parent is not None and not _alive(parent):
            log.warning("parent %s is gone; stopping", parent)
            break
        dead = [p for p in cp.procs if p.poll() is not None]
        if dead:
            log.error("%s exited with %s; stopping", dead[0].args[0], dead[0].returncode)
            (directory / "failed").write_text(f"{dead[0].args[0]} exited\n")
            return 1
    return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
