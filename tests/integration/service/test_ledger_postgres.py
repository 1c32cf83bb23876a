"""`serve` on a PostgreSQL ledger (LITEMAAS_LEDGER_URL): orders accepted and run, recorded there;
a stopped server is a clear 503, and the service carries on once it is back; the password in no
log line."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

import litellm_local
from ledgerkit import PgLedger
from litellm_local.pg import ThrowawayPostgres
from litemaas_controller.intake.auth import signed_headers

from .conftest import PROJECTS, SECRET, Evidence
from .serveproc import ServeProcess

pytestmark = pytest.mark.integration

postgres = litellm_local.postgres


def submit(svc: ServeProcess, order_id: str) -> tuple[int, Any]:
    body = json.dumps({"id": order_id, "action": "provision", "instance": order_id}).encode()
    headers = {**signed_headers(SECRET, body, time.time()), "Content-Type": "application/json"}
    return svc.request("POST", "/api/v1/orders", body, **headers)


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
            status, problem = submit(svc, "o-pg-2")
        finally:
            postgres.relaunch()
        assert status == 503 and "ledger (PostgreSQL) is unreachable" in problem["detail"]
        assert submit(svc, "o-pg-2")[0] == 202  # the service carries on, not restarted
        assert svc.finished("o-pg-2", timeout=120)["status"] == "succeeded"
        assert svc.order("o-pg-1")["status"] == "succeeded"  # type: ignore[index]
    finally:
        svc.stop()
    assert not (state / "ledger.sqlite3").exists()
    assert postgres.password not in (tmp_path / "serve.log").read_text()
