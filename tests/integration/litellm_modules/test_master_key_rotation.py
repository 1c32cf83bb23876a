"""rotate_keys.yml master_key.rotate and admin_password.rotate, end to end: a real LiteLLM proxy
with a registered model and a virtual key, an instance namespace in the sandbox with Deployments
litellm and backend (their pods simulated), and a stand-in kubelet (RolloutWatcher) that restarts
the real proxy with the Secret's values when, and only when, Deployment litellm rolls."""

from __future__ import annotations

import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

import filterplugins
from fakes.upstream import FakeUpstream
from sandbox import Sandbox

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
    read_key_secret,
    upstream_model,
)

pytestmark = pytest.mark.integration


@dataclass
class Rotation:
    instance: Instance
    old_key: str
    new_key: str
    virtual_key: str
    run: Run
    restarts: int
    watcher_errors: list[str]
    templates_before: dict[str, dict]


def template(instance: Instance, name: str) -> dict:
    obj = instance.sandbox.kube().get(
        f"/apis/apps/v1/namespaces/{instance.namespace}/deployments/{name}"
    )
    assert obj is not None
    return obj["spec"]["template"]


def role_checksum(data: dict[str, str]) -> str:
    """The checksum the deploy role puts on pod templates (its own filter, data_checksum)."""
    return str(filterplugins.load("litemaas").data_checksum(data))


@pytest.fixture(scope="module")
def instance(
    sandbox_aws: Sandbox,
    start_pod: Callable[..., ProxyPod],
    fresh_database: Callable[[], str],
    upstream: FakeUpstream,
) -> Instance:
    pod = start_pod(fresh_database(), canary("master"))
    found = make_instance(sandbox_aws, f"mr-{secrets.token_hex(4)}", pod)
    keep_upstream_key(found, upstream)
    found.put_secret(
        "backend-secret",
        {"litellm-api-key": pod.env["LITELLM_MASTER_KEY"], "jwt-secret": canary("jwt")},
    )
    add_deployment(found, "litellm", "litellm-secret")
    add_deployment(found, "backend", "backend-secret")
    return found


@pytest.fixture(scope="module")
def ansible(sandbox_aws: Sandbox, workdir: Path, instance: Instance) -> Ansible:
    # Checked after every run: whatever any Secret of the instance holds at that moment.
    return Ansible(sandbox_aws, workdir / "runs", instance.secret_values)


@pytest.fixture(scope="module")
def rotation(ansible: Ansible, instance: Instance, upstream: FakeUpstream) -> Rotation:
    assert_ok(ansible.register(instance.namespace, upstream_model(upstream)))
    app = {"alias": "app", "models": ["granite"], "secret": {"name": "app-llm"}}
    assert_ok(ansible.keys(instance.namespace, "key.create", key=app))
    virtual_key = read_key_secret(instance, "app-llm")
    old_key = instance.master_key
    templates_before = {name: template(instance, name) for name in ("litellm", "backend")}
    with RolloutWatcher(instance) as watcher:
        run = ansible.keys(
            instance.namespace,
            "master_key.rotate",
            wait=240,
            label="rotate_keys.yml master_key.rotate (incl. proxy restart)",
        )
    new_key = instance.master_key
    instance.canaries.add(new_key)
    return Rotation(
        instance=instance,
        old_key=old_key,
        new_key=new_key,
        virtual_key=virtual_key,
        run=run,
        restarts=instance.pod.restarts,
        watcher_errors=watcher.errors,
        templates_before=templates_before,
    )


def test_the_rotation_playbook_succeeds(rotation: Rotation) -> None:
    assert not rotation.watcher_errors
    assert_ok(rotation.run)
    print(
        f"\nmaster-key rotation: {rotation.run.seconds:.1f}s including a proxy restart of "
        f"{rotation.instance.pod.restart_seconds[-1]:.1f}s"
    )


def test_the_new_key_is_in_both_secrets(rotation: Rotation) -> None:
    assert rotation.new_key != rotation.old_key
    assert rotation.new_key.startswith("sk-")
    backend = rotation.instance.secret("backend-secret")
    assert backend["litellm-api-key"] == rotation.new_key
    assert backend["jwt-secret"].startswith("sk-canary-jwt-")  # the rest is untouched


