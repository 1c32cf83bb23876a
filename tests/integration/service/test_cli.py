"""The command line against a running service: what `make demo` relies on."""

from __future__ import annotations

import pytest

from .clikit import cli
from .servicekit import ServiceFactory

pytestmark = pytest.mark.integration


async def test_submit_follow_show_and_list(make_service: ServiceFactory) -> None:
    svc = await make_service("quick")
    code, out, _ = await cli(
        svc,
        "order",
        "submit",
        "--id",
        "c1",
        "--action",
        "provision",
        "--instance",
        "demo",
        "--var",
        "ocp4_workload_litemaas_version=0.2.0",
        "--follow",
    )
    assert code == 0, out
    assert "order c1: accepted" in out
    assert "TASK Publish the results for the controller" in out
    assert '"status": "succeeded"' in out and "litemaas-demo" in out
    # signed by the CLI: the ledger says so
    assert (await svc.get("/api/v1/orders/c1"))["principal"] == "hmac"

    code, out, _ = await cli(svc, "instances", "list")
    assert code == 0 and "demo" in out and "ready" in out
    code, out, _ = await cli(svc, "runs", "list", "--order", "c1")
    assert code == 0 and "succeeded" in out
    # a list is read to its end, page after page: one event a request gives every line
    run_id = out.split()[0]
    code, whole, _ = await cli(svc, "runs", "events", run_id)
    assert code == 0 and len(whole.splitlines()) > 3, whole
    code, chunked, _ = await cli(svc, "runs", "events", run_id, "--chunk-size", "1")
    assert code == 0 and chunked == whole
    code, out, _ = await cli(svc, "order", "show", "c1")
    assert code == 0 and '"runs"' in out


async def test_failures_give_exit_codes_and_problem_details(make_service: ServiceFactory) -> None:
    svc = await make_service("failing")
    code, out, _ = await cli(
        svc,
        "order",
        "submit",
        "--id",
        "f1",
        "--action",
        "provision",
        "--instance",
        "demo",
        "--follow",
        secret=None,
    )
    assert code == 1 and '"status": "failed"' in out
    assert (await svc.get("/api/v1/orders/f1"))["principal"] == "bearer"
    code, _, err = await cli(
        svc,
        "order",
        "submit",
        "--id",
        "f2",
        "--action",
        "provision",
        "--instance",
        "demo",
        "--var",
        "ocp4_workload_litemaas_postgres_password=x",
    )
    assert code == 3 and "secret variables" in err
    code, _, err = await cli(
        svc,
        "order",
        "submit",
        "--id",
        "f3",
        "--action",
        "provision",
        "--instance",
        "demo",
        "--var",
        "novalue",
    )
    assert code == 2 and "name=value" in err
