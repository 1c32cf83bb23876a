"""Replicas of the controller for the scale-out tests: `serve` processes on one PostgreSQL ledger,
each in a session of its own standing for its pod's container (a kill -9 of the container ends
every process in it, the runs' playbooks too), and what the ``replicas`` fixture project leaves:
one evidence line per run, ``<instance> <run id> <replica>`` (``msg:<message id> …`` for a
model change)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledgerkit import PgLedger
from waiting import wait_until

from .procscan import alive
from .serveproc import ServeProcess
from .servicekit import PROJECTS, TERMINAL

#: short leases, so a dead replica's runs are taken over in seconds: the run lease outlasts a
#: PostgreSQL restart (its owner renews it once the server is back)
RUN_LEASE = {"LITEMAAS_RUN_LEASE": "8", "LITEMAAS_RUN_HEARTBEAT": "1"}
LEADER_TIMINGS = {"LITEMAAS_LEADER_LEASE_DURATION": "4", "LITEMAAS_LEADER_RENEW_DEADLINE": "2.5",
                  "LITEMAAS_LEADER_RETRY_PERIOD": "0.5"}  # fmt: skip
CAP = "2"  # runs at once, per replica


class Replica(ServeProcess):
    NEW_SESSION = True

    @property
    def name(self) -> str:
        return self.env["LITEMAAS_REPLICA"]

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def container(self) -> set[int]:
        """Every live process of the replica's container: its session, and the processes of its
        runs (ansible-playbook's workers call setsid(), their run marker names the replica)."""
        marker = f"/{self.name}/".encode()
        found = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or not alive(pid := int(entry.name)):
                continue
            try:
                stat = (entry / "stat").read_text()
                env = (entry / "environ").read_bytes().split(b"\0")
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            session = int(stat[stat.rindex(")") + 2 :].split()[3])
            marked = any(v.startswith(b"LITEMAAS_RUN_MARKER=") and marker in v for v in env)
            if session == self.pid or marked:
                found.add(pid)
        return found

    def kill_container(self) -> None:
        """kill -9 of the container: every process in it stopped first (none forks away), then
        killed, until none is left."""
        while processes := self.container():
            for sig in (signal.SIGSTOP, signal.SIGKILL):
                for pid in processes:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, sig)
        assert self.proc is not None
        self.proc.wait()

    def pause(self) -> None:
        """SIGSTOP of the controller's process alone (its runs' playbooks go on)."""
        os.kill(self.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.pid, signal.SIGCONT)

    def ready(self) -> bool:
        return self.request("GET", "/readyz")[0] == 200


def replicas(
    names: tuple[str, ...], directory: Path, pg: PgLedger, evidence: Path, **env: str
) -> list[Replica]:
    """Replicas ``names`` on the ``replicas`` project and ``pg``'s ledger (not started)."""
    common = {
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""),
        "LITEMAAS_TEST_EVIDENCE": str(evidence),
        "LITEMAAS_LEDGER_URL": pg.url,
        "LITEMAAS_LEDGER_PASSWORD_FILE": str(pg.password_file),
        "LITEMAAS_MAX_CONCURRENT_RUNS": CAP,
        **RUN_LEASE,
        **LEADER_TIMINGS,
        **env,
    }
    return [
        Replica(
            directory / name,
            PROJECTS / "replicas",
            directory / f"{name}.log",
            LITEMAAS_REPLICA=name,
            LITEMAAS_REDIS_CONSUMER=name,
            **common,
        )
        for name in names
    ]


@dataclass(frozen=True)
class Run:
    instance: str
    run: str
    replica: str


