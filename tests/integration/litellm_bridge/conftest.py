"""Fixtures for the LiteLLM bridge tests: a throwaway PostgreSQL for the session, the
installed runtime, a migrated template database (each module gets a copy in ~0.2 s),
an OpenAI-compatible upstream, and real proxy processes."""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox.litellm import runtime

from .pg import ThrowawayPostgres
from .proxy import Proxy
from .upstream import Upstream

INSTALLER = Path(runtime.__file__).with_name("install.sh")
TEMPLATE_DB = "litellm_template"


@pytest.fixture(scope="session")
def litellm_runtime() -> runtime.Runtime:
    # Idempotent and ~0.3 s when warm; installs (about a minute) on a fresh machine.
    subprocess.run(["bash", str(INSTALLER)], check=True)
    return runtime.locate()


@pytest.fixture(scope="session")
def postgres() -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def template_db(postgres: ThrowawayPostgres, litellm_runtime: runtime.Runtime) -> str:
    url = postgres.create_database(TEMPLATE_DB)
    runtime.prepare_database(url, runtime=litellm_runtime)
    return TEMPLATE_DB


@pytest.fixture(scope="module")
def fresh_database(postgres: ThrowawayPostgres, template_db: str) -> Callable[[], str]:
    """Makes a new database, already migrated, and returns its URL."""

    def make() -> str:
        return postgres.create_database(f"t_{secrets.token_hex(6)}", template=template_db)

    return make


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    server = Upstream(api_key=f"sk-upstream-{secrets.token_hex(8)}").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("litellm")


def pod_env(database_url: str, master_key: str, home: Path) -> dict[str, str]:
    """What the LiteLLM container's spec resolves to, plus a process's basics."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "DATABASE_URL": database_url,
        "LITELLM_MASTER_KEY": master_key,
        "STORE_MODEL_IN_DB": "True",
        "UI_USERNAME": "admin",
        "UI_PASSWORD": secrets.token_urlsafe(12),
    }


def canary_master_key() -> str:
    # Distinctive, so a test can grep the proxy's log for it.
    return f"sk-canary-{secrets.token_hex(12)}"


@pytest.fixture(scope="module")
def start_proxy(workdir: Path, litellm_runtime: runtime.Runtime) -> Iterator[Callable[..., Proxy]]:
    started: list[Proxy] = []

    def start(
        database_url: str, master_key: str, trace: Path | None = None, entrypoint: bool = False
    ) -> Proxy:
        home = workdir / "home"
        home.mkdir(exist_ok=True)
        env = pod_env(database_url, master_key, home)
        proxy = Proxy(workdir, env, trace=trace, entrypoint=entrypoint)
        started.append(proxy)
        return proxy.start()

    try:
        yield start
    finally:
        for proxy in started:
            proxy.stop()
