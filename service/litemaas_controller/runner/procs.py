"""Finding and ending every process of a run, through /proc.

ansible-playbook's task workers call ``setsid()`` and module processes hang below them, so
neither the process group nor the session of the leading process covers a run.  Every process of
a run inherits the marker ``LITEMAAS_RUN_MARKER=<ledger id>/<replica>/<run id>`` in its
environment; the marker survives re-parenting to init after the service dies, which is what lets
a restarted service find the runs it no longer owns, and only its own: replicas sharing a ledger
on one host leave each other's processes alone.  The two-part ``<ledger id>/<run id>`` of a
controller from before replicas were named (always a single replica) counts as any replica's.
Descendants of the recorded leader (checked against its start time, so a reused PID is never
hit) are ended too, in case one cleared its environment.
Signals go through pidfds where the kernel has them (the process found by a scan is the one
signalled, never a later holder of its pid), else through ``kill`` after a start-time check.
"""

from __future__ import annotations

import functools
import os
import re
import select
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MARKER = "LITEMAAS_RUN_MARKER"
PROC = Path("/proc")


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    start: int  # clock ticks after boot: with the pid, names a process unambiguously
    zombie: bool


def read_proc(pid: int) -> Proc | None:
    """The process ``pid`` or None when it is gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # the command name (field 2) may hold spaces and parentheses: split after the last ')'
    fields = stat[stat.rindex(")") + 2 :].split()
    return Proc(pid=pid, ppid=int(fields[1]), start=int(fields[19]), zombie=fields[0] in "ZX")


def start_time(pid: int) -> int | None:
    proc = read_proc(pid)
    return None if proc is None else proc.start


def _environ_has(pid: int, needle: bytes) -> bool:
    try:
        data = (PROC / str(pid) / "environ").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    return needle in data.split(b"\0")


def all_procs() -> list[Proc]:
    found = []
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (proc := read_proc(int(entry.name))) is not None:
            found.append(proc)
    return found


def marker_value(ledger_id: str, replica: str, run_id: str) -> str:
    return f"{ledger_id}/{replica}/{run_id}"


#: each part of a marker read back from /proc, whole: a ledger id, a replica name (a DNS
#: subdomain), a run id; anything else in an environment is not a marker of ours
_PART = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")


@dataclass(frozen=True)
class Marker:
    """A run marker read back from a process's environment."""

    ledger_id: str
    replica: str | None  # None: the two-part form of a controller from before replicas were named
    run_id: str

    def names(self, ledger_id: str, replica: str) -> bool:
        """True when the marker is this ledger's and this replica's (or of the two-part form)."""
        return self.ledger_id == ledger_id and self.replica in (None, replica)

    def __str__(self) -> str:
        parts = (self.ledger_id, self.replica, self.run_id)
        return "/".join(p for p in parts if p is not None)


def parse_marker(value: bytes) -> Marker | None:
    """The marker ``value`` holds (what follows ``LITEMAAS_RUN_MARKER=``), or None when it is
    not one: not ASCII, not two or three parts, or a part outside its pattern."""
    try:
        parts = value.decode("ascii").split("/")
    except UnicodeDecodeError:
        return None
    if len(parts) not in (2, 3) or not all(_PART.fullmatch(p) for p in parts):
        return None
    replica = parts[1] if len(parts) == 3 else None
    return Marker(ledger_id=parts[0], replica=replica, run_id=parts[-1])


def _marker_values(pid: int) -> list[bytes]:
    """What follows ``LITEMAAS_RUN_MARKER=`` in the environment of ``pid`` (nothing when it is
    gone or not readable)."""
    try:
        env = (PROC / str(pid) / "environ").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return []
    prefix = f"{MARKER}=".encode()
    return [item[len(prefix) :] for item in env if item.startswith(prefix)]


def carries_another_marker(pid: int, ledger_id: str, replica: str) -> bool:
    """True when ``pid`` carries a run marker that is not this ledger's and this replica's, or a
    value that is no marker at all."""
    return any(
        (m := parse_marker(v)) is None or not m.names(ledger_id, replica)
        for v in _marker_values(pid)
    )


def run_processes(marker: str, leader: tuple[int, int] | None = None) -> list[Proc]:
    """Live (non-zombie) processes carrying ``marker``, plus the leader's descendants."""
    procs = [p for p in all_procs() if not p.zombie and p.pid != os.getpid()]
    needle = f"{MARKER}={marker}".encode()
    members = {p.pid for p in procs if _environ_has(p.pid, needle)}
    if leader is not None and any(p.pid == leader[0] and p.start == leader[1] for p in procs):
        members.add(leader[0])
    children: dict[int, list[int]] = {}
    for p in procs:
        children.setdefault(p.ppid, []).append(p.pid)
    stack = list(members)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in members:
                members.add(child)
                stack.append(child)
    return [p for p in procs if p.pid in members]


