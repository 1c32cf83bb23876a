"""Messages may name only Secrets meant for them and model endpoints the operator allows:
refused at intake (a dead letter at once), with reasons that name the field, never the value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from litemaas_controller.config import load_settings
from litemaas_controller.dispatch import plans
from litemaas_controller.errors import ConfigError, InvalidError
from litemaas_controller.intake.messages.parse import parse
from litemaas_controller.intake.messages.references import RESERVED_SECRETS
from litemaas_controller.ledger import Action, OrderRecord, OrderStatus

pytestmark = pytest.mark.unit

UPSERT = {
    "name": "llama",
    "api_base": "http://vllm.models.svc:8000/v1",
    "api_key_secret": {"name": "llama-creds", "key": "token"},
    "mode": "chat",
}
KEY = {"alias": "team-a", "user_id": "alice", "models": ["llama"], "secret": {"name": "team-a"}}


def entry(kind: str, body: dict[str, object]) -> dict[bytes, bytes]:
    fields = {"id": "m-1", "type": kind, "instance": "demo", "body": json.dumps(body)}
    return {k.encode(): v.encode() for k, v in fields.items()}


def naming(kind: str, secret: str) -> dict[str, object]:
    if kind == "model.upsert":
        return {**UPSERT, "api_key_secret": {"name": secret, "key": "LITELLM_MASTER_KEY"}}
    return {**KEY, "secret": {"name": secret}}


@pytest.mark.parametrize("reserved", sorted(RESERVED_SECRETS))
@pytest.mark.parametrize(
    ("kind", "field"),
    [("model.upsert", "body/api_key_secret/name"), ("key.create", "body/secret/name")],
)
def test_a_message_naming_one_of_the_instances_own_secrets_is_refused(
    reserved: str, kind: str, field: str
) -> None:
    with pytest.raises(InvalidError) as caught:
        parse("1-0", entry(kind, naming(kind, reserved)))
    reason = str(caught.value)
    assert reason.startswith(f"{field}: names one of the instance's own Secrets")
    assert "allow-message-ref" in reason
    meant = naming(kind, "llama-creds")
    assert parse("1-0", entry(kind, meant)).body == meant  # a Secret meant for it passes


def test_an_api_base_outside_the_allow_list_is_refused_without_repeating_it() -> None:
    allow = ("*.models.svc", "10.0.0.0/8")
    assert parse("1-0", entry("model.upsert", UPSERT), allow).body == UPSERT
    hostile = {**UPSERT, "api_base": "http://collector.evil.example/v1"}
    with pytest.raises(InvalidError, match=r"^body/api_base: .*LITEMAAS_UPSTREAM_ALLOW") as caught:
        parse("1-0", entry("model.upsert", hostile), allow)
    assert "evil" not in str(caught.value)
    assert parse("1-0", entry("model.upsert", hostile)).body == hostile  # default: any host


def test_model_changes_hand_the_allow_list_to_the_module() -> None:
    order = OrderRecord(id="msg:m", action=Action.MODEL_UPSERT, instance="demo",
                        namespace="litemaas-demo", vars=UPSERT, status=OrderStatus.QUEUED,
                        source="redis:s/1-0", principal="redis:g", received_at=0, updated_at=0,
                        body="{}")  # fmt: skip
    ev = plans.extravars(order, None, ("*.models.svc", "10.0.0.0/8"))
    assert ev["litellm_models_upstream_allow"] == ["*.models.svc", "10.0.0.0/8"]


def _env(tmp_path: Path, allow: str) -> dict[str, str]:
    for name in ("deploy_litemaas.yml", "remove_litemaas.yml"):
        (tmp_path / name).touch()
    return {
        "LITEMAAS_PLAYBOOK_DIR": str(tmp_path),
        "LITEMAAS_API_TOKEN": "t" * 20,
        "LITEMAAS_UPSTREAM_ALLOW": allow,
    }


def test_the_allow_list_setting_is_a_comma_separated_list_checked_at_start(
    tmp_path: Path,
) -> None:
    given = "vllm.models.svc, *.models.svc,.apps.example.com, 10.0.0.0/8, fd00::/8, [::1], 10.1.2.3"
    settings = load_settings(environ=_env(tmp_path, given))
    assert settings.upstream_allow == tuple(e.strip() for e in given.split(","))
    assert load_settings(environ=_env(tmp_path, "")).upstream_allow == ()


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "*", "http://vllm.models.svc", "a b", "*."])
def test_a_bad_allow_list_entry_stops_the_service_naming_the_setting(
    tmp_path: Path, bad: str
) -> None:
    with pytest.raises(ConfigError, match="LITEMAAS_UPSTREAM_ALLOW"):
        load_settings(environ=_env(tmp_path, bad))
