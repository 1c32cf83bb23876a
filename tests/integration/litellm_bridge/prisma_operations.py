"""Runs in the LiteLLM runtime's venv (where the Prisma client generated from LiteLLM's
schema lives), not in the project's: every kind of operation LiteLLM's models-and-keys
flows send, issued through prisma-client-py itself against the query-engine stand-in,
with LiteLLM's own models and field types (Json, BigInt, DateTime, String[]).

Prints one JSON object: {operation: "ok" | "FAILED: <error>"}. Each check is
independent, so one failure does not hide the others."""

from __future__ import annotations

import asyncio
import datetime
import json
import traceback
from collections.abc import Awaitable, Callable

from prisma import Json, Prisma
from prisma.errors import RecordNotFoundError, TransactionExpiredError, UniqueViolationError

CHECKS: dict[str, Callable[[Prisma], Awaitable[None]]] = {}


def check(name: str) -> Callable:
    def register(fn: Callable[[Prisma], Awaitable[None]]) -> Callable:
        CHECKS[name] = fn
        return fn

    return register


def model_data(model_id: str) -> dict:
    return {
        "model_id": model_id,
        "model_name": "m",
        "litellm_params": Json({"model": "openai/x", "rpm": 5}),
        "model_info": Json({"id": model_id}),
        "created_by": "t",
        "updated_by": "t",
    }


@check("create_one")
async def create_one(db: Prisma) -> None:
    row = await db.litellm_proxymodeltable.create(data=model_data("c1"))
    assert row.litellm_params == {"model": "openai/x", "rpm": 5}, row.litellm_params
    assert isinstance(row.created_at, datetime.datetime)


@check("find_unique")
async def find_unique(db: Prisma) -> None:
    await db.litellm_proxymodeltable.create(data=model_data("fu1"))
    row = await db.litellm_proxymodeltable.find_unique(where={"model_id": "fu1"})
    assert row is not None and row.model_info == {"id": "fu1"}
    assert await db.litellm_proxymodeltable.find_unique(where={"model_id": "nope"}) is None


@check("find_unique_or_raise")
async def find_unique_or_raise(db: Prisma) -> None:
    try:
        await db.litellm_proxymodeltable.find_unique_or_raise(where={"model_id": "nope"})
    except RecordNotFoundError:
        return
    raise AssertionError("no RecordNotFoundError")


@check("find_first_and_many")
async def find_first_and_many(db: Prisma) -> None:
    for name in ("ff_a", "ff_b"):
        await db.litellm_config.create(data={"param_name": name, "param_value": Json({"v": name})})
    first = await db.litellm_config.find_first(where={"param_name": {"startswith": "ff_"}})
    assert first is not None
    many = await db.litellm_config.find_many(
        where={"param_name": {"in": ["ff_a", "ff_b"]}}, order={"param_name": "desc"}, take=5
    )
    assert [r.param_name for r in many] == ["ff_b", "ff_a"]
    assert many[0].param_value == {"v": "ff_b"}


@check("relation_include")
async def relation_include(db: Prisma) -> None:
    await db.litellm_budgettable.create(
        data={"budget_id": "bud1", "max_budget": 7.5, "created_by": "t", "updated_by": "t"}
    )
    await db.litellm_verificationtoken.create(
        data={"token": "tok-inc", "budget_id": "bud1", "models": ["m"]}
    )
    row = await db.litellm_verificationtoken.find_unique(
        where={"token": "tok-inc"}, include={"litellm_budget_table": True}
    )
    assert row is not None and row.litellm_budget_table is not None
    assert row.litellm_budget_table.max_budget == 7.5


@check("bigint_datetime_string_list")
async def bigint_datetime_string_list(db: Prisma) -> None:
    expires = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    row = await db.litellm_verificationtoken.create(
        data={
            "token": "tok-types",
            "tpm_limit": 2**53 + 1,
            "expires": expires,
            "models": ["a", "b"],
            "metadata": Json({"nested": {"list": [1, 2]}}),
        }
    )
    assert row.tpm_limit == 2**53 + 1, row.tpm_limit
    assert row.expires == expires, row.expires
    assert row.models == ["a", "b"]
    assert row.metadata == {"nested": {"list": [1, 2]}}


@check("update_one")
async def update_one(db: Prisma) -> None:
    await db.litellm_proxymodeltable.create(data=model_data("u1"))
    row = await db.litellm_proxymodeltable.update(
        where={"model_id": "u1"}, data={"litellm_params": Json({"model": "openai/y"})}
    )
    assert row is not None and row.litellm_params == {"model": "openai/y"}


@check("update_many_increment")
async def update_many_increment(db: Prisma) -> None:
    await db.litellm_verificationtoken.create(data={"token": "tok-spend", "spend": 1.0})
    count = await db.litellm_verificationtoken.update_many(
        where={"token": {"in": ["tok-spend"]}}, data={"spend": {"increment": 2.5}}
    )
    assert count == 1
    row = await db.litellm_verificationtoken.find_unique(where={"token": "tok-spend"})
    assert row is not None and row.spend == 3.5


@check("upsert")
async def upsert(db: Prisma) -> None:
    for email in ("a@example.com", "b@example.com"):
        row = await db.litellm_usertable.upsert(
            where={"user_id": "ups1"},
            data={
                "create": {"user_id": "ups1", "user_email": email, "models": []},
                "update": {"user_email": email},
            },
        )
        assert row.user_email == email