def own_markers(ledger_id: str, replica: str) -> set[str]:
    """Every marker of this ledger and this replica (or of the two-part form) that a live
    process carries."""
    found: set[str] = set()
    for p in all_procs():
        if not p.zombie and p.pid != os.getpid():
            for value in _marker_values(p.pid):
                if (m := parse_marker(value)) is not None and m.names(ledger_id, replica):
                    found.add(str(m))
    return found


@dataclass(frozen=True)
class Ending:
    """What ending a run's processes did."""

    ended: int  # processes found at the first scan and signalled
    left: tuple[Proc, ...] = ()  # still there after SIGKILL and the grace: could not be ended


@functools.cache
def pidfds_available() -> bool:
    """True where the kernel has pidfds (Linux 5.3+) and Python exposes them."""
    if not hasattr(os, "pidfd_open"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False  # ENOSYS: an older kernel
    return True


class _Pins:
    """The processes of one ending, each pinned by a pidfd where the kernel has them: a pid that
    an unrelated process took after the scan is never signalled, and exits can be awaited."""

    def __init__(self) -> None:
        self._fds: dict[tuple[int, int], int] = {}

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)

    def _fd(self, proc: Proc) -> int:
        key = (proc.pid, proc.start)
        if key not in self._fds:
            fd = os.pidfd_open(proc.pid)
            if start_time(proc.pid) != proc.start:  # the pid is another process's by now
                os.close(fd)
                raise ProcessLookupError(proc.pid)
            self._fds[key] = fd
        return self._fds[key]

    def send(self, proc: Proc, sig: signal.Signals) -> None:
        try:
            if pidfds_available():
                signal.pidfd_send_signal(self._fd(proc), sig)
            elif start_time(proc.pid) == proc.start:
                os.kill(proc.pid, sig)
        except ProcessLookupError:
            pass  # already gone: what we wanted
        except PermissionError:
            pass  # not ours to signal: it stays, and the ending reports it as left

    def wait(self, procs: Iterable[Proc], timeout: float) -> None:
        """Until each of ``procs`` has exited, or ``timeout`` seconds passed."""
        deadline = time.monotonic() + timeout
        fds = [self._fds.get((p.pid, p.start)) for p in procs]
        if not pidfds_available() or None in fds:
            while any(start_time(p.pid) == p.start for p in procs):
                if time.monotonic() > deadline:
                    return
                time.sleep(0.05)  # no pidfd to await: poll /proc
            return
        poller = select.poll()
        pending = {fd for fd in fds if fd is not None}
        for fd in pending:
            poller.register(fd, select.POLLIN)  # readable once the process has exited
        while pending and (remaining := deadline - time.monotonic()) > 0:
            for fd, _ in poller.poll(remaining * 1000):
                poller.unregister(fd)
                pending.discard(fd)


def end_tree(marker: str, leader: tuple[int, int] | None, grace: float) -> Ending:
    """SIGTERM every process of the run, SIGKILL what is left after ``grace``.

    Blocking (it waits for processes to exit): call it from a thread.  Rescans until no process
    it has not killed yet turns up, because a worker may fork while it is being ended (stopped
    processes cannot fork).  What is still there ``grace`` seconds after its SIGKILL (stuck in
    the kernel, frozen, or not ours to signal) is returned in ``left``.
    """
    first = run_processes(marker, leader)
    if not first:
        return Ending(0)  # the common case after a run that ended by itself: one scan, no signal
    pins = _Pins()
    try:
        for proc in first:
            pins.send(proc, signal.SIGTERM)
        pins.wait(first, grace)
        killed: set[tuple[int, int]] = set()
        for _ in range(100):
            left = run_processes(marker, leader)
            fresh = [p for p in left if (p.pid, p.start) not in killed]
            if not fresh:
                break  # all gone, or only processes that outlived their SIGKILL and the grace
            for sig in (signal.SIGSTOP, signal.SIGKILL):
                for proc in fresh:
                    pins.send(proc, sig)
            killed.update((p.pid, p.start) for p in fresh)
            pins.wait(left, grace)
        return Ending(len(first), tuple(run_processes(marker, leader)))
    finally:
        pins.close()
