"""The sandbox's supervisor process: control plane + node agent, torn down as one on SIGTERM.

It runs detached (its own session) so `make sandbox-up` can return; a test session passes its own
pid as `parent` so a killed test run still leaves nothing behind.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
from pathlib import Path

from . import binaries, profiles
from .agent import Agent
from .agent.kube import Kube
from .controlplane import ControlPlane

log = logging.getLogger("sandbox")


def write_env(directory: Path, kubeconfig: Path) -> None:
    """Shell `export` lines that point tools at this sandbox."""
    lines = [f"export KUBECONFIG={kubeconfig}", f"export K8S_AUTH_KUBECONFIG={kubeconfig}"]
    (directory / "env").write_text("\n".join(lines) + "\n")


def serve(directory: Path, profile_name: str, parent: int | None = None) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=directory / "logs" / "agent.log" if (directory / "logs").is_dir() else None,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    (directory / "supervisor.pid").write_text(str(os.getpid()))
    profile = profiles.PROFILES[profile_name]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    cp = ControlPlane(directory, binaries.find())
    agent: Agent | None = None
    try:
        cp.start()
        ca = directory / "pki" / "ca.crt"
        kubeconfig = directory / "kubeconfig"
        cp.write_kubeconfig(kubeconfig, "admin", ca)
        node_config = directory / "node.kubeconfig"
        cp.write_kubeconfig(node_config, "node", ca)
        profiles.seed(Kube(str(node_config)), profile, cp.server)
        agent = Agent(str(node_config), directory, profile.domain, profile.openshift)
        agent.start()
        info = {
            "profile": profile.name,
            "domain": profile.domain,
            "openshift": profile.openshift,
            "server": cp.server,
            "platform": profile.platform,
        }
        (directory / "info.json").write_text(json.dumps(info, indent=2))
        write_env(directory, kubeconfig)
        (directory / "ready").touch()
        log.info("sandbox %s ready at %s", profile.name, cp.server)
        while not stop.wait(0.5):
            if parent is not None and not _alive(parent):
                log.warning("parent %s is gone; stopping", parent)
                break
            dead = [p for p in cp.procs if p.poll() is not None]
            if dead:
                log.error("%s exited with %s; stopping", dead[0].args[0], dead[0].returncode)
                (directory / "failed").write_text(f"{dead[0].args[0]} exited\n")
                return 1
        return 0
    except Exception as exc:
        log.exception("sandbox failed")
        (directory / "failed").write_text(f"{type(exc).__name__}: {exc}\n")
        return 1
    finally:
        if agent is not None:
            agent.stop()
        cp.stop()
        (directory / "ready").unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
