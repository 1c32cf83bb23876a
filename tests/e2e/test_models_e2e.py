"""Models and keys end to end: messages on Redis → the controller → register_model.yml and
rotate_keys.yml → the real LiteLLM of an instance the controller provisioned in the sandbox.

One sandbox with real workloads for the module: the instance's LiteLLM pod runs the real proxy on
its real PostgreSQL; the model server is the fake upstream (sandbox/fakes/upstream.py) running in a
pod of its own namespace behind the Service `vllm`, which LiteLLM reaches by its cluster name. The
controller runs as `litemaas-controller serve` with its own Redis (AOF, fsync always) and reaches
the Route and the Service through the sandbox's router, as from inside the cluster. Tests run in
the order of the file and build on each other (a model first, then keys on it).

Figures (per-message latency from XADD to the run's end, each playbook's run time) are printed at
the end of the module and written to `timings.json` in its temporary directory.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from e2e.realworld import (
    COLLECTIONS,
    COMPLETION_MODEL,
    LONG,
    MODEL,
    REPO,
    UPSERT,
    UPSTREAM_MODEL,
    World,
    open_world,
)
from integration.real_litellm.curlkit import curl, shown
from integration.service.credentials import TOKEN
from integration.service.msgkit import DEAD, GROUP, STREAM, dead_letters, pending, send
from sandbox.fakes.upstream import RECEIVED_PATH, sha256
from waiting import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with open_world(tmp_path_factory.mktemp("models-e2e"), "models-e2e") as world:
        yield world


def test_a_model_upsert_registers_the_model_once_and_a_repeat_changes_nothing(
    world: World,
) -> None:
    body = {**UPSERT, "api_base": world.api_base}  # upstream_model discovered from /v1/models
    first = world.message("up-1", "model.upsert", body)
    assert first["status"] == "succeeded", first
    assert len(first["runs"]) == 1
    assert first["results"]["action"] == "created", first["results"]
    [deployment] = world.deployments(MODEL)
    assert deployment["litellm_params"]["model"] == f"openai/{UPSTREAM_MODEL}"
    assert deployment["litellm_params"]["api_base"] == world.api_base
    # The module proved the endpoint with one completion carrying the upstream's key.
    proofs = [r for r in world.received() if r["path"] == "/v1/chat/completions"]
    assert proofs and proofs[-1]["body"]["model"] == UPSTREAM_MODEL
    assert proofs[-1]["api_key_sha256"] == sha256(world.upstream_key)

    entries = world.r.xlen(STREAM)
    send(world.r, "up-1", "model.upsert", world.instance, body)  # the same message again
    wait_until(lambda: world.r.xlen(STREAM) == entries + 1 and pending(world.r) == 0, timeout=60)
    again = world.svc.order("msg:up-1")
    assert again is not None and len(again["runs"]) == 1  # acknowledged, not run again

    repeat = world.message("up-2", "model.upsert", body)  # a new id, the same content
    assert repeat["status"] == "succeeded", repeat
    assert repeat["results"] == {
        **first["results"],
        "action": "none",
        "changed_fields": [],
    }
    assert len(world.deployments(MODEL)) == 1  # still one deployment, as it was
    assert world.deployments(MODEL)[0]["model_info"]["id"] == deployment["model_info"]["id"]

    completion = world.message(
        "up-3", "model.upsert", {**body, "name": COMPLETION_MODEL, "mode": "completion"}
    )
    assert completion["status"] == "succeeded", completion


def test_a_chat_through_a_new_virtual_key_reaches_the_upstream_with_its_key(world: World) -> None:
    body = {
        "alias": "team-a",
        "user_id": "alice",
        "models": [MODEL],
        "max_budget": 50,
        "duration": "30d",
        "secret": {"name": "team-a-llm"},
    }
    created = world.message("key-1", "key.create", body)
    assert created["status"] == "succeeded", created
    key, base_url = world.virtual_key("team-a-llm")
    assert base_url == f"https://{world.host}/v1"
    before = len(world.received())
    status, answer = world.chat(base_url, key, MODEL)
    assert status == 200, shown(answer)
    assert answer["choices"][0]["message"]["content"] == "pong"
    [arrived] = world.received()[before:]
    assert arrived["path"] == "/v1/chat/completions" and arrived["body"]["model"] == UPSTREAM_MODEL
    assert arrived["api_key_sha256"] == sha256(world.upstream_key)
    assert key not in json.dumps(created)
    # the key may use only the models it was made for
    status, refused = world.chat(base_url, key, COMPLETION_MODEL)
    assert status in (401, 403), shown(refused)


def test_rotation_leaves_the_new_key_working_and_the_old_key_answering_401(world: World) -> None:
    old, base_url = world.virtual_key("team-a-llm")
    rotated = world.message("key-2", "key.rotate", {"alias": "team-a"})
    assert rotated["status"] == "succeeded", rotated
    new, _ = world.virtual_key("team-a-llm")
    assert new != old
    status, answer = world.chat(base_url, new, MODEL)
    assert status == 200, shown(answer)
    status, answer = world.chat(base_url, old, MODEL)
    assert status == 401, shown(answer)


def test_a_key_for_a_model_the_proxy_does_not_serve_is_refused_clearly(world: World) -> None:
    body = {
        "alias": "team-x",
        "user_id": "bob",
        "models": ["no-such-model"],
        "secret": {"name": "team-x-llm"},
    }
    send(world.r, "key-bad", "key.create", world.instance, body)
    letter = wait_until(
        lambda: next((d for d in dead_letters(world.r) if d.get("id") == "key-bad"), None),
        timeout=LONG,
        what="the refused key's dead letter",
    )
    view = world.svc.order("msg:key-bad")
    assert view is not None and view["status"] == "failed"
    assert letter["kind"] == "failed"
    for text in (view["message"], letter["reason"]):
        assert "no-such-model" in text and MODEL in text, text  # names the unknown and the served
    assert world.secret(world.ns, "team-x-llm") == {}  # no key was made, no Secret written
    assert pending(world.r) == 0


def test_a_malformed_message_lands_in_the_dead_letter_stream_and_nothing_else_happens(
    world: World,
) -> None:
    status, before = world.svc.request("GET", "/api/v1/orders?limit=1000")
    assert status == 200
    dead_before = world.r.xlen(DEAD)
    world.r.xadd(STREAM, {"id": "bad-1", "type": "model.upsert", "instance": world.instance,
                          "body": "{not json"})  # fmt: skip
    world.r.xadd(STREAM, {"id": "bad-2", "type": "model.upsert", "instance": world.instance,
                          "body": json.dumps({**UPSERT, "api_base": world.api_base,
                                              "api_key": world.upstream_key})})  # fmt: skip
    world.r.xadd(STREAM, {"type": "model.upsert", "body": "{}"})
    wait_until(lambda: world.r.xlen(DEAD) == dead_before + 3, timeout=60, what="3 dead letters")
    letters = dead_letters(world.r)[dead_before:]
    assert {d["kind"] for d in letters} <= {"malformed", "invalid"}
    assert all(d["reason"] for d in letters)
    assert world.upstream_key not in json.dumps(letters)  # the raw secret is withheld
    assert world.svc.order("msg:bad-1") is None and world.svc.order("msg:bad-2") is None
    _, after = world.svc.request("GET", "/api/v1/orders?limit=1000")
    assert len(after["items"]) == len(before["items"])  # nothing recorded, nothing ran
    assert pending(world.r) == 0  # acknowledged: they are not delivered again


def test_a_message_naming_litellm_secret_is_dead_lettered_and_the_master_key_goes_nowhere(
    world: World,
) -> None:
    stolen = {"name": "litellm-secret", "key": "LITELLM_MASTER_KEY"}
    bodies = {
        "steal-1": ("model.upsert", {**UPSERT, "api_base": world.api_base,
                                     "api_key_secret": stolen}),
        "steal-2": ("key.create", {"alias": "thief", "user_id": "mallory", "models": [MODEL],
                                   "secret": {"name": "litellm-secret"}}),
    }  # fmt: skip
    before = world.secret(world.ns, "litellm-secret")
    for message_id, (kind, body) in bodies.items():
        send(world.r, message_id, kind, world.instance, body)
    for message_id in bodies:
        letter = wait_until(
            lambda m=message_id: next((d for d in dead_letters(world.r) if d.get("id") == m), None),
            timeout=LONG,
            what=f"the dead letter of {message_id}",
        )
        assert letter["kind"] == "invalid" and letter["deliveries"] == "1", letter
        assert world.svc.order(f"msg:{message_id}") is None  # nothing recorded, nothing ran
    presented = {p["api_key_sha256"] for p in world.received("presented")}
    assert sha256(world.master_key()) not in presented
    assert world.secret(world.ns, "litellm-secret") == before


def test_master_key_rotation_keeps_every_model_usable_and_refuses_the_old_key(
    world: World,
) -> None:
    old = world.master_key()
    key, base_url = world.virtual_key("team-a-llm")
    rotated = world.message("mk-1", "master_key.rotate", {})
    assert rotated["status"] == "succeeded", rotated
    new = world.master_key()
    assert new != old
    status, body = curl(world.box, "GET", f"https://{world.host}/model/info", key=new)
    assert status == 200, shown(body)
    names = sorted(d["model_name"] for d in body["data"])
    assert names == sorted([MODEL, COMPLETION_MODEL])
    world.secrets["old master key"] = old
    status, body = curl(world.box, "GET", f"https://{world.host}/model/info", key=old)
    assert status == 401, shown(body)
    # the stored upstream credentials still decrypt: both models answer through the new proxy
    status, answer = world.chat(base_url, key, MODEL)
    assert status == 200, shown(answer)
    status, answer = curl(
        world.box, "POST", f"https://{world.host}/v1/completions", key=new,
        body={"model": COMPLETION_MODEL, "prompt": "ping"},
    )  # fmt: skip
    assert status == 200, shown(answer)


def test_admin_password_rotation_key_delete_and_model_delete(world: World) -> None:
    old = world.secret(world.ns, "litellm-secret")["UI_PASSWORD"]
    rotated = world.message("pw-1", "admin_password.rotate", {})
    assert rotated["status"] == "succeeded", rotated  # the playbook logged in with it at /login
    new = world.secret(world.ns, "litellm-secret")["UI_PASSWORD"]
    world.secrets.update({"old UI password": old, "UI password": new})
    assert new != old
    status, creds = world.svc.request("GET", f"/api/v1/instances/{world.instance}/credentials")
    assert status == 200 and creds["password"] == new  # the controller hands out the new one

    key, base_url = world.virtual_key("team-a-llm")
    deleted = world.message("key-3", "key.delete", {"alias": "team-a"})
    assert deleted["status"] == "succeeded", deleted
    assert world.secret(world.ns, "team-a-llm") == {}
    status, answer = world.chat(base_url, key, MODEL)
    assert status == 401, shown(answer)

    gone = world.message("up-4", "model.delete", {"name": COMPLETION_MODEL})
    assert gone["status"] == "succeeded" and gone["results"]["action"] == "deleted", gone
    assert world.deployments(COMPLETION_MODEL) == []
    assert len(world.deployments(MODEL)) == 1


def test_a_redis_restart_mid_stream_loses_no_message(world: World) -> None:
    aliases = [f"burst-{i}" for i in range(4)]
    for alias in aliases[:2]:
        send(world.r, f"rs-{alias}", "key.create", world.instance,
             {"alias": alias, "user_id": "carol", "models": [MODEL],
              "secret": {"name": f"{alias}-llm"}})  # fmt: skip
    wait_until(
        lambda: (o := world.svc.order(f"msg:rs-{aliases[0]}")) and o["status"] == "running",
        timeout=LONG,
        what="the first message's run",
    )
    world.redis.kill()  # SIGKILL mid-stream: the AOF (fsync always) has every command
    world.redis.start()
    for alias in aliases[2:]:
        send(world.r, f"rs-{alias}", "key.create", world.instance,
             {"alias": alias, "user_id": "carol", "models": [MODEL],
              "secret": {"name": f"{alias}-llm"}})  # fmt: skip
    for alias in aliases:
        view = world.svc.finished(f"msg:rs-{alias}", LONG)
        assert view["status"] == "succeeded", view
        assert len(view["runs"]) == 1, view["runs"]
        key, base_url = world.virtual_key(f"{alias}-llm")
        assert key.startswith("sk-")
    wait_until(lambda: pending(world.r) == 0, timeout=120, what="every entry acknowledged")
    groups = world.r.xinfo_groups(STREAM)
    assert [g["name"] for g in groups] == [GROUP]
    status, answer = world.chat(base_url, key, MODEL)
    assert status == 200, shown(answer)


# -- OpenShift AI: a model named by its KServe InferenceService ------------------------------------
KSERVE = "/apis/serving.kserve.io/v1beta1"
ISVC_MODEL = "granite-kserve"  # the public name of the model the InferenceService serves


def inference_service(world: World, name: str, model_format: str = "vLLM") -> None:
    """An InferenceService as OpenShift AI's dashboard writes one for the vLLM runtime; the
    sandbox's KServe stand-in serves it with the fake model server, keyed by the model server's
    Secret (the token authentication OpenShift AI puts in front of a model)."""
    key = {"secretKeyRef": {"name": "vllm-api-key", "key": "token"}}
    body = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": {"predictor": {"model": {
            "modelFormat": {"name": model_format}, "runtime": "vllm-runtime",
            "storageUri": "pvc://models/granite",
            "env": [{"name": "FAKE_UPSTREAM_API_KEY", "valueFrom": key}],
        }}},
    }  # fmt: skip
    world.box.kube().create(f"{KSERVE}/namespaces/{world.models_ns}/inferenceservices", body)


def isvc_ready(world: World, name: str) -> bool:
    obj = world.box.kube().get(f"{KSERVE}/namespaces/{world.models_ns}/inferenceservices/{name}")
    conditions = ((obj or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def isvc_upsert(world: World, isvc: str, name: str = ISVC_MODEL) -> dict[str, Any]:
    return {
        "name": name,
        "inference_service": {"name": isvc, "namespace": world.models_ns},
        "api_key_secret": {"name": "granite-creds", "key": "token"},
        "mode": "chat",
    }


def test_a_model_named_by_its_inference_service_answers_a_chat_through_litellm(
    world: World,
) -> None:
    inference_service(world, "granite-isvc")
    wait_until(lambda: isvc_ready(world, "granite-isvc"), timeout=120, what="a Ready isvc")
    view = world.message("isvc-1", "model.upsert", isvc_upsert(world, "granite-isvc"))
    assert view["status"] == "succeeded", view
    [deployment] = world.deployments(ISVC_MODEL)
    predictor = f"http://granite-isvc-predictor.{world.models_ns}.svc.cluster.local"
    assert deployment["litellm_params"]["api_base"] == f"{predictor}/v1"  # status.address.url
    assert deployment["litellm_params"]["model"] == "openai/granite-isvc"  # from its /v1/models
    status, answer = world.chat(f"https://{world.host}/v1", world.master_key(), ISVC_MODEL)
    assert status == 200, shown(answer)
    assert answer["choices"][0]["message"]["content"] == "pong"
    status, received = curl(
        world.box, "GET", f"{predictor}{RECEIVED_PATH}", key=world.upstream_key
    )  # the chat reached the InferenceService's model server, with the upstream's key
    assert status == 200 and received["items"][-1]["body"]["model"] == "granite-isvc"
    assert received["items"][-1]["api_key_sha256"] == sha256(world.upstream_key)


def test_a_missing_or_not_ready_inference_service_fails_clearly_and_registers_nothing(
    world: World,
) -> None:
    inference_service(world, "onnx-isvc", model_format="onnx")  # no runtime: never Ready
    hostile = {**isvc_upsert(world, "granite-isvc", "granite-both"),
               "api_base": world.api_base}  # fmt: skip
    cases = {
        "isvc-missing": ("granite-missing", isvc_upsert(world, "no-such-isvc", "granite-missing"),
                         "does not exist"),
        "isvc-unready": ("granite-unready", isvc_upsert(world, "onnx-isvc", "granite-unready"),
                         "is not Ready (reason NoSupportingRuntime)"),
        "isvc-both": ("granite-both", hostile, "oneOf"),
    }  # fmt: skip
    for message_id, (_, body, _) in cases.items():
        send(world.r, message_id, "model.upsert", world.instance, body)
    for message_id, (name, _, words) in cases.items():
        letter = wait_until(
            lambda m=message_id: next((d for d in dead_letters(world.r) if d.get("id") == m), None),
            timeout=LONG,
            what=f"the dead letter of {message_id}",
        )
        assert words in letter["reason"], letter
        assert letter["deliveries"] == "1", letter  # permanent: no retry
        view = world.svc.order(f"msg:{message_id}")
        if message_id == "isvc-both":
            assert letter["kind"] == "invalid" and view is None  # refused at the door, alone
        else:
            assert view is not None and view["status"] == "failed" and words in view["message"]
        assert world.deployments(name) == []
    assert pending(world.r) == 0
    assert len(world.deployments(ISVC_MODEL)) == 1  # the good one is untouched


def test_an_inference_service_url_outside_the_allow_list_is_refused_before_any_key_goes_there(
    world: World, tmp_path: Path
) -> None:
    predictor = f"http://granite-isvc-predictor.{world.models_ns}.svc.cluster.local"
    status, before = curl(world.box, "GET", f"{predictor}{RECEIVED_PATH}", key=world.upstream_key)
    assert status == 200
    change = tmp_path / "change.json"
    change.write_text(json.dumps({
        "litellm_models_namespace": world.ns,
        "litellm_models_model": isvc_upsert(world, "granite-isvc", "granite-outside"),
        "litellm_models_upstream_allow": ["*.apps.example.com", "10.0.0.0/8"],
    }))  # fmt: skip
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, **world.box.env(), "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
           "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
           "ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_NOCOLOR": "1"}  # fmt: skip
    run = subprocess.run(
        [str(bin_dir / "ansible-playbook"), str(REPO / "playbooks" / "register_model.yml"),
         "-e", f"@{change}"],
        env=env, capture_output=True, text=True, timeout=LONG, check=False,
    )  # fmt: skip
    assert run.returncode != 0, run.stdout[-3000:]
    assert "the URL in the InferenceService's status: its host is not one upstream_allow" in (
        run.stdout
    ), run.stdout[-3000:]
    assert '"failure_kind": "permanent"' in run.stdout
    assert world.deployments("granite-outside") == []
    status, after = curl(world.box, "GET", f"{predictor}{RECEIVED_PATH}", key=world.upstream_key)
    assert after["presented"] == before["presented"]  # no request, so no key, went there


# -- README.md's tour: model -> key -> chat, its commands as written -----------------------------
def readme_tour(instance: str) -> str:
    """The second command block of README.md's "Five minutes with it" (model, key, chat), for
    ``instance`` instead of ``demo``; the sandbox stays up (no ``make sandbox-down``)."""
    section = (REPO / "README.md").read_text().split("## Five minutes with it", 1)[1]
    block = re.findall(r"```bash\n(.*?)```", section.split("\n## ", 1)[0], re.S)[1]
    lines = [line for line in block.splitlines() if not line.startswith("make ")]
    return re.sub(r"\bdemo\b", instance, "\n".join(lines))


def test_the_readme_tour_registers_a_model_issues_a_key_and_chats(world: World) -> None:
    model_key = f"sk-tour-model-{uuid.uuid4().hex}"
    world.secrets["tour model key"] = model_key
    env = {
        **os.environ,  # HOME among them, for kubectl's cache
        **world.box.env(),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "DEMO_MODEL_KEY": model_key,
        # as make demo writes it: redis-cli -u needs the user's name with the password
        "LITEMAAS_REDIS_URL": world.redis.url.replace("redis://:", "redis://default:"),
        "LITEMAAS_URL": world.svc.url,
        "LITEMAAS_API_TOKEN": TOKEN,
    }
    # what make demo starts for the tour: the model server, its key's Secret in the instance's
    subprocess.run(
        [REPO / "hack" / "demo_model_server.sh", world.ns], env=env, check=True, timeout=LONG,
        capture_output=True,
    )  # fmt: skip
    tour = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_tour(world.instance)],
        env=env, cwd=REPO, capture_output=True, text=True, check=False, timeout=LONG,
    )  # fmt: skip
    output = tour.stdout + tour.stderr
    assert not [label for label, value in world.secrets.items() if value in output]
    assert tour.returncode == 0, output[-3000:]
    world.virtual_key("tour-key")
    assert not [label for label, value in world.secrets.items() if value in output]
    reply = json.loads(tour.stdout.rstrip().splitlines()[-1])  # curl's, after the orders'
    assert reply["model"] == "granite" and reply["choices"][0]["message"]["content"], reply


def test_no_secret_appears_in_the_ledger_runner_artifacts_or_logs(world: World) -> None:
    world.master_key()
    for name in (f"burst-{i}-llm" for i in range(4)):
        world.virtual_key(name)
    assert len(world.secrets) >= 12  # 2 master keys, 7 virtual keys, 2 UI passwords, ...
    texts: dict[str, bytes] = {}
    for path in world.state_dir.rglob("*"):
        if path.is_file():
            texts[str(path.relative_to(world.state_dir))] = path.read_bytes()
    db = sqlite3.connect(world.state_dir / "ledger.sqlite3")
    try:
        texts["ledger dump"] = "\n".join(db.iterdump()).encode()
    finally:
        db.close()
    texts["serve.log"] = world.log.read_bytes()
    copies = {f"{name} (copy {n})": data for n, ((name, _), data) in
              enumerate(world.artifacts.seen.items())}  # fmt: skip
    assert any("/artifacts/" in name for name in copies), sorted(copies)[:20]
    texts.update(copies)
    _, orders = world.svc.request("GET", "/api/v1/orders?limit=1000")
    _, audit = world.svc.request("GET", "/api/v1/audit")
    texts["API orders"] = json.dumps(orders).encode()
    texts["API audit"] = json.dumps(audit).encode()
    found = [
        f"{label} in {where}"
        for label, value in world.secrets.items()
        for where, text in texts.items()
        if value.encode() in text
    ]
    assert found == []
