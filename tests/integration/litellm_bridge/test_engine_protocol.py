"""The query-engine stand-in on its own: the engine HTTP protocol prisma-client-py
speaks, the GraphQL -> JSON protocol translation, and loud refusal of anything it does
not know. Requests are written the way prisma-client-py 0.15 builds them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from litellm_local.proxy import Reply, call
from sandbox.litellm import runtime
from sandbox.throwaway_pg import ThrowawayPostgres, free_port

pytestmark = pytest.mark.integration

QUERY_ENGINE = runtime.ENGINE_DIR / "query-engine"


class Engine:
    def __init__(self, port: int, log: Path, database: str) -> None:
        self.port = port
        self.log = log
        self.database = database

    def post(self, path: str, body: object, tx: str | None = None) -> Reply:
        # The native engine's header for "run inside this interactive transaction".
        headers = {"X-transaction-id": tx} if tx else {}
        return call("POST", f"http://127.0.0.1:{self.port}{path}", body=body, headers=headers)

    def query(self, graphql: str, tx: str | None = None) -> Reply:
        return self.post("/", {"variables": {}, "operation_name": "query", "query": graphql}, tx)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


def engine_env(rt: runtime.Runtime, database_url: str) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", os.defpath),
        "PRISMA_DML_PATH": str(rt.schema),
        "DATABASE_URL": database_url,
        "LITEMAAS_ENGINE_NODE_MODULES": str(rt.node_modules),
    }


def wait_for_status(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"engine exited: {log.read_text()}")
        try:
            if call("GET", f"http://127.0.0.1:{port}/status", timeout=2).status == 200:
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("engine did not answer /status")


@pytest.fixture(scope="module")
def engine(
    litellm_runtime: runtime.Runtime,
    fresh_database: Callable[[], str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Engine]:
    log = tmp_path_factory.mktemp("engine") / "stderr.log"
    port = free_port()
    database_url = fresh_database()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(QUERY_ENGINE), "-p", str(port), "--enable-metrics", "--enable-raw-queries"],
            env=engine_env(litellm_runtime, database_url),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for_status(port, process, log)
        yield Engine(port, log, database=urlsplit(database_url).path.lstrip("/"))
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)


def test_version_is_the_engine_commit_prisma_client_expects(
    litellm_runtime: runtime.Runtime,
) -> None:
    version = subprocess.run(
        [str(QUERY_ENGINE), "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    expected = subprocess.run(
        [
            str(litellm_runtime.python),
            "-c",
            "from prisma._config import DefaultConfig as C; print(C().expected_engine_version)",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert version == f"query-engine {expected}"


def test_schema_engine_only_answers_version() -> None:
    stand_in = runtime.ENGINE_DIR / "schema-engine"
    version = subprocess.run(
        [str(stand_in), "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"schema-engine-cli {runtime.ENGINE_COMMIT}"
    other = subprocess.run(
        [str(stand_in), "--datamodels", "x"], capture_output=True, text=True, check=False
    )
    assert other.returncode != 0
    assert "unsupported" in other.stderr


def test_status_answers_ok(engine: Engine) -> None:
    reply = call("GET", f"http://127.0.0.1:{engine.port}/status")
    assert (reply.status, reply.body) == (200, {"status": "ok"})


def test_unknown_operation_fails_loudly_naming_it(engine: Engine) -> None:
    reply = engine.query("query {\n  result: findRawLiteLLM_UserTable\n  {\n    user_id\n  }\n}")
    assert reply.status == 400
    assert "findRawLiteLLM_UserTable" in reply.body["error"]
    assert "UNSUPPORTED ENGINE REQUEST: unknown operation findRawLiteLLM_UserTable" in (
        engine.stderr()
    )


def test_unknown_model_fails_loudly_naming_the_operation(engine: Engine) -> None:
    reply = engine.query("query {\n  result: findManyLiteLLM_NoSuchTable\n  {\n    id\n  }\n}")
    assert reply.status == 400
    assert "findManyLiteLLM_NoSuchTable" in reply.body["error"]


def test_unknown_endpoint_is_refused_naming_it(engine: Engine) -> None:
    reply = call("GET", f"http://127.0.0.1:{engine.port}/metrics?format=json")
    assert reply.status == 400
    assert "GET /metrics?format=json" in reply.body["error"]


def test_graphql_variables_are_refused(engine: Engine) -> None:
    reply = engine.post(
        "/",
        {
            "variables": {"id": "x"},
            "query": "query { result: findUniqueLiteLLM_UserTable(where: {user_id: $id}) "
            "{ user_id } }",
        },
    )
    assert reply.status == 400
    assert "variables" in reply.body["error"]


def create_user(engine: Engine, user_id: str, metadata: dict, tx: str | None = None) -> Reply:
    # prisma-client-py renders a Json value as a GraphQL string holding JSON text.
    text = json.dumps(json.dumps(metadata))
    return engine.query(
        "mutation {\n  result: createOneLiteLLM_UserTable\n  (\n    data: {\n"
        f'      user_id: "{user_id}"\n      metadata: {text}\n      spend: 1.5\n'
        '      models: [\n        "m1",\n        "m2"\n      ]\n    }\n  )\n'
        "  {\n    user_id\n    metadata\n    models\n    spend\n    created_at\n  }\n}",
        tx=tx,
    )


def test_json_input_is_stored_as_json_and_read_back_as_text(
    engine: Engine, postgres: ThrowawayPostgres
) -> None:
    reply = create_user(engine, "json-user", {"team": "a", "n": 1})
    assert reply.status == 200, reply.body
    result = reply.body["data"]["result"]
    # Under the GraphQL protocol a Json field comes back as JSON text, which the
    # generated pydantic models parse; the translation must keep that.
    assert json.loads(result["metadata"]) == {"team": "a", "n": 1}
    assert result["models"] == ["m1", "m2"]
    assert isinstance(result["created_at"], str) and result["created_at"].endswith("Z")
    stored = postgres.psql(
        'SELECT jsonb_typeof(metadata::jsonb) FROM "LiteLLM_UserTable"'
        " WHERE user_id = 'json-user'",
        database=engine.database,
    )
    assert stored == "object"


def test_json_filter_values_are_tagged(engine: Engine) -> None:
    assert create_user(engine, "json-filter", {"k": "v"}).status == 200
    reply = engine.query(
        "query {\n  result: findManyLiteLLM_UserTable\n  (\n    where: {\n"
        f"      metadata: {{\n        equals: {json.dumps(json.dumps({'k': 'v'}))}\n      }}\n"
        "    }\n  )\n  {\n    user_id\n  }\n}"
    )
    assert reply.status == 200, reply.body
    assert [row["user_id"] for row in reply.body["data"]["result"]] == ["json-filter"]


def test_bigint_and_datetime_outputs_are_plain_values(engine: Engine) -> None:
    reply = engine.query(
        "mutation {\n  result: createOneLiteLLM_BudgetTable\n  (\n    data: {\n"
        '      budget_id: "b1"\n      tpm_limit: 9007199254740993\n'
        '      created_by: "t"\n      updated_by: "t"\n    }\n  )\n'
        "  {\n    budget_id\n    tpm_limit\n    created_at\n  }\n}"
    )
    assert reply.status == 200, reply.body
    result = reply.body["data"]["result"]
    # Beyond 2^53: must survive exactly, as the native engine's string form.
    assert str(result["tpm_limit"]) == "9007199254740993"
    assert isinstance(result["created_at"], str)


def test_aggregate_count_and_group_by(engine: Engine) -> None:
    assert create_user(engine, "count-user", {}).status == 200
    count = engine.query(
        "query {\n  result: aggregateLiteLLM_UserTable\n  (\n    where: {\n"
        '      user_id: "count-user"\n    }\n  )\n  {\n    _count {\n      _all\n    }\n  }\n}'
    )
    assert count.body == {"data": {"result": {"_count": {"_all": 1}}}}
    grouped = engine.query(
        'query {\n  result: groupByLiteLLM_UserTable\n  (\n    by: [\n      "user_id"\n    ]\n'
        '    where: {\n      user_id: "count-user"\n    }\n  )\n'
        "  {\n    user_id\n    _sum {\n      spend\n    }\n  }\n}"
    )
    assert grouped.body == {"data": {"result": [{"user_id": "count-user", "_sum": {"spend": 1.5}}]}}


def test_raw_query_returns_name_columns_as_text(engine: Engine) -> None:
    # information_schema identifiers are `name` (OID 19) and arrays of them 1003,
    # which @prisma/adapter-pg refuses unless mapped; LiteLLM queries both.
    reply = engine.query(
        "mutation {\n  result: queryRaw\n  (\n"  # noqa: S608 (a fixed test query)
        '    query: "SELECT table_name::name AS t, ARRAY[table_name::name] AS a'
        ' FROM information_schema.tables WHERE table_name = $1"\n'
        f"    parameters: {json.dumps(json.dumps(['LiteLLM_UserTable']))}\n  )\n}}"
    )
    assert reply.status == 200, reply.body
    result = reply.body["data"]["result"]
    assert result["columns"] == ["t", "a"]
    assert result["rows"] == [["LiteLLM_UserTable", ["LiteLLM_UserTable"]]]


def test_execute_raw_returns_affected_rows(engine: Engine) -> None:
    assert create_user(engine, "raw-user", {}).status == 200
    reply = engine.query(
        "mutation {\n  result: executeRaw\n  (\n"  # noqa: S608 (a fixed test query)
        '    query: "UPDATE \\"LiteLLM_UserTable\\" SET spend = 2 WHERE user_id = $1"\n'
        f"    parameters: {json.dumps(json.dumps(['raw-user']))}\n  )\n}}"
    )
    assert reply.body == {"data": {"result": 1}}


def test_unique_violation_keeps_prisma_error_code(engine: Engine) -> None:
    assert create_user(engine, "dup-user", {}).status == 200
    reply = create_user(engine, "dup-user", {})
    # prisma-client-py maps P2002 to UniqueViolationError; LiteLLM relies on it.
    assert reply.status == 200
    assert reply.body["errors"][0]["user_facing_error"]["error_code"] == "P2002"


def batch(*queries: str) -> dict:
    return {
        "batch": [{"query": q, "variables": {}} for q in queries],
        "transaction": True,
    }


def create_user_query(user_id: str) -> str:
    return (
        "mutation {\n  result: createOneLiteLLM_UserTable\n  (\n    data: {\n"
        f'      user_id: "{user_id}"\n    }}\n  )\n  {{\n    user_id\n  }}\n}}'
    )


def count_users(engine: Engine, prefix: str) -> int:
    reply = engine.query(
        "query {\n  result: aggregateLiteLLM_UserTable\n  (\n    where: {\n"
        f'      user_id: {{\n        startsWith: "{prefix}"\n      }}\n    }}\n  )\n'
        "  {\n    _count {\n      _all\n    }\n  }\n}"
    )
    return int(reply.body["data"]["result"]["_count"]["_all"])


def test_batch_results_are_renamed_and_atomic(engine: Engine) -> None:
    ok = engine.post("/", batch(create_user_query("batch-a"), create_user_query("batch-b")))
    assert ok.body == {
        "batchResult": [
            {"data": {"result": {"user_id": "batch-a"}}},
            {"data": {"result": {"user_id": "batch-b"}}},
        ]
    }
    failed = engine.post("/", batch(create_user_query("batch-c"), create_user_query("batch-a")))
    assert failed.body["errors"][0]["user_facing_error"]["error_code"] == "P2002"
    # The transaction rolled back the first half too.
    assert count_users(engine, "batch-c") == 0


def test_interactive_transaction_commit_and_rollback(engine: Engine) -> None:
    for outcome, expected in (("commit", 1), ("rollback", 0)):
        start = engine.post("/transaction/start", {"timeout": 5000, "max_wait": 2000})
        tx = start.body["id"]
        assert create_user(engine, f"itx-{outcome}", {}, tx=tx).status == 200
        batch_in_tx = engine.post("/", batch(create_user_query(f"itx-{outcome}-b")), tx=tx)
        assert "batchResult" in batch_in_tx.body, batch_in_tx.body
        done = engine.post(f"/transaction/{tx}/{outcome}", None)
        assert done.status == 200, done.body
        assert count_users(engine, f"itx-{outcome}") == 2 * expected


def test_engine_exits_when_its_parent_dies(
    litellm_runtime: runtime.Runtime, fresh_database: Callable[[], str], tmp_path: Path
) -> None:
    # prisma-client-py's parent may be SIGKILLed (a pod killed); the stand-in must not
    # linger holding database connections.
    port = free_port()
    parent = subprocess.Popen(
        ["bash", "-c", f'"{QUERY_ENGINE}" -p {port} & echo $!; wait'],
        env=engine_env(litellm_runtime, fresh_database()),
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "stderr").open("wb"),
        start_new_session=True,
    )
    assert parent.stdout is not None
    engine_pid = int(parent.stdout.readline())
    wait_for_status(port, parent, tmp_path / "stderr")
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{engine_pid}").exists():
        status = Path(f"/proc/{engine_pid}/status").read_text()
        if "State:\tZ" in status:
            break
        time.sleep(0.1)
    alive = (
        Path(f"/proc/{engine_pid}").exists()
        and "State:\tZ" not in Path(f"/proc/{engine_pid}/status").read_text()
    )
    if alive:
        os.kill(engine_pid, signal.SIGKILL)
    assert not alive, "the engine stand-in outlived its parent"


def test_enum_and_bytes_inputs_pass_as_strings(engine: Engine, postgres: ThrowawayPostgres) -> None:
    # prisma-client-py sends enums as JSON strings and Bytes as base64 text; the JSON
    # protocol takes both untagged (unlike Json, which would become a JSON string).
    job = engine.query(
        "mutation {\n  result: createOneLiteLLM_CronJob\n  (\n    data: {\n"
        '      pod_id: "p"\n      status: "ACTIVE"\n      ttl: "2030-01-01T00:00:00+00:00"\n'
        "    }\n  )\n  {\n    status\n    ttl\n  }\n}"
    )
    assert job.body == {"data": {"result": {"status": "ACTIVE", "ttl": "2030-01-01T00:00:00.000Z"}}}
    content = engine.query(
        "mutation {\n  result: createOneLiteLLM_ManagedFileContentTable\n  (\n    data: {\n"
        '      id: "file-1"\n      content: "aGVsbG8="\n    }\n  )\n  {\n    content\n  }\n}'
    )
    assert content.body == {"data": {"result": {"content": "aGVsbG8="}}}
    stored = postgres.psql(
        "SELECT convert_from(content, 'UTF8') FROM \"LiteLLM_ManagedFileContentTable\"",
        database=engine.database,
    )
    assert stored == "hello"


def p2028(reply: Reply) -> str:
    assert reply.status == 200, reply.body
    error = reply.body["errors"][0]
    assert error["user_facing_error"]["error_code"] == "P2028", reply.body
    return error["error"]


def test_transaction_errors_use_the_native_envelope_and_never_kill_the_engine(
    engine: Engine,
) -> None:
    # An unknown id would make the wasm engine panic; the native engine answers P2028,
    # which prisma-client-py turns into TransactionError / TransactionExpiredError.
    assert "not found" in p2028(engine.post("/transaction/unknown-id/commit", None))
    assert "not found" in p2028(engine.query(create_user_query("tx-unknown"), tx="unknown-id"))
    expired = engine.post("/transaction/start", {"timeout": 1, "max_wait": 2000}).body["id"]
    time.sleep(0.2)
    assert p2028(engine.post(f"/transaction/{expired}/commit", None)).startswith(
        "Transaction already closed"
    )
    done = engine.post("/transaction/start", {"timeout": 5000, "max_wait": 2000}).body["id"]
    assert engine.post(f"/transaction/{done}/commit", None).body == {}
    p2028(engine.post(f"/transaction/{done}/commit", None))
    assert call("GET", f"http://127.0.0.1:{engine.port}/status").status == 200


def test_overwrite_datasources_wins_over_the_schema_url(
    litellm_runtime: runtime.Runtime, fresh_database: Callable[[], str], tmp_path: Path
) -> None:
    # prisma-client-py passes Prisma(datasource=...) (LiteLLM's read replica and
    # token-refresh paths) as OVERWRITE_DATASOURCES; DATABASE_URL is then not used.
    env = engine_env(litellm_runtime, f"postgresql://nobody:x@127.0.0.1:{free_port()}/none")
    env["OVERWRITE_DATASOURCES"] = json.dumps([{"name": "client", "url": fresh_database()}])
    port = free_port()
    log = tmp_path / "stderr"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(QUERY_ENGINE), "-p", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for_status(port, process, log)
        engine = Engine(port, log, database="")
        reply = engine.query(
            "query {\n  result: aggregateLiteLLM_UserTable\n"
            "  {\n    _count {\n      _all\n    }\n  }\n}"
        )
        assert reply.body == {"data": {"result": {"_count": {"_all": 0}}}}, reply.body
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
