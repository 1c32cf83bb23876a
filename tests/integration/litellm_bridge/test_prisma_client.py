"""prisma-client-py itself, with the client generated from LiteLLM's schema, driving the
query-engine stand-in through every kind of operation LiteLLM's models-and-keys flows
send (see prisma_operations.py, which runs in the runtime's venv)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox.litellm import runtime

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).with_name("prisma_operations.py")
OPERATIONS = [
    "create_one",
    "find_unique",
    "find_unique_or_raise",
    "find_first_and_many",
    "relation_include",
    "bigint_datetime_string_list",
    "update_one",
    "update_many_increment",
    "upsert",
    "delete_one_and_many",
    "create_many",
    "count_and_group_by",
    "query_and_execute_raw",
    "batch_in_interactive_transaction",
    "transaction_rolls_back_on_error",
    "expired_transaction_raises",
    "unique_violation",
]


@pytest.fixture(scope="module")
def results(litellm_runtime: runtime.Runtime, fresh_database: Callable[[], str]) -> dict:
    env = {
        "PATH": os.environ.get("PATH", os.defpath),
        "HOME": os.environ.get("HOME", "/"),
        "DATABASE_URL": fresh_database(),
        **runtime.prisma_tool_env(litellm_runtime),
    }
    done = subprocess.run(
        [str(litellm_runtime.python), str(SCRIPT)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "UNSUPPORTED ENGINE REQUEST" not in done.stderr, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_operation_was_checked(results: dict) -> None:
    assert sorted(results) == sorted(OPERATIONS)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_operation_through_prisma_client(results: dict, operation: str) -> None:
    assert results[operation] == "ok", results[operation]
