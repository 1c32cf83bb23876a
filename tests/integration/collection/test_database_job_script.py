"""The database Job's script, run for real against PostgreSQL: creates only what is missing, drops
nothing, and a second run changes nothing. (In the sandbox the Job's pod is simulated.)"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from .playrun import REPO

pytestmark = pytest.mark.integration

PG_BIN = Path("/usr/lib/postgresql/15/bin")
TEMPLATE = REPO / "roles/ocp4_workload_litemaas/templates/db-job-spec.yaml.j2"


def _render(backend: bool) -> dict[str, Any]:
    # Renders YAML for a Kubernetes object, not HTML: nothing to escape.
    env = jinja2.Environment(  # noqa: S701
        trim_blocks=True, undefined=jinja2.StrictUndefined
    )
    env.filters["to_json"] = json.dumps
    env.filters["combine"] = lambda a, b: {**a, **b}
    env.filters["bool"] = bool
    text = env.from_string(TEMPLATE.read_text()).render(
        _ocp4_workload_litemaas_labels={"app.kubernetes.io/part-of": "litemaas"},
        _ocp4_workload_litemaas_credentials={"db_user": "litemaas"},
        ocp4_workload_litemaas_postgres_version="16",
        ocp4_workload_litemaas_deploy_backend=backend,
    )
    spec: dict[str, Any] = yaml.safe_load(text)
    return spec


def _as_postgres(*cmd: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", *cmd],
        check=True,
        capture_output=True,
        text=True,
        **kw,
    )


@pytest.fixture
def postgres() -> Iterator[dict[str, str]]:
    if not (PG_BIN / "initdb").exists() or os.geteuid() != 0:
        pytest.skip("needs PostgreSQL 15 binaries and root (initdb runs as the postgres user)")
    # Directly under /tmp: pytest's own tmp dirs are not reachable for the postgres user.
    root = Path(tempfile.mkdtemp(prefix="collection-dbjob-test-"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    shutil.chown(root, "postgres", "postgres")
    shutil.chown(sock, "postgres", "postgres")
    try:
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", "litemaas", "--auth=trust")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = str(s.getsockname()[1])
        # The server logs to a file: a server holding run()'s pipes open would block it.
        _as_postgres(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "server.log"),
            "-w",
            "-o",
            f"-k {sock} -p {port} -c listen_addresses=''",
            "start",
        )
        try:
            yield {
                "PGHOST": str(sock),
                "PGPORT": port,
                "PGUSER": "litemaas",
                "PGDATABASE": "postgres",
            }
        finally:
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _run_job(spec: dict[str, Any], pg: dict[str, str]) -> None:
    container = spec["template"]["spec"]["containers"][0]
    values = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    assert "PGPASSWORD" not in values  # from the Secret, never written into the spec
    env = {
        "PATH": f"{PG_BIN}:/usr/bin:/bin",
        "DATABASES": values["DATABASES"],
        "PGPASSWORD": "unused-with-trust",
        **pg,
    }
    done = subprocess.run(
        [*container["command"], *container["args"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _databases(pg: dict[str, str]) -> set[str]:
    out = subprocess.run(
        [str(PG_BIN / "psql"), "-Atc", "SELECT datname FROM pg_database"],
        env={**os.environ, **pg},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(out.split())


def test_job_creates_missing_databases_only_and_keeps_data(postgres: dict[str, str]) -> None:
    _run_job(_render(backend=False), postgres)
    assert "litellm_db" in _databases(postgres) and "litemaas_db" not in _databases(postgres)
    subprocess.run(
        [
            str(PG_BIN / "psql"),
            "-d",
            "litellm_db",
            "-c",
            "CREATE TABLE keep(x int); INSERT INTO keep VALUES (42)",
        ],
        env={**os.environ, **postgres},
        check=True,
        capture_output=True,
    )
    # Again, then with the backend enabled: litemaas_db appears, litellm_db keeps its data.
    _run_job(_render(backend=False), postgres)
    _run_job(_render(backend=True), postgres)
    assert {"litellm_db", "litemaas_db"} <= _databases(postgres)
    kept = subprocess.run(
        [str(PG_BIN / "psql"), "-d", "litellm_db", "-Atc", "SELECT x FROM keep"],
        env={**os.environ, **postgres},
        check=True,
        capture_output=True,
        text=True,
    )
    assert kept.stdout.strip() == "42"