def test_both_deployments_rolled_with_the_deploy_roles_checksum(rotation: Rotation) -> None:
    for name, secret in (("litellm", "litellm-secret"), ("backend", "backend-secret")):
        now = template(rotation.instance, name)
        assert now != rotation.templates_before[name]
        annotation = now["metadata"]["annotations"]["litemaas.rhpds.io/secret-checksum"]
        assert annotation == role_checksum(rotation.instance.secret(secret))
    assert rotation.restarts == 1


def test_the_new_master_key_works_and_the_old_one_is_refused(rotation: Rotation) -> None:
    pod = rotation.instance.pod
    assert pod.api("GET", "/model/info", key=rotation.new_key).status == 200
    refused = pod.api("GET", "/model/info", key=rotation.old_key)
    assert refused.status == 401, refused.body


def test_every_registered_model_still_works(rotation: Rotation, upstream: FakeUpstream) -> None:
    seen = len(upstream.state.received)
    reply = chat(rotation.instance.pod.url, rotation.virtual_key, "granite")
    assert reply.status == 200, reply.body
    # The credential LiteLLM re-encrypted under the new key still decrypts to the upstream's key.
    assert upstream.state.received[seen].api_key == upstream.state.api_key
    completed = rotation.run.result("litellm_master_key")  # state=completed, the last call
    assert completed["models"] == [{"name": "granite", "works": True}]


def test_the_pending_rotation_record_is_gone(rotation: Rotation) -> None:
    assert rotation.instance.secret("litellm-master-key-rotation") == {}


def test_a_rotation_resumes_with_the_recorded_key(
    rotation: Rotation, ansible: Ansible, instance: Instance
) -> None:
    # A run that stopped after recording the new key (before anything else happened) is resumed
    # by the next run with that same key, not a fresh one.
    pending = canary("pending")
    instance.put_secret(
        "litellm-master-key-rotation",
        {
            "OLD_MASTER_KEY": instance.master_key,
            "NEW_MASTER_KEY": pending,
            "CANARY": "litemaas-rotation-canary-planted",
            "STAGE": "journaled",
        },
    )
    with RolloutWatcher(instance) as watcher:
        run = ansible.keys(instance.namespace, "master_key.rotate", wait=240)
    assert not watcher.errors
    assert_ok(run)
    assert instance.master_key == pending
    assert instance.pod.api("GET", "/model/info", key=pending).status == 200
    assert instance.pod.api("GET", "/model/info", key=rotation.new_key).status == 401
    assert chat(instance.pod.url, rotation.virtual_key, "granite").status == 200
    assert instance.secret("litellm-master-key-rotation") == {}


def test_check_mode_rotates_nothing(
    rotation: Rotation, ansible: Ansible, instance: Instance
) -> None:
    key = instance.master_key
    restarts = instance.pod.restarts
    secrets_before = {n: instance.secret(n) for n in ("litellm-secret", "backend-secret")}
    templates_before = {n: template(instance, n) for n in ("litellm", "backend")}
    run = ansible.keys(instance.namespace, "master_key.rotate", check=True)
    assert_ok(run)
    assert {n: instance.secret(n) for n in secrets_before} == secrets_before
    assert {n: template(instance, n) for n in templates_before} == templates_before
    assert instance.secret("litellm-master-key-rotation") == {}
    assert instance.pod.api("GET", "/model/info", key=key).status == 200
    assert instance.pod.restarts == restarts


def test_admin_password_rotation_rolls_litellm_and_the_new_password_logs_in(
    rotation: Rotation, ansible: Ansible, instance: Instance
) -> None:
    old = instance.secret("litellm-secret")["UI_PASSWORD"]
    restarts = instance.pod.restarts
    with RolloutWatcher(instance) as watcher:
        run = ansible.keys(
            instance.namespace,
            "admin_password.rotate",
            wait=240,
            label="rotate_keys.yml admin_password.rotate (incl. proxy restart)",
        )
    new = instance.secret("litellm-secret")["UI_PASSWORD"]
    instance.canaries.update({new})
    assert not watcher.errors
    assert_ok(run)
    assert new != old
    assert instance.pod.restarts == restarts + 1
    assert ui_login(instance.pod.url, new) == 303
    assert ui_login(instance.pod.url, old) == 401


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def ui_login(url: str, password: str) -> int:
    """LiteLLM's UI login: 303 to the UI when the password is right, 401 when not."""
    data = urllib.parse.urlencode({"username": "admin", "password": password}).encode()
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(f"{url}/login", data=data, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
