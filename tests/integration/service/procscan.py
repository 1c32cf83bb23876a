"""Looking at /proc from the test's side: which processes belong to a run, is a pid alive."""

from __future__ import annotations

import os
from pathlib import Path


def alive(pid: int) -> bool:
    """True for a live process; a zombie (exited, not yet reaped) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def run_pids(run_id: str) -> list[int]:
    """Live processes whose environment carries the run's marker (LITEMAAS_RUN_MARKER=…/run)."""
    suffix = f"/{run_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            env = (entry / "environ").read_bytes().split(b"\0")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        marked = any(v.startswith(b"LITEMAAS_RUN_MARKER=") and v.endswith(suffix) for v in env)
        if marked and alive(int(entry.name)):
            found.append(int(entry.name))
    return found
