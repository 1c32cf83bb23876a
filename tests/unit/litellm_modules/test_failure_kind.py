"""Module failures say whether a retry may cure them (``failure_kind``), and name the real cause."""

from __future__ import annotations

import socket

import pytest
from ansible_collections.rhpds.litemaas.plugins.module_utils import (
    litellm_api,
    litellm_failure,
    litellm_models,
)

from sandbox.fakes.upstream import DEFAULT_MODEL_ID, FakeUpstream

pytestmark = pytest.mark.unit


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def verify(base_url: str, key: str) -> None:
    """What registering a model does first: one request to the upstream with its key."""
    params = {
        "name": "llama",
        "api_base": base_url,
        "api_key": key,
        "verify": True,
        "mode": "chat",
        "timeout": 5,
    }
    manager = litellm_models.ModelManager(None, params, check_mode=False)
    manager._verify_upstream({"model": f"openai/{DEFAULT_MODEL_ID}"})


def test_an_upstream_key_ending_in_a_newline_is_named_as_such_and_is_permanent() -> None:
    with FakeUpstream(api_key="sk-up") as server, pytest.raises(litellm_api.LiteLLMError) as failed:
        verify(server.base_url, "sk-up\n")
    message = str(failed.value)
    assert "line break" in message and "sk-up" not in message
    assert "did not answer" not in message and "no answer" not in message
    assert litellm_failure.failure_kind(failed.value) == litellm_failure.PERMANENT
    assert server.state.calls("/v1/chat/completions") == []  # nothing was sent


def test_an_upstream_that_does_not_answer_is_transient() -> None:
    with pytest.raises(litellm_models.ModelError) as failed:
        verify(f"http://127.0.0.1:{closed_port()}/v1", "sk-up")
    assert "did not answer" in str(failed.value)
    assert litellm_failure.failure_kind(failed.value) == litellm_failure.TRANSIENT
