"""Order accepted → the playbook's first task: the service vs ansible-rulebook's webhook source."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench.common import (
    FIRST_TASK_PLAY,
    RULEBOOK_VENV,
    Service,
    median,
    project,
    table,
    wait_lines,
)

ROUNDS = 5

RULEBOOK = """\
---
- name: Bench webhook
  hosts: all
  execution_strategy: parallel
  sources:
    - eda.builtin.webhook:
        host: 127.0.0.1
        port: {port}
  rules:
    - name: Run the playbook for every order
      condition: event.payload.id is defined
      action:
        run_playbook:
          name: {playbook}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _post(request: urllib.request.Request) -> None:
    urllib.request.urlopen(request).close()  # noqa: S310


def _first_task_delay(marks: Path, send: Callable[[], object], n_before: int) -> float:
    sent = time.time()
    send()
    lines = wait_lines(marks, n_before + 1)
    first = float(lines[n_before])
    wait_lines(marks, n_before + 2)  # the play finished ("done")
    return first - sent


def service_latency(root: Path) -> list[float]:
    marks = root / "service-marks"
    svc = Service(project("first-task", root), root / "state-latency", BENCH_MARKS=str(marks))
    try:
        delays = []
        for i in range(ROUNDS):
            n = len(marks.read_text().splitlines()) if marks.exists() else 0
            order = {"id": f"lat-{i}", "action": "provision", "instance": f"lat{i}"}
            delays.append(_first_task_delay(marks, partial(svc.post_order, order), n))
            svc.wait_order(order["id"])
        return delays
    finally:
        svc.stop()


def rulebook_latency(root: Path) -> list[float] | str:
    binary = RULEBOOK_VENV / "bin" / "ansible-rulebook"
    if not binary.exists():
        return f"ansible-rulebook not installed in {RULEBOOK_VENV}"
    marks = root / "rulebook-marks"
    playbook = root / "rulebook-play.yml"
    playbook.write_text("---\n" + FIRST_TASK_PLAY)
    port = _free_port()
    rulebook = root / "rulebook.yml"
    rulebook.write_text(RULEBOOK.format(port=port, playbook=playbook))
    inventory = root / "inventory.yml"
    # the same as the service does for its runs: modules run with the venv's interpreter
    inventory.write_text(
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {RULEBOOK_VENV / 'bin' / 'python'}\n"
    )
    env = {
        **os.environ,
        "BENCH_MARKS": str(marks),
        "PATH": f"{RULEBOOK_VENV / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }
    proc = subprocess.Popen(
        [str(binary), "--rulebook", str(rulebook), "-i", str(inventory)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_port(port, proc)
        delays = []
        for i in range(ROUNDS):
            n = len(marks.read_text().splitlines()) if marks.exists() else 0
            body = json.dumps({"id": f"lat-{i}", "action": "provision"}).encode()
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/endpoint", body, {"Content-Type": "application/json"}
            )
            delays.append(_first_task_delay(marks, partial(_post, request), n))
        return delays
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(30)


def _wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("ansible-rulebook exited")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("ansible-rulebook did not listen")


def run(root: Path) -> None:
    ours = service_latency(root)
    peer = rulebook_latency(root)
    rows = [
        [
            "litemaas-controller (signed order, ledger, ansible-runner)",
            median(ours),
            min(ours),
            max(ours),
        ]
    ]
    if isinstance(peer, str):
        rows.append([f"ansible-rulebook: {peer}", "-", "-", "-"])
    else:
        rows.append(
            [
                "ansible-rulebook 1.3.2 (eda.builtin.webhook, run_playbook)",
                median(peer),
                min(peer),
                max(peer),
            ]
        )
    table(
        f"order accepted -> playbook's first task, seconds ({ROUNDS} rounds)",
        ["peer", "median", "min", "max"],
        rows,
    )
