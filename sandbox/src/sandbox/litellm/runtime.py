"""The real LiteLLM proxy, runnable on this machine with a real PostgreSQL.

LiteLLM keeps its state through prisma-client-py, whose native query engine cannot be
downloaded here. ``install.sh`` builds everything into a cache outside the repository;
this module is what a caller (the sandbox's node agent, the tests) uses at run time:

- :func:`locate` finds the installed runtime or says how to install it;
- :func:`prepare_database` brings a database to the schema LiteLLM expects by applying
  the SQL migrations LiteLLM ships (the native schema engine is missing too);
- :func:`proxy_command` turns a pod's environment into the argv and environment that
  start the proxy, adding only the engine and offline settings;
- :func:`container_command` is the same as one container process: migrate, then exec
  the proxy (``python runtime.py serve``).

Nothing here logs or puts on a command line the database password or master key.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

LITELLM_VERSION = "1.108.7"
PRISMA_VERSION = "0.15.0"
ENGINE_COMMIT = "393aa359c9ad4a4bb28630fb5613f9c281cde053"
PG_BIN = Path("/usr/lib/postgresql/15/bin")

HERE = Path(__file__).resolve().parent
ENGINE_DIR = HERE / "engine"

# psql's exit status when the connection failed or was lost (1 is its own fatal error,
# 3 an error in the script under ON_ERROR_STOP).
_PSQL_CONNECTION_LOST = 2

# Prisma migrate's own advisory lock key: two preparers (or a real `prisma migrate`)
# never interleave on one database.
_MIGRATE_LOCK_KEY = 72707369

_LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id" VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum" VARCHAR(64) NOT NULL,
    "finished_at" TIMESTAMPTZ,
    "migration_name" VARCHAR(255) NOT NULL,
    "logs" TEXT,
    "rolled_back_at" TIMESTAMPTZ,
    "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count" INTEGER NOT NULL DEFAULT 0
);
"""


class RuntimeMissingError(RuntimeError):
    """The LiteLLM runtime is not installed (or is incomplete) in the cache."""


class MigrationError(RuntimeError):
    """Applying LiteLLM's migrations failed; the message names the migration."""


class DatabaseUnavailableError(MigrationError):
    """PostgreSQL could not be reached; worth retrying (a pod restarting until its
    database is up), unlike a failed migration."""


def cache_root() -> Path:
    base = os.environ.get("LITEMAAS_CACHE") or str(Path.home() / ".cache" / "litemaas-controller")
    return Path(base) / "litellm"


@dataclass(frozen=True)
class Runtime:
    """Paths of one installed runtime (see install.sh for how each is made)."""

    home: Path

    @property
    def venv(self) -> Path:
        return self.home / "venv"

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def site_packages(self) -> Path:
        return next((self.venv / "lib").glob("python3*/site-packages"))

    @property
    def node_modules(self) -> Path:
        return self.home / "engine" / "node_modules"

    @property
    def migrations(self) -> Path:
        return self.site_packages / "litellm_proxy_extras" / "migrations"

    @property
    def schema(self) -> Path:
        """The schema the generated client was built from (PRISMA_DML_PATH)."""
        return self.site_packages / "prisma" / "schema.prisma"

    @property
    def marker(self) -> Path:
        return self.home / "installed"


def locate(home: Path | None = None) -> Runtime:
    runtime = Runtime(home or cache_root())
    if not runtime.marker.is_file():
        raise RuntimeMissingError(
            f"the LiteLLM runtime is not installed in {runtime.home}; "
            "run sandbox/src/sandbox/litellm/install.sh"
        )
    return runtime


def prisma_tool_env(runtime: Runtime) -> dict[str, str]:
    """Where prisma-client-py finds its engines and caches its CLI: always the runtime's
    own stand-ins and cache, never a download, never the user's home."""
    return {
        "PRISMA_QUERY_ENGINE_BINARY": str(ENGINE_DIR / "query-engine"),
        "PRISMA_SCHEMA_ENGINE_BINARY": str(ENGINE_DIR / "schema-engine"),
        "PRISMA_BINARY_CACHE_DIR": str(runtime.home / "prisma-cli"),
        "PRISMA_NODEENV_CACHE_DIR": str(runtime.home / "nodeenv"),
        "PRISMA_HOME_DIR": str(runtime.home),
        "PRISMA_USE_GLOBAL_NODE": "true",
        "PRISMA_HIDE_UPDATE_MESSAGE": "true",
        "CHECKPOINT_DISABLE": "1",
        "LITEMAAS_ENGINE_NODE_MODULES": str(runtime.node_modules),
        # The pod's HOME is not the installer's: the entrypoint finds the runtime here.
        "LITEMAAS_LITELLM_HOME": str(runtime.home),
    }


