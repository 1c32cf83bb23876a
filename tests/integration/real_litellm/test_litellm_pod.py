"""The real LiteLLM proxy as the collection deploys it: reached through its Route with only the
sandbox's env, configured by the pod's Secret, keeping its state in the instance's PostgreSQL,
restarted on a crash and rolled with a new master key.

The tests share one instance and run in this order (each start of the proxy costs 20-60 s).
No key is ever printed: assertion messages carry statuses and model names only."""

from __future__ import annotations

import base64
import os
import signal
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from integration.real.deploykit import assert_ok, deploy
from integration.real.podkit import psql
from waiting import wait_until

from .conftest import WAIT, Instance, watch_ready
from .curlkit import curl, shown

pytestmark = pytest.mark.integration


def model_names(inst: Instance, key: str) -> list[str]:
    status, body = curl(inst.box, "GET", f"{inst.url}/model/info", key=key)
    assert status == 200, f"/model/info answered {status}: {shown(body)}"
    return sorted(m["model_name"] for m in body["data"])


def proxy_pid(inst: Instance, pod: dict[str, Any]) -> int:
    """The container's main process: the proxy (runtime.py serve exec'd into `litellm`)."""
    pids = inst.pod_pids(pod)
    for pid in pids:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if len(argv) > 1 and argv[1].endswith(b"/venv/bin/litellm"):
            return pid
    raise AssertionError(f"no proxy process among the pod's {len(pids)} processes")


def psql_count(inst: Instance, name: str) -> int:
    """Rows for a model in LiteLLM's table in the instance's PostgreSQL (read over TCP)."""
    # The name is the test's own (hex): nothing to escape.
    sql = f"""SELECT count(*) FROM "LiteLLM_ProxyModelTable" WHERE model_name = '{name}'"""  # noqa: S608
    return int(psql(inst.kube, inst.ns, sql, database="litellm_db"))


def litellm_status(pod: dict[str, Any]) -> dict[str, Any]:
    statuses = pod["status"].get("containerStatuses") or []
    return next(s for s in statuses if s["name"] == "litellm")


def test_readiness_through_the_route_with_only_the_sandbox_env(instance: Instance) -> None:
    status, body = curl(instance.box, "GET", f"{instance.url}/health/readiness")
    assert status == 200, f"/health/readiness answered {status}: {body}"
    assert body["status"] == "healthy"
    assert body["db"] == "connected", body  # the instance's PostgreSQL, through the real engine
    status, body = curl(instance.box, "GET", f"{instance.url}/health/liveliness")
    assert status == 200, f"/health/liveliness answered {status}"


def add_model(inst: Instance, key: str, name: str) -> None:
    body = {
        "model_name": name,
        # Nothing answers there: registering needs no upstream; no api_key in the body.
        "litellm_params": {"model": "openai/sandbox-echo", "api_base": "http://127.0.0.1:9/v1"},
    }
    status, answer = curl(inst.box, "POST", f"{inst.url}/model/new", key=key, body=body)
    assert status == 200, f"/model/new answered {status}: {shown(answer)}"


def test_the_secrets_master_key_is_accepted_and_a_wrong_key_refused(instance: Instance) -> None:
    key = instance.master_key()
    # LiteLLM answers /model/info with 500 "LLM Model List not loaded" while it has no model at
    # all: register one through the admin API with the master key first.
    name = f"sandbox-model-{uuid.uuid4().hex[:8]}"
    add_model(instance, key, name)
    assert name in model_names(instance, key)  # /model/info: 200 with the Secret's key
    wrong = "sk-" + uuid.uuid4().hex
    status, body = curl(instance.box, "GET", f"{instance.url}/model/info", key=wrong)
    assert status == 401, f"a wrong key: /model/info answered {status}: {shown(body)}"
    status, body = curl(instance.box, "GET", f"{instance.url}/model/info")
    assert status == 401, f"no key: /model/info answered {status}: {shown(body)}"


def test_a_model_added_through_the_admin_api_survives_a_pod_restart(instance: Instance) -> None:
    key = instance.master_key()
    name = f"sandbox-model-{uuid.uuid4().hex[:8]}"
    add_model(instance, key, name)
    assert name in model_names(instance, key)
    rows = psql_count(instance, name)
    assert rows == 1, f"{rows} rows for the model in LiteLLM_ProxyModelTable"

    old = instance.ready_pod()
    assert old is not None, "no Ready LiteLLM pod before the restart"
    old_name = old["metadata"]["name"]
    ready_after = watch_ready(instance, exclude={old_name})
    instance.kube.delete(f"/api/v1/namespaces/{instance.ns}/pods/{old_name}")
    new = wait_until(
        lambda: (p := instance.ready_pod()) and p["metadata"]["name"] != old_name and p,
        timeout=WAIT,
        what="a new Ready LiteLLM pod after deleting the old one",
    )
    instance.timings["pod_restart_ready"] = ready_after()
    assert new["metadata"]["uid"] != old["metadata"]["uid"]
    assert name in model_names(instance, key), "the model did not survive the restart"


