"""A real LiteLLM proxy on a real PostgreSQL, both on this machine: what the LiteLLM bridge's
tests (``integration/litellm_bridge``) and the collection modules' tests
(``integration/litellm_modules``) run against.

The pieces are this package's modules: :class:`~sandbox.throwaway_pg.ThrowawayPostgres` (a
PostgreSQL in a temporary directory, on a free loopback port) and
:class:`~litellm_local.proxy.Proxy` (the proxy process with its query-engine stand-in, started
the way the sandbox's node agent starts one and waited for until ready; its log is in the
failure when it is not). This module holds what both folders build from them:

- the fixtures, which each folder's ``conftest.py`` names (``postgres = litellm_local.postgres``)
  so pytest finds them there: each folder still gets its own PostgreSQL for the session;

  - ``litellm_runtime`` (session): the local ``litellm`` that ``sandbox/litellm/install.sh``
    installs (idempotent, ~0.3 s when warm; about a minute on a fresh machine);
  - ``postgres`` (session): the throwaway PostgreSQL, stopped and removed at the end;
  - ``template_db`` (session): a database migrated once with LiteLLM's own migrations;
  - ``fresh_database`` (module): makes a new, already migrated database from it (~0.2 s) and
    returns its URL;
  - ``workdir`` (module): where proxies keep their logs;

- :func:`canary`, a distinctive secret a test can grep every log and output for;
- :func:`pod_env`, the LiteLLM container's environment as the deploy role resolves it.

Whoever starts a proxy stops it (``Proxy.stop`` leaves no process of its group behind).
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sandbox.litellm import runtime
from sandbox.throwaway_pg import ThrowawayPostgres

INSTALLER = Path(runtime.__file__).with_name("install.sh")
TEMPLATE_DB = "litellm_template"


def canary(kind: str) -> str:
    """A distinctive secret value (``sk-`` like LiteLLM's keys) a test can grep output for."""
    return f"sk-canary-{kind}-{secrets.token_hex(12)}"


def pod_env(workdir: Path, database_url: str, master_key: str) -> dict[str, str]:
    """The LiteLLM container's environment as the deploy role's Deployment resolves it, plus a
    process's basics (a ``HOME`` under ``workdir``)."""
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "DATABASE_URL": database_url,
        "LITELLM_MASTER_KEY": master_key,
        "STORE_MODEL_IN_DB": "True",
        "UI_USERNAME": "admin",
        "UI_PASSWORD": canary("ui"),
    }


@pytest.fixture(scope="session")
def litellm_runtime() -> runtime.Runtime:
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
    runtime.prepare_database(postgres.create_database(TEMPLATE_DB), runtime=litellm_runtime)
    return TEMPLATE_DB


@pytest.fixture(scope="module")
def fresh_database(postgres: ThrowawayPostgres, template_db: str) -> Callable[[], str]:
    """Makes a new database, already migrated, and returns its URL."""

    def make() -> str:
        return postgres.create_database(f"t_{secrets.token_hex(6)}", template=template_db)

    return make


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("litellm")
