"""A master-key rotation SIGKILLed at each of its points, then resumed by running it again.

One real LiteLLM proxy on a real PostgreSQL with a stored model (its upstream key encrypted with the
master key) serves every case in turn; the instance's Secrets and Deployments live in the sandbox,
and RolloutWatcher restarts the proxy with litellm-secret's values when Deployment litellm rolls.
The run is rotate_keys.yml through ansible-runner; the module's test seam LITEMAAS_TEST_KILL_AT
SIGKILLs the run's process group at a point of the module, and "during the rollout" the test kills
it itself when the roll is seen. After the resume the proxy takes exactly one master key, the new
one, and the model still answers a chat with its stored (re-encrypted) credential: a second
/key/regenerate with the old key would have encrypted the credentials twice, and a missing one
would leave them unreadable to the new key.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox import Sandbox
from sandbox.fakes.upstream import FakeUpstream

from .conftest import (
    Ansible,
    Instance,
    ProxyPod,
    RolloutWatcher,
    Run,
    add_deployment,
    assert_ok,
    canary,
    chat,
    keep_upstream_key,
    make_instance,
    upstream_model,
)

pytestmark = pytest.mark.integration

JOURNAL = "litellm-master-key-rotation"
RUN_MARK = "LITEMAAS_TEST_RUN"
# kill point -> the journal's STAGE it leaves behind ("" = no journal)
POINTS = {
    "before-journal": "",
    "before-regenerate": "regenerating",
    "regenerate": "regenerating",  # the proxy re-encrypted; the run never learnt it
    "before-secret": "regenerated",
    "before-rollout": "secrets-updated",
    "during-rollout": "secrets-updated",
}


@pytest.fixture(scope="module")
def instance(
    sandbox_aws: Sandbox,
    start_pod: Callable[..., ProxyPod],
    fresh_database: Callable[[], str],
    upstream: FakeUpstream,
) -> Instance:
    pod = start_pod(fresh_database(), canary("master"))
    found = make_instance(sandbox_aws, f"mi-{secrets.token_hex(4)}", pod)
    keep_upstream_key(found, upstream)
    found.put_secret("backend-secret", {"litellm-api-key": pod.env["LITELLM_MASTER_KEY"]})
    add_deployment(found, "litellm", "litellm-secret")
    add_deployment(found, "backend", "backend-secret")
    return found


@pytest.fixture(scope="module")
def ansible(
    sandbox_aws: Sandbox, workdir: Path, instance: Instance, upstream: FakeUpstream
) -> Ansible:
    runner = Ansible(sandbox_aws, workdir / "runs", instance.secret_values)
    assert_ok(runner.register(instance.namespace, upstream_model(upstream)))
    return runner


def rotate(ansible: Ansible, instance: Instance, env: dict[str, str], label: str) -> Run:
    return ansible.keys(instance.namespace, "master_key.rotate", wait=240, env=env, label=label)


def kill_marked_run(mark: str) -> None:
    """SIGKILL the process group of the ansible-playbook run whose environment carries ``mark``."""
    needle = f"{RUN_MARK}={mark}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if needle in (proc / "environ").read_bytes().split(b"\0"):
                group = os.getpgid(int(proc.name))
                if group != os.getpgrp():
                    os.killpg(group, signal.SIGKILL)
                    return
    raise AssertionError("the rotation run was not found while the Deployment rolled")


def stage(instance: Instance) -> str:
    journal = instance.secret(JOURNAL)
    instance.canaries.update(v for k, v in journal.items() if k.endswith("MASTER_KEY"))
    return journal.get("STAGE", "")


@pytest.mark.parametrize("point", list(POINTS))
def test_an_interrupted_rotation_resumes_to_one_working_key(
    point: str, ansible: Ansible, instance: Instance, upstream: FakeUpstream
) -> None:
    old = instance.master_key
    mark = secrets.token_hex(8)
    env = {RUN_MARK: mark}
    on_roll = None
    if point == "during-rollout":
        on_roll = lambda: kill_marked_run(mark)  # noqa: E731
    else:
        env["LITEMAAS_TEST_KILL_AT"] = point
    with RolloutWatcher(instance, on_roll=on_roll) as watcher:
        killed = rotate(ansible, instance, env, f"master_key.rotate killed at {point}")
    assert not watcher.errors
    assert not killed.ok
    assert not any(e.get("event") == "playbook_on_stats" for e in killed.events), "not killed"
    assert stage(instance) == POINTS[point]

    with RolloutWatcher(instance) as watcher:
        resumed = rotate(ansible, instance, {}, f"master_key.rotate resumed after {point}")
    assert not watcher.errors
    assert_ok(resumed)
    rotation = resumed.results("litellm_master_key")[0]
    if point == "regenerate":
        assert not rotation["regenerated"]  # established from the proxy, not called again
        assert "took effect" in rotation["evidence"] and "not" not in rotation["evidence"]
    if point == "before-regenerate":
        assert rotation["regenerated"]
        assert "did not take effect" in rotation["evidence"]

    new = instance.master_key
    instance.canaries.add(new)
    assert new != old
    assert instance.secret("backend-secret")["litellm-api-key"] == new
    assert instance.secret(JOURNAL) == {}
    pod = instance.pod
    assert pod.api("GET", "/model/info", key=new).status == 200
    assert pod.api("GET", "/model/info", key=old).status == 401
    names = {d["model_name"] for d in pod.api("GET", "/model/info", key=new).body["data"]}
    assert names == {"granite"}  # no canary left behind
    seen = len(upstream.state.received)
    reply = chat(pod.url, new, "granite")
    assert reply.status == 200, reply.body
    assert upstream.state.received[seen].api_key == upstream.state.api_key
