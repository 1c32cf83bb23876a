"""Pod networks: one bridge per sandbox, one network namespace and address per pod.

Every address is inside namespaces and a bridge this sandbox creates; pods get no default route,
so nothing a pod sends can leave the machine, and the host reaches pods only through the bridge.
A pod's namespace is pinned by a bind mount in the state directory (`<state>/netns/<name>`), not
in /run/netns, so nothing of it lives outside the state directory. Interface names carry a tag
derived from the state directory, so teardown (even after the supervisor crashed) finds exactly
what this sandbox made.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import ipaddress
import json
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from . import procfs

log = logging.getLogger("sandbox.real")
# The /16s tried for a sandbox's pods, all private: 10.90-10.249, then 172.16-172.31.
CANDIDATES = [f"10.{n}.0.0/16" for n in range(90, 250)] + [f"172.{n}.0.0/16" for n in range(16, 32)]


class NetworkError(RuntimeError):
    pass


def tag_of(state_dir: Path) -> str:
    return hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:6]


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise NetworkError(f"{' '.join(argv)}: {result.stderr.strip()}")
    return result


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run("ip", *args, check=check)


def _used_networks() -> list[ipaddress.IPv4Network]:
    routes = json.loads(_ip("-j", "-4", "route", "show", "table", "all").stdout or "[]")
    nets = []
    for route in routes:
        dst = route.get("dst", "")
        if not dst or dst == "default":
            continue
        with contextlib.suppress(ValueError):
            nets.append(ipaddress.IPv4Network(dst if "/" in dst else f"{dst}/32", strict=False))
    return nets


def processes_in(path: Path) -> list[int]:
    """PIDs of the processes whose network namespace is the one pinned at `path`."""
    try:
        return procfs.sharing("net", path.stat().st_ino)
    except OSError:
        return []


def _unpin(path: Path) -> None:
    """Kill what runs in the namespace at `path`, then drop the pin: the namespace (and the veth
    in it) goes with its last process."""
    for pid in processes_in(path):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while processes_in(path) and time.monotonic() < deadline:  # SIGKILL is not instant
        time.sleep(0.02)
    for _ in range(5):  # a pin mounted twice needs two umounts
        if not os.path.ismount(path):
            break
        if _run("umount", str(path), check=False).returncode != 0:
            _run("umount", "-l", str(path), check=False)
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("could not remove the namespace pin %s: %s", path, exc)


ALIAS = "litemaas-sandbox"


def owner_alias(state_dir: Path) -> str:
    """Written on the bridge: which process owns it, so a later sandbox can sweep what a killed
    one left (its pid with its start time: pids are reused quickly here)."""
    pid = os.getpid()
    return f"{ALIAS} {pid} {procfs.start_time(pid)} {state_dir}"


def sweep_orphans() -> list[str]:
    """Tear down pod networks whose owning supervisor is gone (killed with SIGKILL, say)."""
    if shutil.which("ip") is None:
        return []
    removed = []
    for link in json.loads(_ip("-j", "link", "show").stdout or "[]"):
        words = str(link.get("ifalias", "")).split(" ", 3)
        if len(words) != 4 or words[0] != ALIAS or not words[1].isdigit():
            continue
        if procfs.start_time(int(words[1])) == words[2]:
            continue  # its supervisor still runs
        removed += teardown(Path(words[3]))
    return removed


class PodNetwork:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.tag = tag_of(state_dir)
        self.bridge = f"lms{self.tag}"
        self.pins = state_dir / "netns"
        self.record = state_dir / "network.json"
        self.subnet: ipaddress.IPv4Network | None = None
        self._lock = threading.Lock()
        self._used: set[str] = set()
        self._next = 0  # where the next address search starts

    def netns(self, uid: str) -> str:
        return f"lms{self.tag}-{uid[:13]}"

    def path(self, uid: str) -> Path:
        """Where the pod's network namespace is pinned (nsenter --net=PATH enters it)."""
        return self.pins / self.netns(uid)

    def _host_end(self, uid: str) -> str:
        return f"lmv{self.tag}{uid[:6]}"  # 15 characters: the kernel's limit

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
            net = next(
                (
                    n
                    for c in CANDIDATES
                    if not any((n := ipaddress.IPv4Network(c)).overlaps(u) for u in used)
                ),
                None,
            )
            if net is None:
                raise NetworkError("no free private /16 for the pod network")
            _ip("link", "add", self.bridge, "type", "bridge")
            self.record.write_text(json.dumps({"bridge": self.bridge, "subnet": str(net)}))
            _ip("addr", "add", f"{net.network_address + 1}/{net.prefixlen}", "dev", self.bridge)
            _ip("link", "set", self.bridge, "alias", owner_alias(self.state_dir))
            _ip("link", "set", self.bridge, "up")
            self.subnet = net
        finally:
            os.close(fd)
        log.info("pod network %s on bridge %s", net, self.bridge)

    def add_pod(self, uid: str) -> tuple[Path, str]:
        """Create the pod's namespace and veth; returns (namespace pin, address)."""
        with self._lock:
            self._ensure_bridge()
            assert self.subnet is not None
            address = self._allocate()
        path = self.path(uid)
        self.remove_pod(uid)  # what an earlier, interrupted attempt left
        self.pins.mkdir(exist_ok=True)
        path.touch()
        prefix = self.subnet.prefixlen
        inside = ("nsenter", f"--net={path}", "ip")
        try:
            _run("unshare", f"--net={path}", "true")
            _ip("link", "add", self._host_end(uid), "type", "veth", "peer", "name", "eth0",
                "netns", str(path))  # fmt: skip
            _ip("link", "set", self._host_end(uid), "master", self.bridge, "up")
            _run(*inside, "addr", "add", f"{address}/{prefix}", "dev", "eth0")
            _run(*inside, "link", "set", "eth0", "up")
            _run(*inside, "link", "set", "lo", "up")
        except NetworkError:
            self.remove_pod(uid)
            self.release(address)
            raise
        return path, address

    def add_local_address(self, uid: str, address: str) -> None:
        """Give the pod's loopback one more address (a Service's ClusterIP that answers there)."""
        _run("nsenter", f"--net={self.path(uid)}", "ip", "addr", "replace", f"{address}/32",
             "dev", "lo")  # fmt: skip

    def _allocate(self) -> str:
        """The next free address after the last one given: a released address is not reused
        until the network wraps, so no neighbour (ARP) entry of a gone pod points a new pod's
        traffic at a MAC address that no longer exists."""
        assert self.subnet is not None
        first = int(self.subnet.network_address) + 2
        size = self.subnet.num_addresses - 3  # minus network, bridge and broadcast addresses
        self._next = max(self._next, first)
        for step in range(size):
            candidate = str(ipaddress.IPv4Address(first + (self._next - first + step) % size))
            if candidate not in self._used:
                self._next = int(ipaddress.IPv4Address(candidate)) + 1
                self._used.add(candidate)
                return candidate
        raise NetworkError(f"no free address left in {self.subnet}")

    def release(self, address: str) -> None:
        with self._lock:
            self._used.discard(address)
        # Forget the gone pod's MAC address at once (it would wrap round one day).
        _ip("neigh", "flush", "to", address, "dev", self.bridge, check=False)

    def remove_pod(self, uid: str) -> None:
        _unpin(self.path(uid))
        # Deleting one end of a veth deletes both, even while something still holds the namespace.
        _ip("link", "del", self._host_end(uid), check=False)


def teardown(state_dir: Path) -> list[str]:
    """Remove every pod namespace, veth and the bridge of the sandbox in `state_dir`, killing what
    runs in them. Safe after a crash and more than once; returns what was removed."""
    tag = tag_of(state_dir)
    removed = []
    pins = state_dir / "netns"
    if pins.is_dir():
        for pin in sorted(pins.iterdir()):
            _unpin(pin)
            removed.append(pin.name)
    if shutil.which("ip") is None:  # never had real pods: a machine without iproute2
        return removed
    links = json.loads(_ip("-j", "link", "show").stdout or "[]")
    for link in links:
        name = link.get("ifname", "")
        if name.startswith((f"lmv{tag}", f"lms{tag}")):
            _ip("link", "del", name, check=False)
            removed.append(name)
    return removed
