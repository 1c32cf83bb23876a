"""No canary secret reaches the ledger, a log line or a response; runs never see the service's."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from litemaas_controller.runner.redact import Redactor
from litemaas_controller.runner.run import PlaybookRunner, RunRequest

from .credentials import BEARER, SECRET, TOKEN
from .servicekit import ServiceFactory, base_settings

pytestmark = pytest.mark.integration

PROXY_CANARY = "proxy-canary-8c2f6a0e4b"
FILE_CANARY = "file-canary-1a7d3e9c5f"


@pytest.fixture
def canary_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the service's own secrets in its environment, as `serve` would have them
    monkeypatch.setenv("LITEMAAS_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("LITEMAAS_API_TOKEN", TOKEN)
    # a proxy with credentials: runs must get it (to reach Route hosts), the ledger must not
    monkeypatch.setenv("HTTPS_PROXY", f"http://svc:{PROXY_CANARY}@127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "*")
    monkeypatch.setenv("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("KUBECONFIG", "/nonexistent/kubeconfig")
    secret_file = tmp_path / "mounted-secret"
    secret_file.write_text(FILE_CANARY)
    monkeypatch.setenv("LITEMAAS_TEST_SECRET_FILE", str(secret_file))


@pytest.mark.usefixtures("canary_env")
async def test_no_canary_in_ledger_logs_or_responses(
    make_service: ServiceFactory, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    svc = await make_service("leaky")
    texts: list[str] = []
    body = {"id": "o1", "action": "provision", "instance": "demo"}
    response = await svc.post_order(body)
    texts.append(await response.text())
    bad = {
        "id": "o2",
        "action": "provision",
        "instance": "demo",
        "vars": {"ocp4_workload_litemaas_litellm_api_key": FILE_CANARY},
    }
    texts.append(await (await svc.post_order(bad)).text())
    final = await svc.finished("o1")
    assert final["status"] == "succeeded"
    order = await svc.get("/api/v1/orders/o1")
    run_id = order["runs"][0]["id"]
    for path in (
        "/api/v1/orders/o1",
        "/api/v1/runs",
        f"/api/v1/runs/{run_id}",
        f"/api/v1/runs/{run_id}/events",
        "/api/v1/orders/o1/events",
        "/api/v1/instances",
        "/metrics",
        "/api/v1/openapi.json",
    ):
        texts.append(await (await svc.client.get(path, headers=BEARER)).text())
    texts += [str(e) for e in await svc.follow(f"/api/v1/runs/{run_id}/events")]

    # the run really printed the proxy (so redaction was needed) ...
    run_env = Path(str(svc.evidence.path) + ".env").read_text()
    assert PROXY_CANARY in run_env
    events = (await svc.get(f"/api/v1/runs/{run_id}/events"))["items"]
    assert any("proxy is http://********@127.0.0.1:9" in e["stdout"] for e in events)
    # the run reaches Route hosts as the service does: same proxy, CA bundle and cluster config
    for name in ("NO_PROXY=*", "SSL_CERT_FILE=", "REQUESTS_CA_BUNDLE=", "KUBECONFIG="):
        assert f"\n{name}" in f"\n{run_env}", name
    # ... but the run never saw the service's own secrets
    assert SECRET not in run_env and TOKEN not in run_env
    assert "LITEMAAS_RUN_MARKER=" in run_env

    dump = repr(svc.ledger())
    for canary in (SECRET, TOKEN, PROXY_CANARY, FILE_CANARY):
        assert canary not in dump, f"{canary} in the ledger"
        assert canary not in caplog.text, f"{canary} in the logs"
        for text in texts:
            assert canary not in text, f"{canary} in a response"
    # nothing left on disk by the run: its private dir is gone
    assert list(svc.settings.runs_dir.iterdir()) == []


@pytest.mark.usefixtures("canary_env", "run_env")
def test_no_canary_in_the_partial_event_files_ansible_runner_reads(tmp_path: Path) -> None:
    """ansible-runner's callback writes each event's data to job_events/*-partial.json before
    the runner reads it; run the prepared command without a runner consuming them, so every
    partial file stays, and look inside."""
    runner = PlaybookRunner(base_settings(tmp_path, "leaky"), "ledger-test", Redactor([]))
    private = tmp_path / "private"
    private.mkdir()
    request = RunRequest(
        run_id="run-partials",
        playbook="deploy_litemaas.yml",
        extravars={"ACTION": "provision", "ocp4_workload_litemaas_instance": "demo",
                   "ocp4_workload_litemaas_namespace": "litemaas-demo"},
    )  # fmt: skip
    config = runner.prepare(request, private, "ledger-test/run-partials")
    done = subprocess.run(
        config.command, env=config.env, cwd=config.cwd, capture_output=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert PROXY_CANARY.encode() in done.stdout  # the playbook did print it

    partials = list(private.glob("artifacts/run-partials/job_events/*-partial.json"))
    proxy_shown = [p for p in partials if b"proxy is http://" in p.read_bytes()]
    assert len(proxy_shown) == 1  # the event is there, its data redacted
    for path in private.rglob("*"):
        if path.is_file():
            assert PROXY_CANARY.encode() not in path.read_bytes(), path.name
