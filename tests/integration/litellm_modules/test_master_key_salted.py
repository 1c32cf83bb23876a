"""rotate_keys.yml master_key.rotate on an instance with the deploy role's salt key (Secret
litellm-salt-key, LITELLM_SALT_KEY in the proxy's environment): stored credentials are encrypted
with the salt, so the rotation changes the key without /key/regenerate (which would re-encrypt
them with the new master key and leave them unreadable to a proxy decrypting with the salt), and
every stored model still answers with the upstream's own key."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox import Sandbox
from sandbox.fakes.upstream import FakeUpstream

from .conftest import (
    Ansible,
    ProxyPod,
    RolloutWatcher,
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


def test_a_salted_instance_rotates_its_master_key_and_its_models_still_answer(
    sandbox_aws: Sandbox,
    start_pod: Callable[..., ProxyPod],
    fresh_database: Callable[[], str],
    upstream: FakeUpstream,
    workdir: Path,
) -> None:
    salt = canary("salt")
    # the proxy's environment as the role's Deployment sets it: the salt key beside the master key
    pod = start_pod(fresh_database(), canary("master"), LITELLM_SALT_KEY=salt)
    instance = make_instance(sandbox_aws, f"ms-{secrets.token_hex(4)}", pod)
    instance.put_secret("litellm-salt-key", {"LITELLM_SALT_KEY": salt})
    keep_upstream_key(instance, upstream)
    add_deployment(instance, "litellm", "litellm-secret")
    ansible = Ansible(sandbox_aws, workdir / "salted-runs", instance.secret_values)
    ns = instance.namespace
    assert_ok(ansible.register(ns, upstream_model(upstream)))
    app = {"alias": "app", "models": ["granite"], "secret": {"name": "app-llm"}}
    assert_ok(ansible.keys(ns, "key.create", key=app))
    virtual_key = read_key_secret(instance, "app-llm")
    old_key = instance.master_key
    with RolloutWatcher(instance) as watcher:
        run = ansible.keys(ns, "master_key.rotate", wait=240)
    assert not watcher.errors
    assert_ok(run)
    new_key = instance.master_key
    instance.canaries.add(new_key)
    assert new_key != old_key
    rotated = run.results("litellm_master_key")[0]
    assert rotated["regenerated"] is False  # nothing re-encrypted: no /key/regenerate
    assert instance.secret("litellm-salt-key") == {"LITELLM_SALT_KEY": salt}
    assert pod.env["LITELLM_SALT_KEY"] == salt  # the restarted proxy still decrypts with it
    assert pod.api("GET", "/model/info", key=old_key).status == 401
    seen = len(upstream.state.received)
    reply = chat(pod.url, virtual_key, "granite")
    assert reply.status == 200, reply.body
    assert upstream.state.received[seen].api_key == upstream.state.api_key
    assert run.result("litellm_master_key")["models"] == [{"name": "granite", "works": True}]
