"""Finding and ending every process of a run, through /proc.

ansible-playbook's task workers call ``setsid()`` and module processes hang below them, so
neither the process group nor the session of the leading process covers a run.  Every process of
a run inherits the marker ``LITEMAAS_RUN_MARKER=<ledger id>/<run id>`` in its environment; the
marker survives re-parenting to init after the service dies, which is what lets a restarted
service find the runs it no longer owns.  Descendants of the recorded leader (checked against its
start time, so a reused PID is never hit) are ended too, in case one cleared its environment.
"""

from __future__ import annotations

import os
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


def marker_value(ledger_id: str, run_id: str) -> str:
    return f"{ledger_id}/{run_id}"


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


def marked_runs(ledger_id: str) -> dict[str, list[int]]:
    """Run id → pids of every live process carrying a marker of this ledger."""
    prefix = f"{MARKER}={ledger_id}/".encode()
    found: dict[str, list[int]] = {}
    for p in all_procs():
        if p.zombie or p.pid == os.getpid():
            continue
        try:
            env = (PROC / str(p.pid) / "environ").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        for item in env:
            if item.startswith(prefix):
                found.setdefault(item[len(prefix) :].decode(), []).append(p.pid)
    return found


def _signal_all(pids: Iterable[int], sig: signal.Signals) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            continue  # already gone: what we wanted


def end_tree(marker: str, leader: tuple[int, int] | None, grace: float) -> int:
    """SIGTERM every process of the run, SIGKILL what is left after ``grace``; return the count.

    Blocking (it waits for processes to exit): call it from a thread.  Loops until a scan finds
    nothing, because a worker may fork while it is being ended; stopped processes cannot fork.
    """
    first = run_processes(marker, leader)
    if not first:
        return 0  # the common case after a run that ended by itself: one scan, no signal
    _signal_all((p.pid for p in first), signal.SIGTERM)
    deadline = time.monotonic() + grace
    while run_processes(marker, leader) and time.monotonic() < deadline:
        time.sleep(0.05)  # no event to await for a foreign process's exit; poll /proc
    for _ in range(100):
        left = run_processes(marker, leader)
        if not left:
            break
        _signal_all((p.pid for p in left), signal.SIGSTOP)
        _signal_all((p.pid for p in left), signal.SIGKILL)
        time.sleep(0.02)
    return len(first)