@check("delete_one_and_many")
async def delete_one_and_many(db: Prisma) -> None:
    await db.litellm_proxymodeltable.create(data=model_data("d1"))
    deleted = await db.litellm_proxymodeltable.delete(where={"model_id": "d1"})
    assert deleted is not None and deleted.model_id == "d1"
    for token in ("tok-del-a", "tok-del-b"):
        await db.litellm_verificationtoken.create(data={"token": token})
    count = await db.litellm_verificationtoken.delete_many(
        where={"token": {"in": ["tok-del-a", "tok-del-b"]}}
    )
    assert count == 2


@check("create_many")
async def create_many(db: Prisma) -> None:
    now = datetime.datetime.now(datetime.UTC)
    count = await db.litellm_spendlogs.create_many(
        data=[
            {
                "request_id": f"req-{i}",
                "call_type": "acompletion",
                "startTime": now,
                "endTime": now,
                "metadata": Json({"i": i}),
                "spend": 0.5,
            }
            for i in range(3)
        ]
    )
    assert count == 3


@check("count_and_group_by")
async def count_and_group_by(db: Prisma) -> None:
    for i in range(2):
        await db.litellm_dailyuserspend.create(
            data={"date": "2026-01-01", "api_key": "k", "user_id": f"g{i}", "spend": 1.25}
        )
    assert await db.litellm_dailyuserspend.count(where={"date": "2026-01-01"}) == 2
    groups = await db.litellm_dailyuserspend.group_by(
        by=["date"], sum={"spend": True}, where={"date": "2026-01-01"}
    )
    assert groups[0]["_sum"]["spend"] == 2.5, groups


@check("query_and_execute_raw")
async def query_and_execute_raw(db: Prisma) -> None:
    await db.litellm_verificationtoken.create(data={"token": "tok-raw", "spend": 4.0})
    changed = await db.execute_raw(
        'UPDATE "LiteLLM_VerificationToken" SET spend = spend + $1 WHERE token = $2',
        1.0,
        "tok-raw",
    )
    assert changed == 1
    rows = await db.query_raw(
        'SELECT token, spend, created_at FROM "LiteLLM_VerificationToken" WHERE token = $1',
        "tok-raw",
    )
    assert rows[0]["spend"] == 5.0 and rows[0]["token"] == "tok-raw", rows
    tables = await db.query_raw(
        "SELECT table_name FROM information_schema.tables WHERE table_name = $1",
        "LiteLLM_VerificationToken",
    )
    assert tables == [{"table_name": "LiteLLM_VerificationToken"}], tables


@check("batch_in_interactive_transaction")
async def batch_in_interactive_transaction(db: Prisma) -> None:
    # LiteLLM's spend writer: a batch of update_many inside db.tx().
    await db.litellm_verificationtoken.create(data={"token": "tok-batch", "spend": 0.0})
    async with db.tx() as transaction, transaction.batch_() as batcher:
        for _ in range(3):
            batcher.litellm_verificationtoken.update_many(
                where={"token": "tok-batch"}, data={"spend": {"increment": 1.0}}
            )
    row = await db.litellm_verificationtoken.find_unique(where={"token": "tok-batch"})
    assert row is not None and row.spend == 3.0


@check("transaction_rolls_back_on_error")
async def transaction_rolls_back_on_error(db: Prisma) -> None:
    try:
        async with db.tx() as transaction:
            await transaction.litellm_usertable.create(data={"user_id": "tx-rb"})
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    assert await db.litellm_usertable.find_unique(where={"user_id": "tx-rb"}) is None


@check("expired_transaction_raises")
async def expired_transaction_raises(db: Prisma) -> None:
    # LiteLLM's spend writer under load: a transaction outliving its timeout must
    # raise, not be committed, and must not take the engine down.
    # Expired before a query, and expired between the last query and the commit
    # (the commit's own error must surface, not read as success).
    for user_id, sleep_first in (("tx-expired-a", True), ("tx-expired-b", False)):
        try:
            async with db.tx(timeout=datetime.timedelta(milliseconds=100)) as transaction:
                if sleep_first:
                    await asyncio.sleep(0.3)
                await transaction.litellm_usertable.create(data={"user_id": user_id})
                await asyncio.sleep(0.3)
        except TransactionExpiredError:
            pass
        else:
            raise AssertionError(f"{user_id}: no TransactionExpiredError")
        assert await db.litellm_usertable.find_unique(where={"user_id": user_id}) is None


@check("unique_violation")
async def unique_violation(db: Prisma) -> None:
    await db.litellm_usertable.create(data={"user_id": "dup"})
    try:
        await db.litellm_usertable.create(data={"user_id": "dup"})
    except UniqueViolationError:
        return
    raise AssertionError("no UniqueViolationError")


async def main() -> None:
    db = Prisma()
    await db.connect()
    results: dict[str, str] = {}
    try:
        for name, fn in CHECKS.items():
            try:
                await fn(db)
                results[name] = "ok"
            except Exception as error:  # noqa: BLE001 (each check reports, none hides others)
                results[name] = f"FAILED: {error!r}\n{traceback.format_exc(limit=3)}"
    finally:
        await db.disconnect()
    print(json.dumps(results))


if __name__ == "__main__":
    asyncio.run(main())
