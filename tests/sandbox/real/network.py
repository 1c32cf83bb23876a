"""Pod networks: one bridge per sandbox, one network namespace and address per pod.

Every address is inside namespaces and a bridge this sandbox creates; pods get no default route,
so nothing a pod sends can leave the machine, and the host reaches pods only through the bridge.
Names carry a tag derived from the state directory, so teardown (even after a crash of the
supervisor) finds exactly what this sandbox made.
"""

from __future__ import annotations

import fcntl
import hashlib
import ipaddress
import json
import logging
import os
import signal
import subprocess
import threading
from pathlib import Path

log = logging.getLogger("sandbox.real")
NETNS_DIR = Path("/run/netns")
# Second octets tried for a sandbox's /16, all inside 10.0.0.0/8 (private).
CANDIDATES = range(90, 250)


class NetworkError(RuntimeError):
    pass


def tag_of(state_dir: Path) -> str:
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:6]


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result


def _used_networks() -> list[ipaddress.IPv4Network]:
    routes = json.loads(_ip("-j", "-4", "route", "show", "table", "all").stdout or "[]")
    nets = []
    for route in routes:
        dst = route.get("dst", "")
        if dst and dst != "default" and "/" in dst:
            try:
                nets.append(ipaddress.IPv4Network(dst, strict=False))
            except ValueError:
                continue
        elif dst and dst != "default":
            try:
                nets.append(ipaddress.IPv4Network(f"{dst}/32"))
            except ValueError:
                continue
    return nets


class PodNetwork:
    def __init__(self, state_dir: Path) -> None:
        self.tag = tag_of(state_dir)
        self.bridge = f"lms{self.tag}"
        self.record = state_dir / "network.json"
        self.subnet: ipaddress.IPv4Network | None = None
        self._lock = threading.Lock()
        self._used: set[str] = set()

    def netns(self, uid: str) -> str:
        return f"lms{self.tag}-{uid[:13]}"

    def gateway(self) -> str:
        assert self.subnet is not None
        return str(self.subnet.network_address + 1)

    def contains(self, address: str) -> bool:
        try:
            return self.subnet is not None and ipaddress.ip_address(address) in self.subnet
        except ValueError:
            return False

    def _ensure_bridge(self) -> None:
        if self.subnet is not None:
            return
        # Two sandboxes starting at once must pick different networks. The lock is on a directory
        # that always exists, so no lock file is left behind.
        fd = os.open("/run", os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            used = _used_networks()
            for octet in CANDIDATES:
                net = ipaddress.IPv4Network(f"10.{octet}.0.0/16")
                if not any(net.overlaps(u) for u in used):
                    break
            else:
                raise NetworkError("no free 10.x.0.0/16 for the pod network")
            _ip("link", "add", self.bridge, "type", "bridge")
            self.record.write_text(json.dumps({"bridge": self.bridge, "subnet": str(net)}))
            _ip("addr", "add", f"{net.network_address + 1}/16", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            self.subnet = net
        finally:
            os.close(fd)
        log.info("pod network %s on bridge %s", net, self.bridge)

    def add_pod(self, uid: str) -> tuple[str, str]:
        """Create the pod's namespace and veth; returns (netns name, address)."""
        with self._lock:
            self._ensure_bridge()
            assert self.subnet is not None
            address = next(
                str(host)
                for host in self.subnet.hosts()
                if int(host) - int(self.subnet.network_address) > 1 and str(host) not in self._used
            )
            self._used.add(address)
        name = self.netns(uid)
        host_end = f"lmv{self.tag}{uid[:6]}"
        self.remove_pod(uid)  # a namespace left by an earlier, interrupted attempt
        _ip("netns", "add", name)
        try:
            _ip("link", "add", host_end, "type", "veth", "peer", "name", "eth0", "netns", name)
            _ip("link", "set", host_end, "master", self.bridge, "up")
            _ip("-n", name, "addr", "add", f"{address}/16", "dev", "eth0")
            _ip("-n", name, "link", "set", "eth0", "up")
            _ip("-n", name, "link", "set", "lo", "up")
        except NetworkError:
            self.remove_pod(uid)
            with self._lock:
                self._used.discard(address)
            raise
        return name, address

    def release(self, address: str) -> None:
        with self._lock:
            self._used.discard(address)

    def remove_pod(self, uid: str) -> None:
        name = self.netns(uid)
        if (NETNS_DIR / name).exists():
            kill_netns_processes(name)
            _ip("netns", "del", name, check=False)


def netns_pids(name: str) -> list[int]:
    result = _ip("netns", "pids", name, check=False)
    return [int(p) for p in result.stdout.split()]


def kill_netns_processes(name: str) -> None:
    for pid in netns_pids(name):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


def teardown(state_dir: Path) -> list[str]:
    """Remove every namespace and the bridge of the sandbox in `state_dir`, killing what runs in
    them. Safe to call after a crash and more than once; returns what was removed."""
    tag = tag_of(state_dir)
    removed = []
    if NETNS_DIR.is_dir():
        for entry in sorted(NETNS_DIR.iterdir()):
            if entry.name.startswith(f"lms{tag}-"):
                kill_netns_processes(entry.name)
                _ip("netns", "del", entry.name, check=False)
                removed.append(entry.name)
    if _ip("link", "show", f"lms{tag}", check=False).returncode == 0:
        _ip("link", "del", f"lms{tag}", check=False)
        removed.append(f"lms{tag}")
    return removed