# The settings the runtime adds to a pod's own environment. Offline: the cost map is
# the one LiteLLM ships, not a download; the schema comes from prepare_database, not
# from `prisma migrate` at start (there is no native schema engine to run it).
OFFLINE_SETTINGS = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "DISABLE_SCHEMA_UPDATE": "true",
    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "true",
    "PYTHONUNBUFFERED": "1",
}


def proxy_command(
    env: Mapping[str, str],
    port: int,
    *,
    # A pod listens on every address of its own network namespace, as in a container.
    host: str = "0.0.0.0",  # noqa: S104
    runtime: Runtime | None = None,
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that start the proxy for a pod.

    ``env`` is the container's environment as its spec resolves it (DATABASE_URL,
    LITELLM_MASTER_KEY, UI_USERNAME, STORE_MODEL_IN_DB, ...); it is passed through
    unchanged apart from the runtime's own keys, which win. The caller decides the
    rest of the process environment (PATH, HOME): only the venv's bin is prepended.
    """
    runtime = runtime or locate()
    merged = dict(env)
    merged.update(prisma_tool_env(runtime))
    merged.update(OFFLINE_SETTINGS)
    path = merged.get("PATH") or os.defpath
    venv_bin = str(runtime.venv / "bin")
    if path.split(os.pathsep)[0] != venv_bin:
        merged["PATH"] = f"{venv_bin}{os.pathsep}{path}"
    argv = [str(runtime.venv / "bin" / "litellm"), "--host", host, "--port", str(int(port))]
    return argv, merged


def container_command(
    env: Mapping[str, str],
    port: int,
    *,
    host: str = "0.0.0.0",  # noqa: S104 (see proxy_command)
    runtime: Runtime | None = None,
) -> tuple[list[str], dict[str, str]]:
    """Like :func:`proxy_command`, but the process first brings the database to
    LiteLLM's schema (:func:`prepare_database`) and then becomes the proxy (exec, same
    PID). One process per container, so a database that is not up yet makes the
    container exit non-zero and be restarted, as a real LiteLLM pod would."""
    runtime = runtime or locate()
    _, merged = proxy_command(env, port, host=host, runtime=runtime)
    argv = [str(runtime.python), str(Path(__file__).resolve()), "serve", "--host", host]
    return [*argv, "--port", str(int(port))], merged


def _serve(argv: list[str]) -> int:
    """Entry point of container_command: migrate, then exec the proxy."""
    parser = argparse.ArgumentParser(prog="runtime.py serve")
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    runtime = locate(Path(os.environ["LITEMAAS_LITELLM_HOME"]))
    database_url = os.environ.get("DATABASE_URL")
    if database_url:
        try:
            applied = prepare_database(database_url, runtime=runtime)
        except MigrationError as error:
            print(f"litellm runtime: {error}", file=sys.stderr, flush=True)
            return 1
        print(f"litellm runtime: applied {len(applied)} LiteLLM migrations", flush=True)
    proxy_argv, env = proxy_command(os.environ, args.port, host=args.host, runtime=runtime)
    os.execve(proxy_argv[0], proxy_argv, env)  # noqa: S606 (becoming the proxy is the point)
    return 1  # not reached: execve replaces the process or raises


@dataclass(frozen=True)
class Migration:
    name: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def shipped_migrations(runtime: Runtime) -> list[Migration]:
    """LiteLLM's migrations in the order Prisma applies them (by directory name)."""
    found = [
        Migration(d.name, d / "migration.sql")
        for d in sorted(runtime.migrations.iterdir())
        if (d / "migration.sql").is_file()
    ]
    if not found:
        raise RuntimeMissingError(f"no migrations under {runtime.migrations}")
    return found


