"""`serve` on a PostgreSQL ledger (LITEMAAS_LEDGER_URL): orders accepted and run, recorded there;
a stopped server is a clear 503 (and /readyz says so), and the service carries on once it is back;
the password in no log line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import litellm_local
from ledgerkit import PgLedger, new
from litemaas_controller.api import keys
from sandbox.throwaway_pg import ThrowawayPostgres
from waiting import wait_for_async, wait_until

from .serveproc import ServeProcess
from .servicekit import PROJECTS, TERMINAL, Evidence, ServiceFactory

pytestmark = pytest.mark.integration

postgres = litellm_local.postgres


def submit(svc: ServeProcess, order_id: str) -> tuple[int, Any]:
    return svc.submit({"id": order_id, "action": "provision", "instance": order_id})


def readyz(svc: ServeProcess) -> tuple[int, Any]:
    return svc.request("GET", "/readyz")


def test_serve_on_postgres_runs_orders_and_rides_out_a_stop_of_the_server(
    tmp_path: Path, run_env: Evidence, postgres: ThrowawayPostgres
) -> None:
    pg = PgLedger.create(postgres, tmp_path)
    state = tmp_path / "state"
    svc = ServeProcess(state, PROJECTS / "quick", tmp_path / "serve.log",
                       LITEMAAS_LEDGER_URL=pg.url,
                       LITEMAAS_LEDGER_PASSWORD_FILE=str(pg.password_file))  # fmt: skip
    try:
        svc.start()
        assert submit(svc, "o-pg-1")[0] == 202
        first = svc.finished("o-pg-1", timeout=120)
        assert first["status"] == "succeeded"
        assert [r["status"] for r in first["runs"]] == ["succeeded"]
        with pg.sql() as conn:  # in PostgreSQL, not in a file beside the service
            runs = conn.execute("SELECT status FROM runs WHERE order_id='o-pg-1'").fetchall()
            audit = conn.execute("SELECT action FROM audit WHERE subject LIKE 'run-%'").fetchall()
        assert runs == [("succeeded",)] and ("run.finished",) in audit
        postgres.shutdown()  # every connection of the service's pool is broken
        try:
            unready = wait_until(lambda: (r := readyz(svc))[0] == 503 and r, what="/readyz 503")
            status, problem = submit(svc, "o-pg-2")
        finally:
            postgres.relaunch()
        assert unready[1]["ledger"] == "unreachable" and "unreachable" in unready[1]["reason"]
        assert status == 503 and "ledger (PostgreSQL) is unreachable" in problem["detail"]
        wait_until(lambda: readyz(svc)[0] == 200, what="/readyz 200 once the server is back")
        assert submit(svc, "o-pg-2")[0] == 202  # the service carries on, not restarted
        assert svc.finished("o-pg-2", timeout=120)["status"] == "succeeded"
        assert svc.order("o-pg-1")["status"] == "succeeded"  # type: ignore[index]
    finally:
        svc.stop()
    assert not (state / "ledger.sqlite3").exists()
    assert postgres.password not in (tmp_path / "serve.log").read_text()


async def test_a_worker_that_finds_the_server_stopped_waits_for_it(
    make_service: ServiceFactory,
    postgres: ThrowawayPostgres,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    pg = PgLedger.create(postgres, tmp_path)
    svc = await make_service("quick", ledger_url=pg.url, ledger_password_file=pg.password_file)
    app = svc.client.app
    await app[keys.STORE].orders.accept(new("o-wait"))  # queued, no worker woken yet
    postgres.shutdown()
    try:
        app[keys.DISPATCHER].wake("demo")  # the worker's first read finds no server
        await wait_for_async(lambda: _logged(caplog, "ledger (PostgreSQL) is unreachable"),
                             what="the worker's read to fail")  # fmt: skip
    finally:
        postgres.relaunch()

    async def ended() -> str | None:
        status = (await svc.get("/api/v1/orders/o-wait"))["status"]
        return str(status) if status in TERMINAL else None

    # the order runs once the server is back (a worker that died would have left it queued)
    assert await wait_for_async(ended, what="o-wait to end") == "succeeded"


async def _logged(caplog: pytest.LogCaptureFixture, text: str) -> bool:
    return text in caplog.text
