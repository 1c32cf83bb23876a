"""Model-change messages: parsing per type, refusals that never echo values, dead letters, plans."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from redis.exceptions import ResponseError

from litemaas_controller.dispatch import plans
from litemaas_controller.errors import InvalidError, MalformedError
from litemaas_controller.intake.messages import TYPES, published
from litemaas_controller.intake.messages.deadletter import DeadLetter, fields
from litemaas_controller.intake.messages.parse import parse
from litemaas_controller.intake.messages.stream import is_nogroup
from litemaas_controller.ledger import Action, OrderRecord, OrderStatus

pytestmark = pytest.mark.unit

MESSAGES = Path(__file__).resolve().parents[3] / "docs" / "messages.md"
CANARY = "sk-canary-0b7d3e9f"
_XADD = re.compile(
    r"XADD litemaas:changes '\*' id (\S+) type (\S+) instance (\S+) body '(.*?)'", re.S
)


def entry(**given: str) -> dict[bytes, bytes]:
    base = {"id": "m-1", "type": "model.delete", "instance": "demo", "body": '{"name": "x"}'}
    return {k.encode(): v.encode() for k, v in {**base, **given}.items()}


def documented_examples() -> list[tuple[str, str, str, str]]:
    return _XADD.findall(MESSAGES.read_text())


def test_the_messages_page_shows_one_valid_example_per_type() -> None:
    examples = documented_examples()
    assert sorted(t for _, t, _, _ in examples) == sorted(TYPES)
    for message_id, kind, instance, body in examples:
        message = parse("1-0", entry(id=message_id, type=kind, instance=instance, body=body))
        assert message.type == kind and message.body == json.loads(body)


def test_published_schemas_are_one_per_type_and_name_their_type() -> None:
    for kind in TYPES:
        schema = published(kind)
        assert schema["properties"]["type"] == {"const": kind}
        assert schema["$id"].endswith(f"/{kind}.json")


@pytest.mark.parametrize(
    ("given", "error", "words"),
    [
        ({"body": "{nope"}, MalformedError, "not valid JSON"),
        ({"type": "model.explode"}, InvalidError, "type"),
        ({"instance": "Not_A_Label"}, InvalidError, "instance"),
        ({"body": json.dumps({"name": "x", "api_key": CANARY})}, InvalidError, "body/api_key"),
        ({"type": "model.upsert", "body": json.dumps({"name": CANARY})}, InvalidError, "api_base"),
        ({"type": "key.rotate", "body": json.dumps({"alias": 7})}, InvalidError, "alias"),
        ({"extra": "x"}, InvalidError, "extra"),
    ],
)
def test_refusals_say_what_to_fix_and_never_echo_a_value(
    given: dict[str, str], error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as caught:
        parse("1-0", entry(**given))
    assert words in str(caught.value)
    assert CANARY not in str(caught.value)


def test_a_secret_in_a_nested_field_or_list_is_refused() -> None:
    body = {"name": "x", "limits": {"token": CANARY}}
    with pytest.raises(InvalidError, match="body/limits/token"):
        parse("1-0", entry(body=json.dumps(body)))


def test_the_same_message_with_keys_in_another_order_is_the_same_content() -> None:
    one = parse("1-0", entry(type="key.rotate", body='{"alias": "a"}'))
    two = parse("2-0", entry(type="key.rotate", body='{ "alias":"a" }'))
    assert one.canonical() == two.canonical()


def test_a_dead_letter_withholds_an_unvalidated_body_and_odd_fields() -> None:
    original = entry(body=json.dumps({"api_key_secret": CANARY}), secret=CANARY)
    out = fields(DeadLetter("1-0", "invalid", "why", 1, valid=False), original, "c")
    assert CANARY not in json.dumps(out)
    assert out["withheld"] == "body,secret" and out["id"] == "m-1" and out["kind"] == "invalid"
    valid = fields(DeadLetter("1-0", "failed", "rc 2", 5, valid=True), entry(), "c")
    assert json.loads(valid["body"]) == {"name": "x"} and "withheld" not in valid


def _order(action: Action, body: dict[str, object]) -> OrderRecord:
    return OrderRecord(id="msg:m", action=action, instance="demo", namespace="litemaas-demo",
                       vars=body, status=OrderStatus.QUEUED, source="redis:s/1-0",
                       principal="redis:g", received_at=0, updated_at=0, body="{}")  # fmt: skip


def test_each_type_runs_the_documented_playbook_with_the_documented_vars() -> None:
    upsert = _order(Action.MODEL_UPSERT, {"name": "m"})
    assert plans.playbook(upsert) == "register_model.yml"
    assert plans.extravars(upsert, None) == {
        "litellm_models_namespace": "litemaas-demo",
        "litellm_models_model": {"name": "m"},
        "litellm_models_state": "present",
        "litellm_models_upstream_allow": [],
    }
    delete = _order(Action.MODEL_DELETE, {"name": "m"})
    assert plans.extravars(delete, None)["litellm_models_state"] == "absent"
    for action in (Action.KEY_ROTATE, Action.MASTER_KEY_ROTATE, Action.ADMIN_PASSWORD_ROTATE):
        order = _order(action, {})
        assert plans.playbook(order) == "rotate_keys.yml"
        assert plans.extravars(order, None) == {
            "litellm_keys_namespace": "litemaas-demo",
            "litellm_keys_operation": action.value,
            "litellm_keys_key": {},
        }


@pytest.mark.parametrize(
    ("reply", "nogroup"),
    [
        (
            "NOGROUP No such key 'litemaas:models' or consumer group 'controller' in XREADGROUP "
            "with GROUP option",
            True,
        ),
        # Redis 7: an error of redis.call inside a script keeps its code
        (
            "NOGROUP No such key 'litemaas:models' or consumer group 'controller' in XACK command "
            "script: 3f1c, on @user_script:25.",
            True,
        ),
        # Redis 6 wraps it
        (
            "Error running script (call to f_3f1c): @user_script:25: @user_script: 25: -NOGROUP No "
            "such key 'litemaas:models' or consumer group 'controller' in XACK command",
            True,
        ),
        (
            "Error running script (call to f_3f1c): @user_script:1: WRONGTYPE Operation against a "
            "key holding the wrong kind of value",
            False,
        ),
        ("BUSYGROUP Consumer Group name already exists", False),
        ("NOGROUPS is not a code", False),
    ],
)
def test_nogroup_is_recognised_as_redis_6_and_7_answer_it(reply: str, nogroup: bool) -> None:
    # redis-py drops the leading "ERR " of an error reply
    assert is_nogroup(ResponseError(reply)) is nogroup
