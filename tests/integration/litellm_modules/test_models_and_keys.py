"""The collection's model and key playbooks and modules against a real LiteLLM 1.108.7 on real
PostgreSQL, the fake upstream, and an instance namespace in the sandbox cluster (master key read
from litellm-secret, URL from Route litellm, virtual keys written to Secrets there).

One proxy for the module; tests use distinct model names and aliases. Every run goes through
ansible-runner and is checked for canary secrets in its output and artifacts (conftest.Ansible)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox import Sandbox
from sandbox.fakes.upstream import DEFAULT_MODEL_ID, FakeUpstream

from .conftest import (
    ALLOW_REF,
    UPSTREAM_SECRET,
    Ansible,
    Instance,
    ProxyPod,
    assert_ok,
    canary,
    chat,
    keep_upstream_key,
    make_instance,
    read_key_secret,
    upstream_model,
)

pytestmark = pytest.mark.integration

OWNER_ANNOTATION = "litemaas.rhpds.io/virtual-key"


@pytest.fixture(scope="module")
def instance(
    sandbox_aws: Sandbox,
    start_pod: Callable[..., ProxyPod],
    fresh_database: Callable[[], str],
    upstream: FakeUpstream,
) -> Iterator[Instance]:
    pod = start_pod(fresh_database(), canary("master"))
    found = make_instance(sandbox_aws, f"mk-{secrets.token_hex(4)}", pod)
    keep_upstream_key(found, upstream)
    yield found
    assert found.pod.env["LITELLM_MASTER_KEY"] not in found.pod.log_text()


@pytest.fixture(scope="module")
def ansible(sandbox_aws: Sandbox, workdir: Path, instance: Instance) -> Ansible:
    # Checked after every run: whatever any Secret of the instance holds at that moment.
    return Ansible(sandbox_aws, workdir / "runs", instance.secret_values)


def upsert(ansible: Ansible, instance: Instance, upstream: FakeUpstream, name: str, **extra):
    model = upstream_model(upstream, name, **extra)
    return ansible.register(instance.namespace, model, label=f"register_model.yml upsert {name}")


def key_op(ansible: Ansible, instance: Instance, operation: str, label: str = "", **key):
    return ansible.keys(
        instance.namespace, operation, key=key, label=label or f"rotate_keys.yml {operation}"
    )


def secret_object(instance: Instance, name: str) -> dict:
    """The Secret exactly as the API server holds it (data, metadata, resourceVersion)."""
    found = instance.sandbox.kube().get(f"/api/v1/namespaces/{instance.namespace}/secrets/{name}")
    assert found is not None, f"no Secret {name}"
    return found


def deployments(instance: Instance, name: str) -> list[dict]:
    reply = instance.pod.api("GET", "/model/info")
    if reply.status == 500 and "Model List not loaded" in str(reply.body):
        return []  # a proxy that never had a model (a test run on its own)
    assert reply.status == 200, reply.body
    return [d for d in reply.body["data"] if d["model_name"] == name]


# -- models -------------------------------------------------------------------------------------
def test_upsert_registers_once_and_a_repeat_changes_nothing(
    ansible: Ansible, instance: Instance, upstream: FakeUpstream
) -> None:
    first = upsert(ansible, instance, upstream, "llama-once", limits={"rpm": 30})
    assert_ok(first)
    assert first.result("litellm_model")["action"] == "created"
    assert first.stats_data["litemaas_model"]["action"] == "created"
    assert first.stats_data["litemaas_model"]["id"].startswith("litemaas-")
    second = upsert(ansible, instance, upstream, "llama-once", limits={"rpm": 30})
    assert_ok(second)
    assert not second.changed, second.result("litellm_model")
    [only] = deployments(instance, "llama-once")
    assert only["litellm_params"]["rpm"] == 30
    # Discovered from the upstream's /v1/models, since the message named no upstream model.
    assert only["litellm_params"]["model"] == f"openai/{DEFAULT_MODEL_ID}"


def test_registering_proves_the_upstream_with_one_request(
    ansible: Ansible, instance: Instance, upstream: FakeUpstream
) -> None:
    before = len(upstream.state.calls("/v1/chat/completions"))
    assert_ok(upsert(ansible, instance, upstream, "llama-proved"))
    probes = upstream.state.calls("/v1/chat/completions")[before:]
    assert len(probes) == 1
    assert probes[0].api_key == upstream.state.api_key


def test_an_upstream_refusing_the_key_is_not_registered(
    ansible: Ansible, instance: Instance, upstream: FakeUpstream
) -> None:
    instance.put_secret("wrong-creds", {"token": canary("wrong")}, ALLOW_REF)
    run = ansible.run(
        playbook="register_model.yml",
        extravars={
            "litellm_models_namespace": instance.namespace,
            "litellm_models_model": {
                "name": "llama-refused",
                "api_base": upstream.base_url,
                "upstream_model": DEFAULT_MODEL_ID,
                "api_key_secret": {"name": "wrong-creds", "key": "token"},
            },
        },
    )
    assert not run.ok
    assert "upstream refused the key" in run.result("litellm_model")["msg"]
    assert deployments(instance, "llama-refused") == []


def test_a_missing_secret_is_named_and_fails_permanently(
    ansible: Ansible, instance: Instance, upstream: FakeUpstream
) -> None:
    ref = {"name": "no-such-creds", "key": "token"}
    run = upsert(ansible, instance, upstream, "llama-unresolved", api_key_secret=ref)
    assert not run.ok
    failed = run.result("litellm_model")
    assert f"Secret {instance.namespace}/no-such-creds does not exist" in failed["msg"]
    assert failed["failure_kind"] == "permanent", failed


def test_check_mode_reports_the_change_and_makes_none(
    ansible: Ansible, instance: Instance, upstream: FakeUpstream
) -> None:
    run = ansible.run(
        playbook="register_model.yml",
        extravars={
            "litellm_models_namespace": instance.namespace,
            "litellm_models_model": {
                "name": "llama-check",
                "api_base": upstream.base_url,
                "api_key_secret": {"name": UPSTREAM_SECRET, "key": "token"},
            },
        },
        check=True,
    )
    assert_ok(run)
    assert run.result("litellm_model")["changed"] is True
    assert run.result("litellm_model")["action"] == "created"
    assert deployments(instance, "llama-check") == []

    keys_before = instance.pod.api("GET", "/key/list").body["keys"]
    run = ansible.run(
        tasks=[
            {
                "rhpds.litemaas.litellm_key": {
                    "namespace": instance.namespace,
                    "alias": "check-key",
                    "models": ["llama-once"],
                    "secret_name": "check-key",
                }
            }
        ],
        check=True,
    )
    assert_ok(run)
    assert run.result("litellm_key")["changed"] is True
    assert instance.pod.api("GET", "/key/list").body["keys"] == keys_before
    assert instance.secret("check-key") == {}


def test_a_changed_upstream_key_is_noticed_and_applied(
    ansible: Ansible, instance: Instance, upstream: FakeUpstream
) -> None:
    second = FakeUpstream(api_key=canary("upstream2")).start()
    try:
        instance.put_secret("rotating-creds", {"token": second.state.api_key}, ALLOW_REF)
        model = {
            "name": "llama-rekeyed",
            "api_base": second.base_url,
            "api_key_secret": {"name": "rotating-creds", "key": "token"},
        }
        args = {"litellm_models_namespace": instance.namespace, "litellm_models_model": model}
        assert_ok(ansible.run(playbook="register_model.yml", extravars=args))
        # The upstream's owner rotates its key: LiteLLM cannot show the stored one, the
        # fingerprint in model_info tells the module it differs.
        second.state.api_key = canary("upstream2-new")
        instance.put_secret("rotating-creds", {"token": second.state.api_key}, ALLOW_REF)
        run = ansible.run(playbook="register_model.yml", extravars=args)
        assert_ok(run)
        assert run.result("litellm_model")["changed_fields"] == ["api_key"]
        assert_ok(again := ansible.run(playbook="register_model.yml", extravars=args))
        assert not again.changed
        assert len(deployments(instance, "llama-rekeyed")) == 1
        # Through the proxy, the upstream now receives the new key.
        key = instance.pod.env["LITELLM_MASTER_KEY"]
        reply = chat(instance.pod.url, key, "llama-rekeyed")
        assert reply.status == 200, reply.body
        assert second.state.received[-1].api_key == second.state.api_key
    finally:
        second.stop()


def test_model_delete_removes_it_and_a_repeat_changes_nothing(
    ansible: Ansible, instance: Instance, upstream: FakeUpstream
) -> None:
    assert_ok(upsert(ansible, instance, upstream, "llama-deleted"))
    args = {
        "litellm_models_namespace": instance.namespace,
        "litellm_models_model": {"name": "llama-deleted"},
        "litellm_models_state": "absent",
    }
    first = ansible.run(playbook="register_model.yml", extravars=args, label="model.delete")
    assert_ok(first)
    assert first.changed
    assert deployments(instance, "llama-deleted") == []
    second = ansible.run(playbook="register_model.yml", extravars=args)
    assert_ok(second)
    assert not second.changed


def test_a_deployment_added_outside_is_not_silently_load_balanced(
    ansible: Ansible, instance: Instance, upstream: FakeUpstream
) -> None:
    added = instance.pod.api(
        "POST",
        "/model/new",
        {
            "model_name": "llama-ui",
            "litellm_params": {
                "model": f"openai/{DEFAULT_MODEL_ID}",
                "api_base": upstream.base_url,
                "api_key": upstream.state.api_key,
            },
        },
    )
    assert added.status == 200, added.body
    run = upsert(ansible, instance, upstream, "llama-ui")
    assert not run.ok
    assert "not managed by this collection" in run.result("litellm_model")["msg"]
    assert len(deployments(instance, "llama-ui")) == 1


# -- keys ---------------------------------------------------------------------------------------
def test_key_create_writes_only_the_secret_and_a_repeat_changes_nothing(
    ansible: Ansible, instance: Instance, upstream: FakeUpstream
) -> None:
    assert_ok(upsert(ansible, instance, upstream, "llama-keyed"))
    body = {
        "alias": "team-a",
        "user_id": "team-a-user",
        "models": ["llama-keyed"],
        "max_budget": 10,
        "duration": "30d",
        "secret": {"name": "team-a-llm"},
    }
    first = key_op(ansible, instance, "key.create", **body)
    assert_ok(first)
    result = first.result("litellm_key")
    assert result["action"] == "created"
    assert result["secret"] == {"namespace": instance.namespace, "name": "team-a-llm"}
    value = read_key_secret(instance, "team-a-llm")
    assert instance.secret("team-a-llm")["OPENAI_BASE_URL"] == f"{instance.pod.url}/v1"
    # the module's mark of ownership: it may replace and delete this Secret, and no other
    assert secret_object(instance, "team-a-llm")["metadata"]["annotations"] == {
        OWNER_ANNOTATION: "team-a"
    }
    assert result["key"]["token"] not in (None, value)
    assert first.stats_data["litemaas_key"] == {
        "alias": "team-a",
        "action": "created",
        "token": result["key"]["token"],
        "secret": {"namespace": instance.namespace, "name": "team-a-llm"},
    }
    second = key_op(ansible, instance, "key.create", **body)
    assert_ok(second)
    assert not second.changed, second.result("litellm_key")


def test_a_chat_through_the_new_key_reaches_the_upstream_with_its_key(
    instance: Instance, upstream: FakeUpstream
) -> None:
    value = read_key_secret(instance, "team-a-llm")
    seen = len(upstream.state.received)
    reply = chat(instance.pod.url, value, "llama-keyed")
    assert reply.status == 200, reply.body
    assert reply.body["choices"][0]["message"]["content"] == "pong"
    [received] = upstream.state.received[seen:]
    assert received.path == "/v1/chat/completions"
    assert received.api_key == upstream.state.api_key
    assert received.body["model"] == DEFAULT_MODEL_ID


def test_rotation_leaves_the_new_key_working_and_the_old_key_refused(
    ansible: Ansible, instance: Instance
) -> None:
    old = read_key_secret(instance, "team-a-llm")
    # key.rotate names only the alias: Secret, models, user and budget come from the key.
    run = key_op(ansible, instance, "key.rotate", alias="team-a")
    assert_ok(run)
    assert run.result("litellm_key")["action"] == "rotated"
    new = read_key_secret(instance, "team-a-llm")
    assert new != old
    assert chat(instance.pod.url, new, "llama-keyed").status == 200
    refused = chat(instance.pod.url, old, "llama-keyed")
    assert refused.status == 401, refused.body
    [key] = instance.pod.api("GET", "/key/list?key_alias=team-a&return_full_object=true").body[
        "keys"
    ]
    assert key["models"] == ["llama-keyed"]
    assert key["user_id"] == "team-a-user"
    assert key["max_budget"] == 10


def test_a_key_for_a_model_the_proxy_does_not_serve_is_refused(
    ansible: Ansible, instance: Instance
) -> None:
    run = key_op(
        ansible,
        instance,
        "key.create",
        alias="team-typo",
        models=["openai/llama-keyed"],
        secret={"name": "team-typo-llm"},
    )
    assert not run.ok
    message = run.result("litellm_key")["msg"]
    assert "openai/llama-keyed" in message
    assert "not served by this LiteLLM" in message
    assert "llama-keyed" in message.split("Served public model names:")[1]
    assert instance.secret("team-typo-llm") == {}
    listed = instance.pod.api("GET", "/key/list?key_alias=team-typo").body["keys"]
    assert listed == []


def test_key_delete_removes_the_key_and_its_secret(ansible: Ansible, instance: Instance) -> None:
    body = {"alias": "team-gone", "models": ["llama-keyed"], "secret": {"name": "team-gone-llm"}}
    assert_ok(key_op(ansible, instance, "key.create", **body))
    value = read_key_secret(instance, "team-gone-llm")
    run = key_op(ansible, instance, "key.delete", alias="team-gone")
    assert_ok(run)
    assert run.changed
    assert instance.secret("team-gone-llm") == {}
    assert chat(instance.pod.url, value, "llama-keyed").status == 401
    again = key_op(ansible, instance, "key.delete", alias="team-gone")
    assert_ok(again)
    assert not again.changed


def test_an_interrupted_rotation_is_completed_by_the_next_run(
    ansible: Ansible, instance: Instance
) -> None:
    body = {"alias": "team-b", "models": ["llama-keyed"], "secret": {"name": "team-b-llm"}}
    assert_ok(key_op(ansible, instance, "key.create", **body))
    old = read_key_secret(instance, "team-b-llm")
    # A rotation that stopped after issuing the new key and writing it to the Secret, before
    # deleting the old key: both keys exist, the Secret holds the new one.
    issued = instance.pod.api(
        "POST",
        "/key/generate",
        {
            "key_alias": "team-b.rotating",
            "models": ["llama-keyed"],
            "metadata": {"litemaas_managed": True, "litemaas_secret": "x/team-b-llm"},
        },
    )
    assert issued.status == 200, issued.body
    instance.canaries.add(issued.body["key"])
    instance.put_secret("team-b-llm", {"OPENAI_API_KEY": issued.body["key"]})
    run = key_op(ansible, instance, "key.create", **body)
    assert_ok(run)
    assert run.result("litellm_key")["deleted_tokens"]
    assert chat(instance.pod.url, old, "llama-keyed").status == 401
    assert chat(instance.pod.url, issued.body["key"], "llama-keyed").status == 200
    aliases = [
        k["key_alias"]
        for k in instance.pod.api("GET", "/key/list?return_full_object=true&size=100").body["keys"]
    ]
    assert aliases.count("team-b") == 1
    assert "team-b.rotating" not in aliases


# -- Secret references (docs/untrusted-input.md) ------------------------------------------------
def register(ansible: Ansible, instance: Instance, model: dict, allow: list[str] | None = None):
    extravars = {"litellm_models_namespace": instance.namespace, "litellm_models_model": model}
    if allow is not None:
        extravars["litellm_models_upstream_allow"] = allow
    return ansible.run(playbook="register_model.yml", extravars=extravars)


def test_a_model_naming_litellm_secret_never_sends_the_master_key_anywhere(
    ansible: Ansible, instance: Instance, upstream: FakeUpstream
) -> None:
    # The attack of issue 12: the master key as the "upstream key", an api_base of the sender's
    # choosing; discovery would present it there as a bearer token.
    stolen = {"name": "litellm-secret", "key": "LITELLM_MASTER_KEY"}
    run = register(
        ansible,
        instance,
        {"name": "llama-stolen", "api_base": upstream.base_url, "api_key_secret": stolen},
    )
    assert not run.ok
    assert instance.master_key not in upstream.state.keys_presented()
    refused = run.result("litellm_model")
    assert "one of the instance's own Secrets" in refused["msg"]
    assert refused["failure_kind"] == "permanent"  # a message is dead-lettered, not retried
    assert deployments(instance, "llama-stolen") == []


def test_an_upstream_key_is_read_only_from_a_secret_labelled_for_it(
    ansible: Ansible, instance: Instance, upstream: FakeUpstream
) -> None:
    instance.put_secret("unlabelled-creds", {"token": upstream.state.api_key})
    model = {
        "name": "llama-labelled",
        "api_base": upstream.base_url,
        "api_key_secret": {"name": "unlabelled-creds", "key": "token"},
    }
    seen = len(upstream.state.presented)
    refused = register(ansible, instance, model)
    assert not refused.ok
    assert "allow-message-ref=true" in refused.result("litellm_model")["msg"]
    assert upstream.state.presented[seen:] == []  # nothing was sent anywhere
    assert deployments(instance, "llama-labelled") == []
    # Once its owner labels it, the same Secret is read (the fake upstream listens on loopback).
    instance.sandbox.kube().patch(
        f"/api/v1/namespaces/{instance.namespace}/secrets/unlabelled-creds",
        {"metadata": {"labels": ALLOW_REF}},
    )
    assert_ok(register(ansible, instance, model, allow=["127.0.0.0/8"]))
    assert len(deployments(instance, "llama-labelled")) == 1


def test_an_api_base_outside_the_upstream_allow_list_is_refused_before_the_key_is_read(
    ansible: Ansible, instance: Instance, upstream: FakeUpstream
) -> None:
    seen = len(upstream.state.presented)
    model = {
        "name": "llama-elsewhere",
        "api_base": upstream.base_url,
        "api_key_secret": {"name": UPSTREAM_SECRET, "key": "token"},
    }
    run = register(ansible, instance, model, allow=["*.models.svc", "10.0.0.0/8", "fd00::/8"])
    assert not run.ok
    assert "not one upstream_allow admits" in run.result("litellm_model")["msg"]
    assert upstream.state.presented[seen:] == []
    assert deployments(instance, "llama-elsewhere") == []


def test_key_create_never_replaces_a_secret_it_did_not_create(
    ansible: Ansible, instance: Instance
) -> None:
    instance.put_secret("app-config", {"OPENAI_API_KEY": canary("app"), "LOG_LEVEL": "debug"})
    before = {name: secret_object(instance, name) for name in ("app-config", "litellm-secret")}
    for name in before:
        run = key_op(
            ansible, instance, "key.create", alias=f"intruder-{name}", models=[],
            secret={"name": name},
        )  # fmt: skip
        assert not run.ok, name
        assert run.result("litellm_key")["failure_kind"] == "permanent", name
    # byte for byte: data, labels, annotations, resourceVersion
    assert {name: secret_object(instance, name) for name in before} == before
    for name in before:
        assert instance.pod.api("GET", f"/key/list?key_alias=intruder-{name}").body["keys"] == []


def test_key_delete_never_deletes_a_secret_it_did_not_create(
    ansible: Ansible, instance: Instance
) -> None:
    instance.put_secret("foreign-llm", {"OPENAI_API_KEY": canary("foreign")})
    before = secret_object(instance, "foreign-llm")
    task = {"namespace": instance.namespace, "alias": "nobody", "state": "absent",
            "secret_name": "foreign-llm"}  # fmt: skip
    run = ansible.run(tasks=[{"rhpds.litemaas.litellm_key": task}])
    assert_ok(run)
    result = run.result("litellm_key")
    assert not result["changed"]
    assert any("not deleted" in w for w in result.get("warnings", [])), result
    assert secret_object(instance, "foreign-llm") == before


# -- info and redaction --------------------------------------------------------------------------
def test_info_lists_models_and_keys_without_credentials(
    ansible: Ansible, instance: Instance
) -> None:
    run = ansible.run(
        tasks=[{"rhpds.litemaas.litellm_info": {"namespace": instance.namespace}}],
        label="litellm_info",
    )
    assert_ok(run)
    info = run.result("litellm_info")
    model = next(m for m in info["models"] if m["name"] == "llama-keyed")
    assert model["managed"] is True
    assert model["mode"] == "chat"
    assert model["upstream_model"] == DEFAULT_MODEL_ID
    key = next(k for k in info["keys"] if k["alias"] == "team-a")
    assert key["models"] == ["llama-keyed"]
    assert key["user_id"] == "team-a-user"
    assert "llama-keyed" in info["public_models"]
    # The canary check of Ansible.run covers every key value and the upstream key.


def test_secret_options_are_redacted_by_no_log(
    ansible: Ansible, instance: Instance, upstream: FakeUpstream
) -> None:
    # The direct form: url, master key and upstream key given as module options (from a vars
    # file, as a vault would supply them), at -vvv where invocations are shown.
    run = ansible.run(
        tasks=[
            {
                "rhpds.litemaas.litellm_model": {
                    "url": instance.pod.url,
                    "master_key": "{{ t_master }}",
                    "name": "llama-direct",
                    "api_base": upstream.base_url,
                    "api_key": "{{ t_upstream }}",
                }
            }
        ],
        verbosity=3,
        secret_vars={"t_master": instance.master_key, "t_upstream": upstream.state.api_key},
    )
    assert_ok(run)
    args = run.result("litellm_model")["invocation"]["module_args"]
    assert args["master_key"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert args["api_key"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert upstream.state.api_key in instance.canaries


def test_replace_unmanaged_takes_over_the_public_name(
    ansible: Ansible, instance: Instance, upstream: FakeUpstream
) -> None:
    added = instance.pod.api(
        "POST",
        "/model/new",
        {
            "model_name": "llama-taken-over",
            "litellm_params": {
                "model": f"openai/{DEFAULT_MODEL_ID}",
                "api_base": upstream.base_url,
                "api_key": upstream.state.api_key,
            },
        },
    )
    assert added.status == 200, added.body
    run = ansible.run(
        playbook="register_model.yml",
        extravars={
            "litellm_models_namespace": instance.namespace,
            "litellm_models_replace_unmanaged": True,
            "litellm_models_model": {
                "name": "llama-taken-over",
                "api_base": upstream.base_url,
                "api_key_secret": {"name": UPSTREAM_SECRET, "key": "token"},
            },
        },
    )
    assert_ok(run)
    assert run.result("litellm_model")["replaced"] == [added.body["model_id"]]
    [only] = deployments(instance, "llama-taken-over")
    assert only["model_info"]["id"].startswith("litemaas-")


@pytest.mark.parametrize("mode", ["completion", "embedding"])
def test_completion_and_embedding_models_are_proved_and_served(
    ansible: Ansible, instance: Instance, upstream: FakeUpstream, mode: str
) -> None:
    path = {"completion": "/v1/completions", "embedding": "/v1/embeddings"}[mode]
    before = len(upstream.state.calls(path))
    assert_ok(upsert(ansible, instance, upstream, f"fake-{mode}", mode=mode))
    assert len(upstream.state.calls(path)) == before + 1  # the proof before registering
    run = ansible.run(
        tasks=[
            {
                "rhpds.litemaas.litellm_info": {
                    "namespace": instance.namespace,
                    "gather": ["models"],
                    "probe": True,
                    "probe_models": [f"fake-{mode}"],
                }
            }
        ]
    )
    assert_ok(run)
    [model] = [m for m in run.result("litellm_info")["models"] if m["name"] == f"fake-{mode}"]
    assert (model["mode"], model["works"]) == (mode, True), model
    assert len(upstream.state.calls(path)) == before + 2  # and once through the proxy


def test_a_lost_secret_gets_a_new_key_and_the_unreachable_one_is_deleted(
    ansible: Ansible, instance: Instance
) -> None:
    body = {"alias": "team-lost", "models": ["llama-keyed"], "secret": {"name": "team-lost-llm"}}
    assert_ok(key_op(ansible, instance, "key.create", **body))
    old = read_key_secret(instance, "team-lost-llm")
    instance.sandbox.kube().delete(f"/api/v1/namespaces/{instance.namespace}/secrets/team-lost-llm")
    run = key_op(ansible, instance, "key.create", **body)
    assert_ok(run)
    assert run.result("litellm_key")["action"] == "reissued"
    new = read_key_secret(instance, "team-lost-llm")
    assert chat(instance.pod.url, new, "llama-keyed").status == 200
    assert chat(instance.pod.url, old, "llama-keyed").status == 401