def test_killing_the_proxy_is_a_crash_and_the_pod_comes_back_ready(instance: Instance) -> None:
    pod = instance.ready_pod()
    assert pod is not None, "no Ready LiteLLM pod"
    name = pod["metadata"]["name"]
    before = litellm_status(pod)["restartCount"]
    pid = proxy_pid(instance, pod)
    started = time.monotonic()
    os.kill(pid, signal.SIGKILL)

    def crashed() -> dict[str, Any] | None:
        current = instance.kube.get(f"/api/v1/namespaces/{instance.ns}/pods/{name}")
        status = litellm_status(current) if current else {}
        return status if status.get("restartCount", 0) > before else None

    status = wait_until(crashed, timeout=60, what="restartCount to grow after SIGKILL")
    terminated = status["lastState"]["terminated"]
    assert terminated["exitCode"] == 137, terminated
    assert terminated["reason"] == "Error", terminated

    def ready_again() -> dict[str, Any] | None:
        current = instance.ready_pod()
        return current if current and current["metadata"]["name"] == name else None

    back = wait_until(ready_again, timeout=WAIT, what="the same pod Ready again after the crash")
    instance.timings["crash_ready"] = time.monotonic() - started
    assert proxy_pid(instance, back) != pid
    status, _ = curl(instance.box, "GET", f"{instance.url}/health/readiness")
    assert status == 200, f"/health/readiness answered {status} after the crash"


def test_a_new_master_key_in_the_secret_rolls_the_deployment(
    instance: Instance, tmp_path: Path
) -> None:
    old_key = instance.master_key()
    old_pod = instance.ready_pod()
    assert old_pod is not None, "no Ready LiteLLM pod"
    new_key = "sk-" + uuid.uuid4().hex
    encoded = base64.b64encode(new_key.encode()).decode()
    patched = instance.kube.patch(
        f"/api/v1/namespaces/{instance.ns}/secrets/litellm-secret",
        {"data": {"LITELLM_MASTER_KEY": encoded}},
    )
    assert patched is not None

    # The role keeps a Secret's existing values and stamps their checksum on the pod template:
    # re-running the deploy rolls the Deployment and waits for the new pod.
    ready_after = watch_ready(instance, exclude={old_pod["metadata"]["name"]})
    run, seconds = deploy(
        instance.box,
        tmp_path,
        ocp4_workload_litemaas_namespace=instance.ns,
        ocp4_workload_litemaas_wait_timeout=WAIT,
    )
    assert_ok(run)
    instance.timings["redeploy"] = seconds
    instance.timings["redeploy_litellm_ready"] = ready_after()
    new_pod = instance.ready_pod()
    assert new_pod is not None
    assert new_pod["metadata"]["name"] != old_pod["metadata"]["name"], "the Deployment did not roll"
    checksum = "litemaas.rhpds.io/secret-checksum"
    assert (
        new_pod["metadata"]["annotations"][checksum] != old_pod["metadata"]["annotations"][checksum]
    )
    assert instance.master_key() == new_key, "the deploy replaced the Secret's new key"

    # A plain Secret change: the models' stored parameters stay encrypted with the old key (FACTS:
    # rotating through /key/regenerate re-encrypts them); the admin API answers the new key.
    status, body = curl(instance.box, "GET", f"{instance.url}/model/info", key=new_key)
    assert status == 200, f"the new master key: /model/info answered {status}: {shown(body)}"
    status, body = curl(instance.box, "GET", f"{instance.url}/v1/models", key=new_key)
    assert status == 200, f"the new master key: /v1/models answered {status}: {shown(body)}"
    status, body = curl(instance.box, "GET", f"{instance.url}/v1/models", key=old_key)
    assert status == 401, f"the old master key: /v1/models answered {status}: {shown(body)}"
    status, body = curl(instance.box, "GET", f"{instance.url}/model/info", key=old_key)
    assert status == 401, f"the old master key: /model/info answered {status}: {shown(body)}"
    memory = instance.memory()
    print(f"\n[litellm] memory of the instance (MiB): {memory}")
    assert memory, "no running pod measured"