class RunEvidence:
    """The evidence file the ``replicas`` project's playbooks append to."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def runs(self, prefix: str = "") -> list[Run]:
        if not self.path.exists():
            return []
        lines = [line.split() for line in self.path.read_text().splitlines()]
        # the `healed` project's repair writes lines of its own (four fields)
        return [Run(*f) for f in lines if len(f) == 3 and f[0].startswith(prefix)]

    def counts(self, prefix: str) -> Counter[str]:
        return Counter(r.instance for r in self.runs(prefix))

    def of(self, instance: str, n: int = 1) -> list[Run]:
        """The runs on ``instance`` once there are ``n``."""
        found: list[Run] = wait_until(
            lambda: (
                len(got := [r for r in self.runs(instance) if r.instance == instance]) >= n and got
            ),
            timeout=120,
            what=f"{n} run(s) on {instance}",
        )
        return found

    def hold(self, instance: str) -> None:
        """The instance's runs wait (after their evidence line) until it is released."""
        self._hold(instance).touch()

    def release(self, instance: str) -> None:
        self._hold(instance).unlink()

    def _hold(self, instance: str) -> Path:
        return self.path.with_name(f"{self.path.name}.{instance}.hold")


def orders_ended(pg: PgLedger, prefix: str, n: int, timeout: float = 300) -> dict[str, str]:
    """The status of each order whose id starts with ``prefix``, once ``n`` exist and all ended."""
    found: dict[str, str] = {}

    def probe() -> bool:
        with pg.sql() as conn:
            rows = conn.execute(
                "SELECT id, status FROM orders WHERE id LIKE %s", (prefix + "%",)
            ).fetchall()
        found.clear()
        found.update((str(i), str(s)) for i, s in rows)
        return len(found) == n and set(found.values()) <= TERMINAL

    try:
        wait_until(probe, timeout=timeout, what=f"{n} {prefix}* orders to end")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {Counter(found.values())}") from None
    return found


def runs_of(pg: PgLedger, order: str) -> list[dict[str, Any]]:
    """The order's runs as the ledger records them, oldest first."""
    with pg.sql() as conn:
        cur = conn.execute(
            "SELECT id, status, owner, reason FROM runs WHERE order_id=%s ORDER BY seq", (order,)
        )
        names = [c.name for c in cur.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def orders_of(pg: PgLedger, runs: list[Run]) -> Counter[str]:
    """How many of ``runs`` each order had, by the ledger's record of which order a run was."""
    with pg.sql() as conn:
        rows = conn.execute(
            "SELECT id, order_id FROM runs WHERE id = ANY(%s)", ([r.run for r in runs],)
        ).fetchall()
    order = {str(run): str(oid) for run, oid in rows}
    assert set(order) == {r.run for r in runs}, "a run the ledger does not know"
    return Counter(order[r.run] for r in runs)


def running(pg: PgLedger, prefix: str) -> set[str]:
    """The running runs of the orders whose id starts with ``prefix``."""
    with pg.sql() as conn:
        rows = conn.execute(
            "SELECT id FROM runs WHERE status='running' AND order_id LIKE %s", (prefix + "%",)
        ).fetchall()
    return {str(r) for (r,) in rows}


def audit_of(pg: PgLedger, run_id: str) -> list[str]:
    with pg.sql() as conn:
        rows = conn.execute(
            "SELECT action FROM audit WHERE subject=%s ORDER BY seq", (run_id,)
        ).fetchall()
    return [str(a) for (a,) in rows]


def round_robin(replicas: list[Replica], orders: list[dict[str, Any]]) -> None:
    """Submit ``orders`` to ``replicas`` in turn; each must be accepted."""
    for i, order in enumerate(orders):
        status, body = replicas[i % len(replicas)].submit(order)
        assert status == 202, body


def order(oid: str, instance: str, action: str = "provision") -> dict[str, str]:
    return {"id": oid, "action": action, "instance": instance}


def provision(oid: str) -> dict[str, str]:
    """A provision of an instance named after the order."""
    return order(oid, oid)


def held(replicas: list[Replica], evidence: RunEvidence, oid: str) -> tuple[Run, Replica]:
    """Order ``oid`` sent, its playbook held once it started: its run and the replica running it."""
    evidence.hold(oid)
    round_robin(replicas, [provision(oid)])
    [run] = evidence.of(oid)
    return run, next(r for r in replicas if r.name == run.replica)
