"""Resident memory: the service idle and per run in flight, vs ansible-rulebook measured alike."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from bench.common import (
    HOLD_PLAY,
    RULEBOOK_VENV,
    Service,
    project,
    rss_kib,
    table,
    tree,
    wait_lines,
)
from bench.latency import RULEBOOK, _free_port, _post, _wait_port

RUNS = 2


def _settle() -> None:
    time.sleep(1.0)  # let start-up allocations settle before reading RSS; nothing to await


def service(root: Path) -> list[object]:
    marks = root / "marks-service"
    svc = Service(
        project("hold", root),
        root / "state-memory",
        BENCH_MARKS=str(marks),
        LITEMAAS_MAX_CONCURRENT_RUNS=str(RUNS),
    )
    try:
        _settle()
        idle = rss_kib([svc.pid])
        for i in range(RUNS):
            svc.post_order({"id": f"m{i}", "action": "provision", "instance": f"m{i}"})
        wait_lines(marks, RUNS)
        _settle()
        busy = rss_kib(tree(svc.pid))
        service_only = rss_kib([svc.pid])
        return [
            "litemaas-controller",
            idle / 1024,
            busy / 1024,
            service_only / 1024,
            (busy - service_only) / RUNS / 1024,
        ]
    finally:
        for pid in tree(svc.pid)[1:]:
            os.kill(pid, signal.SIGKILL)
        svc.stop()


def rulebook(root: Path) -> list[object]:
    binary = RULEBOOK_VENV / "bin" / "ansible-rulebook"
    if not binary.exists():
        return [f"ansible-rulebook: not installed in {RULEBOOK_VENV}", "-", "-", "-", "-"]
    marks = root / "marks-rulebook"
    playbook = root / "rb-hold.yml"
    playbook.write_text("---\n" + HOLD_PLAY)
    port = _free_port()
    (root / "rb.yml").write_text(RULEBOOK.format(port=port, playbook=playbook))
    (root / "inv.yml").write_text(
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {RULEBOOK_VENV / 'bin' / 'python'}\n"
    )
    env = {
        **os.environ,
        "BENCH_MARKS": str(marks),
        "PATH": f"{RULEBOOK_VENV / 'bin'}{os.pathsep}{os.environ['PATH']}",
    }
    proc = subprocess.Popen(
        [str(binary), "--rulebook", str(root / "rb.yml"), "-i", str(root / "inv.yml")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_port(port, proc)
        _settle()
        idle = rss_kib(tree(proc.pid))
        for i in range(RUNS):
            body = json.dumps({"id": f"m{i}"}).encode()
            _post(
                urllib.request.Request(
                    f"http://127.0.0.1:{port}/endpoint", body, {"Content-Type": "application/json"}
                )
            )
        wait_lines(marks, RUNS)
        _settle()
        busy = rss_kib(tree(proc.pid))
        return [
            "ansible-rulebook 1.3.2 (JVM + Python)",
            idle / 1024,
            busy / 1024,
            "-",
            (busy - idle) / RUNS / 1024,
        ]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def run(root: Path) -> None:
    rows = [service(root), rulebook(root)]
    table(
        f"resident memory, MiB ({RUNS} runs of a one-task play in flight)",
        ["peer", "idle", "busy, whole tree", "controller process, busy", "per run in flight"],
        rows,
    )
