"""Throughput of N orders through the service vs a serial loop over ``ansible_runner.run``."""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

import ansible_runner

from bench.common import Service, project, run_path, table

N = 8


def service_seconds(root: Path, cap: int) -> float:
    marks = root / f"marks-{cap}"
    svc = Service(
        project("first-task", root),
        root / f"state-{cap}",
        BENCH_MARKS=str(marks),
        LITEMAAS_MAX_CONCURRENT_RUNS=str(cap),
    )
    try:
        started = time.monotonic()
        for i in range(N):
            svc.post_order({"id": f"tp-{i}", "action": "provision", "instance": f"tp{i}"})
        statuses = [svc.wait_order(f"tp-{i}") for i in range(N)]
        elapsed = time.monotonic() - started
        assert statuses == ["succeeded"] * N, statuses
        return elapsed
    finally:
        svc.stop()


def serial_runner_seconds(root: Path) -> float:
    playbook = project("first-task", root / "serial") / "deploy_litemaas.yml"
    inventory = f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}"
    os.environ["BENCH_MARKS"] = str(root / "marks-serial")
    os.environ["PATH"] = run_path()
    started = time.monotonic()
    for _ in range(N):
        with tempfile.TemporaryDirectory() as private:
            result = ansible_runner.run(
                private_data_dir=private, playbook=str(playbook), inventory=inventory, quiet=True
            )
            assert result.status == "successful", result.status
    return time.monotonic() - started


def run(root: Path) -> None:
    cpus = os.cpu_count() or 1
    serial = serial_runner_seconds(root)
    rows = [["serial loop over ansible_runner.run (peer)", serial, N / serial * 60, 1.0]]
    for cap in sorted({1, cpus, 2 * cpus}):
        ours = service_seconds(root, cap)
        rows.append(
            [f"litemaas-controller, max_concurrent_runs={cap}", ours, N / ours * 60, serial / ours]
        )
    table(
        f"throughput of {N} orders (3-task play, {cpus} CPUs)",
        ["peer", "seconds", "orders/min", "speed-up vs serial"],
        rows,
    )
