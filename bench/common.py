"""Shared bench helpers: the service as a subprocess, signed orders, fixture plays, tables, RSS."""

from __future__ import annotations

import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from litemaas_controller.config.paths import default_argument_specs, default_playbook_dir
from litemaas_controller.intake.auth import signed_headers

SECRET = "bench-webhook-secret-0123456789"
TOKEN = "bench-api-token-0123456789abcdef"
VENV_BIN = Path(sys.executable).parent
#: ansible-rulebook is installed in the project's venv by `make setup` (the eda extra)
RULEBOOK_VENV = VENV_BIN.parent

FIRST_TASK_PLAY = """\
- name: Bench play
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: First task marks the time it started
      ansible.builtin.shell: date +%s.%N >> "$BENCH_MARKS"
      changed_when: true
    - name: A second task
      ansible.builtin.debug:
        msg: working
    - name: Last task marks the end
      ansible.builtin.shell: echo done >> "$BENCH_MARKS"
      changed_when: true
"""

HOLD_PLAY = """\
- name: Bench hold
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Hold
      ansible.builtin.shell: echo started >> "$BENCH_MARKS"; sleep 120
      changed_when: true
"""


def project(kind: str, root: Path) -> Path:
    """A playbook directory with deploy/remove playbooks of the given kind."""
    directory = root / kind
    directory.mkdir(parents=True, exist_ok=True)
    play = {"first-task": FIRST_TASK_PLAY, "hold": HOLD_PLAY}[kind]
    (directory / "deploy_litemaas.yml").write_text("---\n" + play)
    (directory / "remove_litemaas.yml").write_text("---\n" + play)
    return directory


def run_path() -> str:
    return f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"


class Service:
    """``litemaas-controller serve`` as a subprocess on a free port."""

    def __init__(self, playbook_dir: Path, state: Path, **env: str) -> None:
        self.env = {
            **os.environ,
            "PATH": run_path(),
            "LITEMAAS_LISTEN": "127.0.0.1:0",
            "LITEMAAS_WEBHOOK_SECRET": SECRET,
            "LITEMAAS_API_TOKEN": TOKEN,
            "LITEMAAS_STATE_DIR": str(state),
            "LITEMAAS_PLAYBOOK_DIR": str(playbook_dir),
            # the bench's own playbooks have no role beside them: the collection's interface
            "LITEMAAS_ARGUMENT_SPECS": str(default_argument_specs(default_playbook_dir())),
            "LITEMAAS_RUN_ENV_PASSTHROUGH": "BENCH_MARKS",
            "LITEMAAS_DRAIN_GRACE": "0",
            "LITEMAAS_KILL_GRACE": "1",
            "LITEMAAS_LOG_LEVEL": "WARNING",
            **env,
        }
        self.proc = subprocess.Popen(
            [str(VENV_BIN / "litemaas-controller"), "serve"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        match = re.search(r"(http://\S+)", self.proc.stdout.readline())
        assert match, "the service did not start"
        self.url = match.group(1)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def post_order(self, order: dict[str, Any]) -> int:
        body = json.dumps(order).encode()
        headers = {**signed_headers(SECRET, body, time.time()), "Content-Type": "application/json"}
        return int(_call(f"{self.url}/api/v1/orders", body, headers, "POST")[0])

    def get(self, path: str) -> Any:
        return _call(self.url + path, None, {"Authorization": f"Bearer {TOKEN}"}, "GET")[1]

    def post(self, path: str) -> Any:
        return _call(self.url + path, b"", {"Authorization": f"Bearer {TOKEN}"}, "POST")[1]

    def wait_order(self, order_id: str, timeout: float = 300) -> str:
        """Follow the order's server-sent events to its end (no polling load on the service)."""
        url = f"{self.url}/api/v1/orders/{order_id}/events?follow=1"
        assert url.startswith("http://")
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {TOKEN}"})  # noqa: S310
        kind = ""
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            for raw in response:
                line = raw.decode().strip()
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:") and kind == "end":
                    return str(json.loads(line[5:])["status"])
        raise TimeoutError(order_id)

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)


def _call(url: str, body: bytes | None, headers: dict[str, str], method: str) -> tuple[int, Any]:
    assert url.startswith("http://")  # the service under test, on loopback
    request = urllib.request.Request(url, body, headers, method=method)  # noqa: S310
    with urllib.request.urlopen(request) as response:  # noqa: S310
        return response.status, json.loads(response.read())


def wait_lines(path: Path, n: int, timeout: float = 120) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= n:
            return lines
        time.sleep(0.002)
    raise TimeoutError(f"{n} lines in {path}")


def rss_kib(pids: Iterable[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            continue
    return total


def tree(root: int) -> list[int]:
    """``root`` and its live descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except FileNotFoundError:
                continue
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def with_env_marker(marker: str) -> list[int]:
    """Live processes whose environment holds ``marker`` (NAME=value)."""
    needle = marker.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                stat = (entry / "stat").read_text()
                if stat[stat.rindex(")") + 2] not in "ZX":
                    found.append(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def table(title: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [list(map(str, header))] + [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = "+".join("-" * (w + 2) for w in widths)
    print(f"\n{title}\n+{line}+")
    for i, row in enumerate(cells):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if i == 0:
            print(f"+{line}+")
    print(f"+{line}+", flush=True)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if value < 100 else f"{value:.0f}"
    return str(value)


def scratch() -> Path:
    return Path(tempfile.mkdtemp(prefix="litemaas-bench-"))


Bench = Callable[[Path], None]
