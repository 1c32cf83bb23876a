"""Order accepted → the playbook's first task: the service vs ansible-rulebook with our webhook
source and with its own ``eda.builtin.webhook``, in one run."""

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
    SECRET,
    Service,
    median,
    project,
    table,
    wait_lines,
)
from litemaas_controller.intake.auth import signed_headers

ROUNDS = 5

RULEBOOK = """\
---
- name: Bench webhook
  hosts: all
  execution_strategy: parallel
  sources:
    - {source}:
        host: 127.0.0.1
        port: {port}{extra}
  rules:
    - name: Run the playbook for every order
      condition: {condition}
      action:
        run_playbook:
          name: {playbook}
"""

#: the two webhook sources, each with how an order is sent to it
BUILTIN = ("eda.builtin.webhook", "", "event.payload.id is defined", "/endpoint")
OURS = (
    "rhpds.litemaas.order_webhook",
    f"\n        webhook_secret: {SECRET}",
    "event.order.id is defined",
    "/api/v1/orders",
)


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


def rulebook_latency(root: Path, peer: tuple[str, str, str, str]) -> list[float] | str:
    """``peer``: (source, its extra arguments, the rule's condition, the path orders go to)."""
    source, extra, condition, path = peer
    binary = RULEBOOK_VENV / "bin" / "ansible-rulebook"
    if not binary.exists():
        return f"ansible-rulebook not installed in {RULEBOOK_VENV} (make setup)"
    name = source.rsplit(".", 1)[1]
    marks = root / f"rulebook-marks-{name}"
    playbook = root / "rulebook-play.yml"
    playbook.write_text("---\n" + FIRST_TASK_PLAY)
    port = _free_port()
    rulebook = root / f"rulebook-{name}.yml"
    rulebook.write_text(
        RULEBOOK.format(
            source=source, port=port, extra=extra, condition=condition, playbook=playbook
        )
    )
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
        "ANSIBLE_COLLECTIONS_PATH": str(RULEBOOK_VENV / "collections"),
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
            order = {"id": f"lat-{i}", "action": "provision", "instance": f"lat{i}"}
            body = json.dumps(order).encode()
            headers = {**signed_headers(SECRET, body, time.time()),
                       "Content-Type": "application/json"}  # fmt: skip
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", body, headers)
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
    """The three in one run; ratios are to the service's median."""
    ours = service_latency(root)
    peers = {
        "ansible-rulebook 1.3 + rhpds.litemaas.order_webhook (signed, checked)": OURS,
        "ansible-rulebook 1.3 + eda.builtin.webhook (unchecked)": BUILTIN,
    }
    base = median(ours)
    rows = [["litemaas-controller (signed order, ledger, ansible-runner)", base, 1.0,
             min(ours), max(ours)]]  # fmt: skip
    for label, peer in peers.items():
        got = rulebook_latency(root, peer)
        if isinstance(got, str):
            rows.append([f"{label}: {got}", "-", "-", "-", "-"])
        else:
            rows.append([label, median(got), median(got) / base, min(got), max(got)])
    table(
        f"order accepted -> playbook's first task, seconds ({ROUNDS} rounds)",
        ["peer", "median", "x service", "min", "max"],
        rows,
    )
