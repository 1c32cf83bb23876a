"""The runtime helper the node agent calls: migrations and the proxy's command line."""

from __future__ import annotations

import hashlib

import pytest

from sandbox.litellm import runtime
from sandbox.throwaway_pg import ThrowawayPostgres, free_port

pytestmark = pytest.mark.integration


def test_prepare_database_applies_every_shipped_migration_once(
    postgres: ThrowawayPostgres, litellm_runtime: runtime.Runtime
) -> None:
    url = postgres.create_database("prepare_once")
    shipped = runtime.shipped_migrations(litellm_runtime)
    applied = runtime.prepare_database(url, runtime=litellm_runtime)
    assert applied == [m.name for m in shipped]
    assert runtime.prepare_database(url, runtime=litellm_runtime) == []
    ledger = dict(
        line.split("|")
        for line in postgres.psql(
            "SELECT migration_name, checksum FROM _prisma_migrations WHERE finished_at IS NOT NULL",
            database="prepare_once",
        ).splitlines()
    )
    # Prisma's own ledger and checksums: a later `prisma migrate deploy` agrees.
    assert ledger == {m.name: hashlib.sha256(m.path.read_bytes()).hexdigest() for m in shipped}
    assert any(" " in name for name in ledger), "expected a migration directory with spaces"


def test_prepare_database_applies_only_what_is_missing(
    postgres: ThrowawayPostgres, litellm_runtime: runtime.Runtime
) -> None:
    url = postgres.create_database("prepare_missing")
    runtime.prepare_database(url, runtime=litellm_runtime)
    last = runtime.shipped_migrations(litellm_runtime)[-1]
    postgres.psql(
        "DELETE FROM _prisma_migrations WHERE migration_name = :'name'",
        database="prepare_missing",
        name=last.name,
    )
    # The newest migrations are written to be re-runnable (IF NOT EXISTS); the point
    # is that exactly the unrecorded one is applied again.
    assert runtime.prepare_database(url, runtime=litellm_runtime) == [last.name]


def test_prepare_database_refuses_an_unfinished_migration(
    postgres: ThrowawayPostgres, litellm_runtime: runtime.Runtime
) -> None:
    url = postgres.create_database("prepare_unfinished")
    runtime.prepare_database(url, runtime=litellm_runtime)
    postgres.psql(
        "UPDATE _prisma_migrations SET finished_at = NULL"
        " WHERE migration_name = (SELECT max(migration_name) FROM _prisma_migrations)",
        database="prepare_unfinished",
    )
    with pytest.raises(runtime.MigrationError, match="never finished"):
        runtime.prepare_database(url, runtime=litellm_runtime)


def test_prepare_database_reports_an_unreachable_database(
    litellm_runtime: runtime.Runtime,
) -> None:
    url = f"postgresql://nobody:secret-password@127.0.0.1:{free_port()}/none"
    with pytest.raises(runtime.DatabaseUnavailableError) as raised:
        runtime.prepare_database(url, runtime=litellm_runtime)
    assert "secret-password" not in str(raised.value)


def test_proxy_command_keeps_the_pod_env_and_adds_the_runtime_settings(
    litellm_runtime: runtime.Runtime,
) -> None:
    pod = {
        "PATH": "/usr/bin:/bin",
        "DATABASE_URL": "postgresql://u:p@db:5432/litellm",
        "LITELLM_MASTER_KEY": "sk-canary-in-env-only",
        "STORE_MODEL_IN_DB": "True",
        "UI_USERNAME": "admin",
        # Would make LiteLLM run `prisma migrate`, which needs the missing native
        # schema engine: the runtime's own value wins.
        "DISABLE_SCHEMA_UPDATE": "false",
    }
    argv, env = runtime.proxy_command(pod, 4000, runtime=litellm_runtime)
    assert argv == [
        str(litellm_runtime.venv / "bin" / "litellm"),
        "--host",
        "0.0.0.0",  # noqa: S104 (the default a pod listens on)
        "--port",
        "4000",
    ]
    for key in ("DATABASE_URL", "LITELLM_MASTER_KEY", "STORE_MODEL_IN_DB", "UI_USERNAME"):
        assert env[key] == pod[key]
    assert env["DISABLE_SCHEMA_UPDATE"] == "true"
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert env["PRISMA_QUERY_ENGINE_BINARY"] == str(runtime.ENGINE_DIR / "query-engine")
    assert env["PATH"].split(":")[0] == str(litellm_runtime.venv / "bin")
    assert not any("sk-canary" in arg for arg in argv)
    # Idempotent: building twice does not stack PATH entries.
    _, again = runtime.proxy_command(env, 4000, runtime=litellm_runtime)
    assert again["PATH"] == env["PATH"]


def test_container_command_runs_the_entrypoint_with_no_secret_on_argv(
    litellm_runtime: runtime.Runtime,
) -> None:
    pod = {"DATABASE_URL": "postgresql://u:secret@db/x", "LITELLM_MASTER_KEY": "sk-canary-x"}
    argv, env = runtime.container_command(pod, 4000, runtime=litellm_runtime)
    assert argv[1].endswith("runtime.py") and argv[2] == "serve"
    assert "secret" not in " ".join(argv) and "sk-canary" not in " ".join(argv)
    assert env["LITEMAAS_LITELLM_HOME"] == str(litellm_runtime.home)


def test_libpq_env_decodes_the_url() -> None:
    env = runtime.libpq_env("postgresql://us%40er:p%2Fw@10.0.0.5:6543/lite%20llm?sslmode=require")
    assert (env["PGUSER"], env["PGPASSWORD"]) == ("us@er", "p/w")
    assert (env["PGHOST"], env["PGPORT"], env["PGDATABASE"]) == ("10.0.0.5", "6543", "lite llm")
    assert env["PGSSLMODE"] == "require"
