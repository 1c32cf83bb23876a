"""Identity of managed models and keys, the api-key fingerprint, error mapping, and the fake
upstream's contract (bearer key required, requests recorded)."""

from __future__ import annotations

import hashlib
import json

import aiohttp
import pytest
from ansible_collections.rhpds.litemaas.plugins.module_utils import (
    litellm_api,
    litellm_keys,
    litellm_models,
)

from sandbox.fakes.upstream import DEFAULT_MODEL_ID, RECEIVED_PATH, FakeUpstream

pytestmark = pytest.mark.unit


def test_a_model_id_is_stable_per_public_name_and_distinct_across_names() -> None:
    assert litellm_models.model_id_for("llama") == litellm_models.model_id_for("llama")
    assert litellm_models.model_id_for("llama") != litellm_models.model_id_for("llama-2")
    assert litellm_models.model_id_for("llama").startswith("litemaas-")


def test_the_fingerprint_tells_keys_apart_without_containing_them() -> None:
    model_id = litellm_models.model_id_for("llama")
    first = litellm_models.fingerprint(model_id, "sk-upstream-one")
    assert first == litellm_models.fingerprint(model_id, "sk-upstream-one")
    assert first != litellm_models.fingerprint(model_id, "sk-upstream-two")
    # Salted by the model id: the same key on two models gives two fingerprints.
    assert first != litellm_models.fingerprint(litellm_models.model_id_for("x"), "sk-upstream-one")
    assert "sk-upstream-one" not in first
    assert hashlib.sha256(b"sk-upstream-one").hexdigest()[:32] not in first
    assert litellm_models.fingerprint(model_id, None) == ""


def test_the_key_hash_is_litellms_token() -> None:
    # LiteLLM's token is the SHA-256 hex digest of the key (seen on 1.108.7).
    assert litellm_keys.hash_token("sk-abc") == hashlib.sha256(b"sk-abc").hexdigest()


def test_summaries_carry_no_credential() -> None:
    deployment = {
        "model_name": "llama",
        "litellm_params": {"model": "openai/x", "api_base": "http://u/v1", "api_key": "sk-secret"},
        "model_info": {"id": "litemaas-1", "mode": "chat"},
    }
    assert "sk-secret" not in repr(litellm_models.summary(deployment))
    key = {"key_alias": "a", "token": "abc", "key": "sk-secret-key", "key_name": "sk-...-key"}
    assert "sk-secret-key" not in repr(litellm_keys.summary(key))


@pytest.mark.parametrize(
    ("body", "message", "kind"),
    [
        (
            {"error": {"message": "bad", "type": "auth_error", "param": None, "code": "401"}},
            "bad",
            "auth_error",
        ),
        ({"detail": {"error": "Model id = x not found"}}, "Model id = x not found", None),
        ({"detail": "plain"}, "plain", None),
        ("not json", "not json", None),
    ],
)
def test_litellm_error_shapes_are_read(body: object, message: str, kind: str | None) -> None:
    assert litellm_api.error_text(body) == (message, kind)


async def test_the_fake_upstream_requires_the_bearer_key_and_records_requests() -> None:
    with FakeUpstream(api_key="sk-up") as server:
        state = server.state
        async with aiohttp.ClientSession(f"http://127.0.0.1:{server.port}") as client:
            refused = await client.get("/v1/models")
            assert refused.status == 401
            wrong = await client.get("/v1/models", headers={"Authorization": "Bearer sk-other"})
            assert wrong.status == 401
            auth = {"Authorization": "Bearer sk-up"}
            models = await (await client.get("/v1/models", headers=auth)).json()
            assert [m["id"] for m in models["data"]] == [DEFAULT_MODEL_ID]
            chat = await client.post(
                "/v1/chat/completions",
                headers=auth,
                json={"model": DEFAULT_MODEL_ID, "messages": [{"role": "user", "content": "hi"}]},
            )
            assert chat.status == 200
            assert (await chat.json())["choices"][0]["message"]["content"] == "pong"
            completion = await client.post(
                "/v1/completions", headers=auth, json={"model": DEFAULT_MODEL_ID, "prompt": "hi"}
            )
            assert (await completion.json())["choices"][0]["text"] == "pong"
            embedding = await client.post(
                "/v1/embeddings",
                headers=auth,
                json={"model": DEFAULT_MODEL_ID, "input": ["a", "b"]},
            )
            assert len((await embedding.json())["data"]) == 2
            unknown = await client.post("/v1/completions", headers=auth, json={"model": "nope"})
            assert unknown.status == 404
            assert (await unknown.json())["error"]["code"] == "model_not_found"
            not_json = await client.post("/v1/completions", headers=auth, data=b"[1")
            assert not_json.status == 400
            listed = await (await client.get(RECEIVED_PATH, headers=auth)).json()
            assert (await client.get(RECEIVED_PATH)).status == 401
    assert state.refused == 3
    assert [r.path for r in state.received] == [
        "/v1/chat/completions",
        "/v1/completions",
        "/v1/embeddings",
        "/v1/completions",
    ]
    assert {r.api_key for r in state.received} == {"sk-up"}
    # seen from outside the process: the same records, the key only as its SHA-256
    assert [item["path"] for item in listed["items"]] == [r.path for r in state.received]
    digest = hashlib.sha256(b"sk-up").hexdigest()
    assert {item["api_key_sha256"] for item in listed["items"]} == {digest}
    assert "sk-up" not in json.dumps(listed)


def test_the_fake_upstream_runs_in_a_thread_for_tests() -> None:
    with FakeUpstream(api_key="sk-up") as server:
        client = litellm_api.Upstream(server.base_url, key="sk-up", timeout=10)
        assert client.call("GET", "/models")["data"][0]["id"] == DEFAULT_MODEL_ID
        client.probe(DEFAULT_MODEL_ID, "embedding", prefix="")
        refused = litellm_api.Upstream(server.base_url, key="sk-wrong", timeout=10)
        with pytest.raises(litellm_api.LiteLLMError, match="upstream refused the key"):
            refused.probe(DEFAULT_MODEL_ID, "chat", prefix="")
    assert server.state.calls("/v1/embeddings")
