"""What /proc says about processes: their start time (identity across PID reuse), which of them
share a namespace, and their resident memory."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path


def start_time(pid: int) -> str | None:
    """The start time of a live process; None for a gone one or a zombie (a process killed with
    SIGKILL stays a zombie until whoever started it reaps it: it is dead all the same)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return None if len(fields) < 20 or fields[0] == "Z" else fields[19]


def sharing(kind: str, inode: int) -> list[int]:
    """PIDs of the processes whose `kind` namespace ("net", "mnt", ...) has this inode."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "ns" / kind).stat().st_ino == inode:
                    found.append(int(entry.name))
    return found


def own_namespace(kind: str) -> int:
    """The inode of this process's own `kind` namespace (the machine's, for the agent)."""
    return Path(f"/proc/self/ns/{kind}").stat().st_ino


def rss_kib(pids: Iterable[int]) -> int:
    """Resident memory of the live processes among `pids` in KiB (shared pages in each)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total
