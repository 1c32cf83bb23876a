"""Fixtures for the LiteLLM bridge tests: the local LiteLLM on a throwaway PostgreSQL (the
shared fixtures of ``litellm_local``: the installed runtime, the session's PostgreSQL, a migrated
template database each module copies in ~0.2 s), the fake OpenAI-compatible upstream, and real
proxy processes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import litellm_local
from litellm_local import canary, pod_env
from litellm_local.proxy import Proxy
from sandbox.fakes.upstream import FakeUpstream
from sandbox.litellm import runtime

# The shared fixtures: pytest finds them under these names here, so this folder gets its own
# PostgreSQL for the session.
litellm_runtime = litellm_local.litellm_runtime
postgres = litellm_local.postgres
template_db = litellm_local.template_db
fresh_database = litellm_local.fresh_database
workdir = litellm_local.workdir

# What the upstream reports a completion used: large, so spend is plain to see (a model at
# 0.001 per input and 0.002 per output token costs 3.0 a call).
USAGE = {"prompt_tokens": 1000, "completion_tokens": 1000, "total_tokens": 2000}


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream(api_key=canary("upstream")) as server:
        server.state.usage = dict(USAGE)
        yield server


@pytest.fixture(scope="module")
def start_proxy(workdir: Path, litellm_runtime: runtime.Runtime) -> Iterator[Callable[..., Proxy]]:
    """Starts a proxy with a pod's environment; every one started is stopped at the end of the
    module, a proxy that never became ready included."""
    with contextlib.ExitStack() as started:

        def start(
            database_url: str, master_key: str, trace: Path | None = None, entrypoint: bool = False
        ) -> Proxy:
            env = pod_env(workdir, database_url, master_key)
            proxy = Proxy(workdir, env, trace=trace, entrypoint=entrypoint)
            started.callback(proxy.stop)
            return proxy.start()

        yield start