def libpq_env(database_url: str) -> dict[str, str]:
    """A postgresql:// URL as libpq environment variables, so the password never
    appears on a command line."""
    parts = urlsplit(database_url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError("DATABASE_URL must be a postgresql:// URL")
    env = {
        "PGHOST": parts.hostname or "localhost",
        "PGPORT": str(parts.port or 5432),
        "PGDATABASE": unquote(parts.path.lstrip("/")) or "postgres",
        "PGCONNECT_TIMEOUT": "10",
    }
    if parts.username:
        env["PGUSER"] = unquote(parts.username)
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    for item in parts.query.split("&"):
        key, _, value = item.partition("=")
        if key == "sslmode":
            env["PGSSLMODE"] = value
    return env


def _psql(database_url: str, script: str, *, timeout: float) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", os.defpath), **libpq_env(database_url)}
    return subprocess.run(
        [
            _tool("psql"),
            "--no-psqlrc",
            "--quiet",
            "--no-align",
            "--tuples-only",
            "-v",
            "ON_ERROR_STOP=1",
        ],
        input=script,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _tool(name: str) -> str:
    candidate = PG_BIN / name
    return str(candidate) if candidate.exists() else name


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _psql_path(path: Path) -> str:
    # psql's \i takes a single-quoted argument; directory names contain spaces.
    text = str(path)
    if "'" in text or "\\" in text:
        raise MigrationError(f"cannot pass migration path {text!r} to psql")
    return f"'{text}'"


def prepare_database(
    database_url: str,
    *,
    runtime: Runtime | None = None,
    timeout: float = 600,
) -> list[str]:
    """Apply LiteLLM's shipped migrations that the database has not recorded yet.

    Idempotent: applied migrations are recorded in Prisma's own ledger
    (``_prisma_migrations``, same checksums), so a second call, or a later real
    ``prisma migrate deploy``, sees them as applied. Migrations are not wrapped in a
    transaction (some use CREATE INDEX CONCURRENTLY), exactly as Prisma runs them.
    Returns the names of the migrations applied by this call.
    """
    script = _migration_script(shipped_migrations(runtime or locate()))
    return _applied(_psql(database_url, script, timeout=timeout))


def _migration_script(migrations: list[Migration]) -> str:
    """One psql script: under an advisory lock, stop if a migration never finished, else apply
    each migration Prisma's ledger has not recorded, recording it as Prisma does."""
    lines = [
        f"SELECT pg_advisory_lock({_MIGRATE_LOCK_KEY});",
        _LEDGER_DDL,
        "SELECT count(*) = 0 AS litemaas_clean FROM _prisma_migrations"
        " WHERE finished_at IS NULL AND rolled_back_at IS NULL \\gset",
        "\\if :litemaas_clean",
        "\\else",
        "\\echo 'LITEMAAS-UNFINISHED a migration started earlier never finished'",
        "\\quit",
        "\\endif",
    ]
    # Every value below is a literal quoted by _sql_literal (names and checksums come
    # from LiteLLM's own package), hence the S608 waivers.
    for migration in migrations:
        name = _sql_literal(migration.name)
        row_id = _sql_literal(str(uuid.uuid4()))
        checksum = _sql_literal(migration.checksum)
        lines += [
            "SELECT NOT EXISTS (SELECT 1 FROM _prisma_migrations WHERE migration_name = "  # noqa: S608
            f"{name} AND rolled_back_at IS NULL) AS litemaas_pending \\gset",
            "\\if :litemaas_pending",
            f"\\echo 'LITEMAAS-APPLYING {migration.name}'",
            "INSERT INTO _prisma_migrations (id, checksum, migration_name, started_at)"  # noqa: S608
            f" VALUES ({row_id}, {checksum}, {name}, now());",
            f"\\i {_psql_path(migration.path)}",
            "UPDATE _prisma_migrations SET finished_at = now(), applied_steps_count = 1"  # noqa: S608
            f" WHERE migration_name = {name} AND finished_at IS NULL;",
            "\\endif",
        ]
    lines.append(f"SELECT pg_advisory_unlock({_MIGRATE_LOCK_KEY});")
    return "\n".join(lines) + "\n"


def _applied(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The migrations the script applied, or the error its output says."""
    applying = [
        line.removeprefix("LITEMAAS-APPLYING ")
        for line in result.stdout.splitlines()
        if line.startswith("LITEMAAS-APPLYING ")
    ]
    if "LITEMAAS-UNFINISHED" in result.stdout:
        raise MigrationError(
            "the database has a LiteLLM migration that started and never finished; "
            "inspect _prisma_migrations and repair it before starting the proxy"
        )
    if result.returncode == _PSQL_CONNECTION_LOST and not applying:
        raise DatabaseUnavailableError(f"cannot reach PostgreSQL: {result.stderr.strip()[-500:]}")
    if result.returncode != 0:
        failed = applying[-1] if applying else "(before any migration)"
        raise MigrationError(f"migration {failed} failed: {result.stderr.strip()[-2000:]}")
    return applying


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] != ["serve"]:
        sys.exit("usage: runtime.py serve --host HOST --port PORT")
    sys.exit(_serve(sys.argv[2:]))
