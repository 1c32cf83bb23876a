"""What lives in PostgreSQL outlives the proxy process, and the master key can be
rotated through the admin API. One scenario, two proxies on one database:

1. proxy A (master key 1): add a model, issue a virtual key, rotate the master key
   to key 2 with /key/regenerate;
2. stop A, start proxy B on the same database with master key 2.

Each test checks one consequence, so a failure names what broke."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from litellm_local import canary
from litellm_local.proxy import Proxy, Reply, call
from sandbox.fakes.upstream import FakeUpstream
from sandbox.real.procfs import rss_kib
from sandbox.throwaway_pg import ThrowawayPostgres

pytestmark = pytest.mark.integration


@dataclass
class Lifecycle:
    first: Proxy
    second: Proxy
    old_key: str
    new_key: str
    model_id: str
    virtual_key: str
    rotation: Reply
    old_key_before_restart: Reply


def chat(proxy: Proxy, key: str) -> Reply:
    return proxy.api(
        "POST",
        "/v1/chat/completions",
        {"model": "persisted-model", "messages": [{"role": "user", "content": "ping"}]},
        key=key,
    )


@pytest.fixture(scope="module")
def lifecycle(
    start_proxy: Callable[..., Proxy], fresh_database: Callable[[], str], upstream: FakeUpstream
) -> Lifecycle:
    database_url = fresh_database()
    old_key, new_key = canary("master"), canary("master")
    first = start_proxy(database_url, old_key)
    model = first.api(
        "POST",
        "/model/new",
        {
            "model_name": "persisted-model",
            "litellm_params": {
                "model": f"openai/{upstream.state.model_id}",
                "api_base": upstream.base_url,
                "api_key": upstream.state.api_key,
            },
        },
    )
    assert model.status == 200, model.body
    virtual = first.api("POST", "/key/generate", {"models": ["persisted-model"]})
    assert virtual.status == 200, virtual.body
    assert chat(first, virtual.body["key"]).status == 200
    rotation = first.api("POST", "/key/regenerate", {"key": old_key, "new_master_key": new_key})
    old_key_before_restart = first.api("GET", "/model/info", key=old_key)
    first.stop()
    second = start_proxy(database_url, new_key)
    print(
        f"\nrestart: ready in {second.ready_seconds:.1f}s (first start "
        f"{first.ready_seconds:.1f}s); RSS proxy {rss_kib([second.process.pid]) // 1024} MiB, "
        f"engine stand-in {rss_kib([second.engine_pid()]) // 1024} MiB"
    )
    return Lifecycle(
        first=first,
        second=second,
        old_key=old_key,
        new_key=new_key,
        model_id=model.body["model_id"],
        virtual_key=virtual.body["key"],
        rotation=rotation,
        old_key_before_restart=old_key_before_restart,
    )


def test_a_model_added_survives_a_proxy_restart(lifecycle: Lifecycle) -> None:
    reply = lifecycle.second.api("GET", "/model/info")
    assert reply.status == 200, reply.body
    ids = [m["model_info"]["id"] for m in reply.body["data"]]
    assert lifecycle.model_id in ids


def test_the_first_proxy_is_really_gone(lifecycle: Lifecycle) -> None:
    with pytest.raises(OSError):
        call("GET", f"{lifecycle.first.url}/health/liveliness", timeout=2)


def test_master_key_rotation_is_accepted(lifecycle: Lifecycle) -> None:
    assert lifecycle.rotation.status == 200, lifecycle.rotation.body


def test_the_running_proxy_keeps_the_old_master_key_until_restarted(
    lifecycle: Lifecycle,
) -> None:
    assert lifecycle.old_key_before_restart.status == 200, lifecycle.old_key_before_restart.body


def test_after_restart_the_new_master_key_works_and_the_old_one_is_refused(
    lifecycle: Lifecycle,
) -> None:
    assert lifecycle.second.api("GET", "/model/info", key=lifecycle.new_key).status == 200
    refused = lifecycle.second.api("GET", "/model/info", key=lifecycle.old_key)
    assert refused.status == 401, refused.body


def test_stored_model_credentials_were_reencrypted_for_the_new_key(
    lifecycle: Lifecycle, upstream: FakeUpstream
) -> None:
    # The upstream only answers with its own key: a completion through the restarted
    # proxy proves the model's credential decrypts under the new master key.
    seen = len(upstream.state.calls("/v1/chat/completions"))
    reply = chat(lifecycle.second, lifecycle.virtual_key)
    assert reply.status == 200, reply.body
    assert len(upstream.state.calls("/v1/chat/completions")) == seen + 1


def test_no_master_key_in_either_log(lifecycle: Lifecycle) -> None:
    for proxy in (lifecycle.first, lifecycle.second):
        log = proxy.log_text()
        assert lifecycle.old_key not in log
        assert lifecycle.new_key not in log
        assert "UNSUPPORTED ENGINE REQUEST" not in log


def test_zz_queries_work_again_right_after_postgres_restarts(
    lifecycle: Lifecycle, postgres: ThrowawayPostgres
) -> None:
    # A PostgreSQL pod restart: the stand-in's pool drops the dead connections and
    # reconnects on the next query (while it is down, queries fail with a 500).
    postgres.restart()
    deadline = time.monotonic() + 30
    attempt = 0
    while True:
        attempt += 1
        body = {"key_alias": f"after-pg-restart-{attempt}"}
        reply = lifecycle.second.api("POST", "/key/generate", body)
        if reply.status == 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert reply.status == 200, reply.body


def test_zz_a_killed_engine_stand_in_is_replaced_by_litellm(lifecycle: Lifecycle) -> None:
    # LiteLLM watches its engine process and starts a new one when it dies; the
    # stand-in must be restartable the same way (runs last: it disturbs the proxy).
    proxy = lifecycle.second
    old = proxy.engine_pid()
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 60
    reply = None
    while time.monotonic() < deadline:
        try:
            replaced = proxy.engine_pid() != old
        except LookupError:
            replaced = False
        if replaced:
            reply = proxy.api("GET", "/model/info")
            if reply.status == 200:
                break
        time.sleep(0.5)
    assert reply is not None, "no new engine stand-in appeared"
    assert reply.status == 200, reply.body
    assert lifecycle.model_id in [m["model_info"]["id"] for m in reply.body["data"]]
