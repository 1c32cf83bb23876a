"""The controller service, for real: in-process on port 0, or as a `serve` subprocess.

Every fixture project under projects/ is one scenario (ansible-runner's model): quick, hold (waits
for a release file and leaves start/end evidence under an exclusive lock), failing, leaky.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from aiohttp.test_utils import TestClient, TestServer

from kubeobjects import make_namespace
from litemaas_controller.api import make_app
from sandbox import Sandbox
from sandbox.agent.kube import Kube

from .redisproc import RedisServer
from .servicekit import Evidence, Service, ServiceFactory, base_settings


@pytest.fixture
def run_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Evidence:
    """The environment runs inherit: ansible-playbook on PATH and the evidence file."""
    venv_bin = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", venv_bin + os.pathsep + os.environ.get("PATH", ""))
    evidence = tmp_path / "evidence.log"
    monkeypatch.setenv("LITEMAAS_TEST_EVIDENCE", str(evidence))
    return Evidence(evidence)


@pytest.fixture
async def make_service(tmp_path: Path, run_env: Evidence) -> AsyncIterator[ServiceFactory]:
    """Start the real application on a real port; stopped (drained) at the end of the test."""
    clients: list[TestClient] = []

    async def start(
        project: str = "quick", intakes: Any = (), make: Any = make_app, **overrides: Any
    ) -> Service:
        settings = base_settings(tmp_path, project, **overrides)
        client = TestClient(TestServer(make(settings, intakes), host="127.0.0.1", port=0))
        await client.start_server()
        clients.append(client)
        return Service(client=client, settings=settings, evidence=run_env)

    yield start
    run_env.release()  # let any held run finish so the drain is quick
    for client in reversed(clients):
        await client.close()


@pytest.fixture
async def service(make_service: ServiceFactory) -> Service:
    """The in-process service on the ``quick`` project (orders run a trivial playbook)."""
    return await make_service("quick")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of the test's own, on a free loopback port."""
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def kube(sandbox_vanilla: Sandbox) -> Kube:
    return sandbox_vanilla.kube()


@pytest.fixture
def namespace(kube: Kube, namespace_name: str) -> Iterator[str]:
    """A namespace of the test's own on the vanilla sandbox: the controller's, its own Lease."""
    yield make_namespace(kube, namespace_name)
    kube.delete(f"/api/v1/namespaces/{namespace_name}")


@pytest.fixture
def r(redis_server: RedisServer) -> redis.Redis:
    return redis_server.client()
