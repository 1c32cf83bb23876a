"""Outside input stays data: template markers and odd names are refused at the intake, and the
run's extra vars file tags every string ``!unsafe``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from litemaas_controller.errors import InvalidError
from litemaas_controller.intake.messages.parse import parse
from litemaas_controller.role.order_vars import from_argument_specs
from litemaas_controller.runner import extravars
from templated import BODIES, planted, replaced, slashed, string_fields, touching

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
MARKER = Path("/nonexistent/litemaas-marker")


def entry(kind: str, body: Any, **envelope: str) -> dict[bytes, bytes]:
    fields = {"id": "m-1", "type": kind, "instance": "demo", "body": json.dumps(body), **envelope}
    return {k.encode(): v.encode() for k, v in fields.items()}


@pytest.mark.parametrize(("kind", "path"), string_fields(), ids=str)
@pytest.mark.parametrize("template", [touching(MARKER), "{%set x=1%}", "{#c#}"])
def test_a_template_in_any_string_field_is_refused_naming_the_field_not_the_value(
    kind: str, path: tuple[str | int, ...], template: str
) -> None:
    with pytest.raises(InvalidError) as caught:
        parse("1-0", entry(kind, planted(kind, path, template)))
    reason = str(caught.value)
    assert reason.startswith(slashed(path) + ":") and "never templates" in reason
    assert template not in reason and "lookup" not in reason


def test_a_template_in_a_key_is_refused_without_echoing_the_key() -> None:
    body = {**BODIES["model.upsert"], "limits": {touching(MARKER): 1}}
    with pytest.raises(InvalidError) as caught:
        parse("1-0", entry("model.upsert", body))
    assert str(caught.value).startswith("a key of body/limits:")
    assert "lookup" not in str(caught.value)


@pytest.mark.parametrize(
    ("kind", "path", "value"),
    [
        ("model.upsert", ("name",), "llama\n"),
        ("model.upsert", ("name",), "llama\x00x"),
        ("model.upsert", ("upstream_model",), "llama 3"),
        ("model.upsert", ("api_base",), "http://vllm:8000/v1\n"),
        ("model.upsert", ("api_key_secret", "name"), "llama-creds\n"),
        ("model.upsert", ("api_key_secret", "key"), "token\n"),
        ("key.create", ("user_id",), "alice@example.com\n"),
        ("key.create", ("models", 0), "granite\x1b[2J"),
        ("key.create", ("duration",), "30d\n"),
        ("key.create", ("secret", "name"), "team-a-key\n"),
        ("key.rotate", ("alias",), "team-a\n"),
    ],
)
def test_real_names_are_admitted_and_a_newline_or_control_character_is_refused(
    kind: str, path: tuple[str | int, ...], value: str
) -> None:
    assert parse("1-0", entry(kind, BODIES[kind])).body == BODIES[kind]
    with pytest.raises(InvalidError, match=slashed(path)):
        parse("1-0", entry(kind, replaced(kind, path, value)))


@pytest.mark.parametrize("field", ["id", "instance"])
def test_an_envelope_field_with_a_trailing_newline_is_refused(field: str) -> None:
    with pytest.raises(InvalidError, match=field):
        parse("1-0", entry("key.rotate", {"alias": "a"}, **{field: "demo\n"}))


def test_agnosticd_boilerplate_is_not_an_order_var() -> None:
    catalogue = from_argument_specs(REPO / "roles/ocp4_workload_litemaas/meta/argument_specs.yml")
    assert not {"become_override", "ocp_username", "silent"} & set(catalogue.allowed)
    assert all(name.startswith("ocp4_workload_litemaas_") for name in catalogue.allowed)


def _scalars(node: yaml.Node) -> list[yaml.ScalarNode]:
    if isinstance(node, yaml.ScalarNode):
        return [node]
    children = node.value if isinstance(node, yaml.SequenceNode) else []
    if isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    return [s for child in children for s in _scalars(child)]


def test_every_string_of_the_extravars_file_is_unsafe_at_any_depth_keys_included() -> None:
    values = {
        "ACTION": "provision",
        "ocp4_workload_litemaas_admin_emails": ["a@example.com", touching(MARKER), 7, None],
        "litellm_models_model": {touching(MARKER): {"deeper": ["{%x%}", True, 1.5]}},
    }
    text = extravars.dump(values)
    scalars = _scalars(yaml.compose(text))
    strings = [s.value for s in scalars if s.tag == extravars.TAG]
    assert sorted(strings) == sorted(
        ["ACTION", "provision", "ocp4_workload_litemaas_admin_emails", "a@example.com",
         touching(MARKER), "litellm_models_model", touching(MARKER), "deeper", "{%x%}"]
    )  # fmt: skip
    others = [s.value for s in scalars if s.tag != extravars.TAG]
    assert sorted(others) == sorted(["7", "null", "true", "1.5"])
