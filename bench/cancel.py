"""Cancel → no process left: the service's tree kill vs stock ansible-runner cancel."""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import ansible_runner

from bench.common import Service, project, run_path, table, wait_lines, with_env_marker

AFTER = 5.0  # seconds to wait before counting processes left behind a second time


def _count(marker: str, exclude: int | None = None) -> int:
    return len([p for p in with_env_marker(marker) if p != exclude])


def _count_later(marker: str, exclude: int | None = None) -> int:
    time.sleep(AFTER)  # processes ansible-runner left behind have no event to await
    return _count(marker, exclude)


def _cleanup(marker: str) -> None:
    for pid in with_env_marker(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue


def ours(root: Path) -> list[Any]:
    marker = "BENCH_RUN=service"
    marks = root / "marks-ours"
    svc = Service(
        project("hold", root),
        root / "state-cancel",
        BENCH_MARKS=str(marks),
        BENCH_RUN="service",
        LITEMAAS_RUN_ENV_PASSTHROUGH="BENCH_MARKS,BENCH_RUN",
    )
    try:
        svc.post_order({"id": "c1", "action": "provision", "instance": "cancel"})
        wait_lines(marks, 1)
        [run] = svc.get("/api/v1/orders/c1")["runs"]
        before = _count(marker, svc.pid)  # the service itself carries the variable too
        started = time.monotonic()
        status = svc.post(f"/api/v1/runs/{run['id']}/cancel")["status"]
        elapsed = time.monotonic() - started
        left = _count(marker, svc.pid)
        later = _count_later(marker, svc.pid)
        return ["litemaas-controller POST /runs/{id}/cancel", status, before, elapsed, left, later]
    finally:
        _cleanup(marker)
        svc.stop()


def stock(root: Path, pexpect_timeout: float | None) -> list[Any]:
    label = "stock" if pexpect_timeout is None else f"pexpect{pexpect_timeout}"
    marker = f"BENCH_RUN={label}"
    marks = root / f"marks-{label}"
    playbook = project("hold", root / label) / "deploy_litemaas.yml"
    os.environ.update(PATH=run_path(), BENCH_MARKS=str(marks), BENCH_RUN=label)
    cancel = False
    settings = {} if pexpect_timeout is None else {"pexpect_timeout": pexpect_timeout}
    try:
        with tempfile.TemporaryDirectory() as private:
            inventory = (
                f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}"
            )
            thread, runner = ansible_runner.run_async(
                private_data_dir=private,
                playbook=str(playbook),
                inventory=inventory,
                quiet=True,
                settings=settings,
                cancel_callback=lambda: cancel,
            )
            wait_lines(marks, 1)
            before = _count(marker)
            started = time.monotonic()
            cancel = True
            thread.join()
            elapsed = time.monotonic() - started
            left = _count(marker)
            later = _count_later(marker)
        name = "stock ansible-runner cancel_callback" + (
            "" if pexpect_timeout is None else f" (pexpect_timeout={pexpect_timeout})"
        )
        return [name, runner.status, before, elapsed, left, later]
    finally:
        _cleanup(marker)
        os.environ.pop("BENCH_RUN", None)


def run(root: Path) -> None:
    rows = [ours(root), stock(root, None), stock(root, 0.2)]
    table(
        "cancel -> no process left (a run holding a `sleep` in a shell task)",
        [
            "peer",
            "status",
            "processes before",
            "seconds to return",
            "left at return",
            f"left {AFTER:.0f} s later",
        ],
        rows,
    )
