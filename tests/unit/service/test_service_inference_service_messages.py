"""``model.upsert`` with ``inference_service`` (a KServe InferenceService instead of ``api_base``):
it passes the published schema and reaches the playbook as it is; a hostile one is refused alone,
naming the field, never echoing a value."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from litemaas_controller.dispatch import changes
from litemaas_controller.errors import InvalidError
from litemaas_controller.intake.messages import published
from litemaas_controller.intake.messages.parse import parse
from litemaas_controller.ledger import Action, OrderRecord, OrderStatus

pytestmark = pytest.mark.unit

CANARY = "sk-canary-4f1e"
BODY = {
    "name": "granite-8b-instruct",
    "inference_service": {"name": "granite-8b", "namespace": "rhoai-models"},
    "api_key_secret": {"name": "granite-8b-token", "key": "token"},
    "mode": "chat",
}


def entry(body: Any) -> dict[bytes, bytes]:
    fields = {"id": "m-1", "type": "model.upsert", "instance": "demo", "body": json.dumps(body)}
    return {k.encode(): v.encode() for k, v in fields.items()}


def test_a_model_upsert_naming_an_inference_service_passes_and_reaches_the_playbook() -> None:
    for body in (BODY, {**BODY, "inference_service": {**BODY["inference_service"],
                                                      "address": "external"}}):  # fmt: skip
        jsonschema.validate({"id": "m-1", "type": "model.upsert", "instance": "demo",
                             "body": body}, published("model.upsert"))  # fmt: skip
        message = parse("1-0", entry(body), upstream_allow=["*.apps.example.com"])
        assert message.body == body
        order = OrderRecord(
            id="msg:m-1", action=Action.MODEL_UPSERT, instance="demo",
            namespace="litemaas-demo", vars=message.body, status=OrderStatus.QUEUED,
            source="message", principal="stream", received_at=0.0, updated_at=0.0, body="",
        )  # fmt: skip
        extravars = changes.extravars(order, ("*.apps.example.com",))
        assert extravars["litellm_models_model"]["inference_service"] == body["inference_service"]
        assert extravars["litellm_models_upstream_allow"] == ["*.apps.example.com"]


def _hostile() -> list[tuple[dict[str, Any], str]]:
    isvc = BODY["inference_service"]
    return [
        ({**BODY, "api_base": "http://vllm.models.svc/v1"}, "oneOf"),  # both
        ({k: v for k, v in BODY.items() if k != "inference_service"}, "oneOf"),  # neither
        ({**BODY, "inference_service": {**isvc, "name": "Granite_8B"}}, "inference_service/name"),
        ({**BODY, "inference_service": {**isvc, "name": f"{CANARY}\n"}}, "inference_service/name"),
        ({**BODY, "inference_service": {**isvc, "namespace": "a/b"}}, "inference_service/namesp"),
        ({**BODY, "inference_service": {**isvc, "namespace": "n" * 64}}, "inference_service/names"),
        ({**BODY, "inference_service": {"name": "granite-8b"}}, "namespace"),
        ({**BODY, "inference_service": {**isvc, "url": "http://x"}}, "url"),  # an extra key
        ({**BODY, "inference_service": {**isvc, "address": "public"}}, "address"),
        ({**BODY, "inference_service": "granite-8b"}, "body/inference_service: must satisfy type"),
        ({**BODY, "inference_service": {**isvc, "namespace": None}}, "inference_service/namespace"),
    ]


@pytest.mark.parametrize(("body", "words"), _hostile())
def test_a_hostile_inference_service_message_is_refused_naming_the_field(
    body: dict[str, Any], words: str
) -> None:
    with pytest.raises(InvalidError) as caught:
        parse("1-0", entry(body))
    assert words in str(caught.value)
    assert CANARY not in str(caught.value)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"id": "m-1", "type": "model.upsert", "instance": "demo",
                             "body": body}, published("model.upsert"))  # fmt: skip
