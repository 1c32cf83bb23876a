"""A template from outside never runs on the controller (issue 12, group 1).

At the intake it is refused: an order answers 422, a message is dead-lettered, and nothing runs.
Below the intake (templates planted in an instance's recorded vars in the ledger, at every depth,
map keys too) it reaches the playbook as written, on the newest ansible-core (the venv's) and on
the oldest the collection supports (2.16, made by hack/setup.sh).  Every template here would
create a marker file if it were ever rendered; the marker staying absent is the proof.
"""

from __future__ import annotations

import json
import os
import shlex
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from litemaas_controller.runner import extravars
from templated import planted, slashed, string_fields, touching
from waiting import wait_for

from .msgkit import dead_letters, pending, provision, received, send
from .redisproc import RedisServer
from .servicekit import PROJECTS, ServiceFactory

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

CACHE = Path(os.environ.get("LITEMAAS_CACHE", Path.home() / ".cache" / "litemaas-controller"))
OLDEST = CACHE / "ansible-2.16" / "venv" / "bin"
LITERAL = PROJECTS / "literal" / "deploy_litemaas.yml"
PREFIX = "ocp4_workload_litemaas_"


def templated_vars(marker: Path) -> dict[str, Any]:
    """Templates at every depth a run's vars have: a string, list items, map values and keys."""
    return {
        "ACTION": "provision",
        "ocp4_workload_litemaas_version": touching(marker),
        "ocp4_workload_litemaas_admin_emails": [
            "alice@example.com",
            touching(marker),
            "{% for x in [1] %}{{ x }}{% endfor %}",
        ],
        "litellm_models_model": {
            "name": "{{ 7 * 7 }}",
            touching(marker): {"deeper": ["{# a comment #}", touching(marker)]},
        },
    }


def as_received(values: dict[str, Any]) -> dict[str, Any]:
    """What the literal fixture playbook writes when it got ``values`` untouched."""
    return {
        "ACTION": values["ACTION"],
        "version": values.get("ocp4_workload_litemaas_version"),
        "admin_emails": values.get("ocp4_workload_litemaas_admin_emails", []),
        "model": values.get("litellm_models_model", {}),
    }


async def test_a_template_in_an_order_is_refused_and_nothing_runs(
    make_service: ServiceFactory, tmp_path: Path
) -> None:
    svc = await make_service("literal")
    marker = tmp_path / "marker"
    version, emails = (f"vars/{PREFIX}{name}" for name in ("version", "admin_emails"))
    cases: list[tuple[dict[str, Any], str]] = [
        ({f"{PREFIX}version": touching(marker)}, version),
        ({f"{PREFIX}admin_emails": ["a@example.com", touching(marker)]}, emails + "/1"),
        ({f"{PREFIX}version": "{% if true %}1{% endif %}"}, version),
        ({f"{PREFIX}version": "0.2.0{# c #}"}, version),
    ]
    before = svc.ledger()
    for i, (given, path) in enumerate(cases):
        order = {"id": f"t-{i}", "action": "provision", "instance": "demo", "vars": given}
        # the braces JSON-escaped, as a sender hiding them from a text filter would write them
        body = json.dumps(order).replace("{{", "\\u007b\\u007b").encode()
        response = await svc.post_order(body)
        assert response.status == 422, await response.text()
        problem = await response.json()
        assert path + ":" in problem["detail"] and "never templates" in problem["detail"]
        assert problem["fields"] == [path] and "lookup" not in problem["detail"]
    assert svc.ledger() == before
    assert received(svc.evidence.path) == []
    assert not marker.exists()


@pytest.mark.parametrize(
    ("order", "fragment"),
    [
        ({"id": "ord-1\n"}, "id"),
        ({"instance": "demo\n"}, "instance"),
        ({"namespace": "litemaas-demo\n"}, "namespace"),
    ],
)
async def test_an_id_or_name_with_a_trailing_newline_is_refused(
    make_service: ServiceFactory, order: dict[str, Any], fragment: str
) -> None:
    svc = await make_service("literal")
    before = svc.ledger()
    base = {"id": "ord-1", "action": "provision", "instance": "demo"}
    response = await svc.post_order({**base, **order})
    assert response.status == 422, await response.text()
    assert fragment in (await response.json())["detail"]
    assert svc.ledger() == before


async def test_templates_in_recorded_vars_reach_an_update_as_written(
    make_service: ServiceFactory, tmp_path: Path
) -> None:
    svc = await make_service("literal")
    marker = tmp_path / "marker"
    await provision(svc, "demo")
    values = templated_vars(marker)
    # vars recorded before the intake refused templates: planted in the ledger directly
    recorded = {k: v for k, v in values.items() if k != "ACTION"}
    db = sqlite3.connect(svc.settings.ledger_path)
    with db:
        db.execute("UPDATE instances SET vars=? WHERE name='demo'", (json.dumps(recorded),))
    db.close()
    update = {"id": "u-1", "action": "update", "instance": "demo"}
    assert (await svc.post_order(update)).status == 202
    assert (await svc.finished("u-1"))["status"] == "succeeded"
    assert received(svc.evidence.path) == [as_received(values)]
    assert not marker.exists()


async def test_a_template_in_any_string_field_of_a_message_is_dead_lettered_and_runs_nothing(
    redis_server: RedisServer, make_service: ServiceFactory, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    r = redis_server.client()
    settings = {"redis_url": redis_server.url, "redis_consumer": "test", "redis_claim_idle": 1.0}
    svc = await make_service("messages", **settings)
    await provision(svc, "demo")
    before = svc.ledger()
    fields = string_fields()
    for i, (kind, path) in enumerate(fields):
        send(r, f"t-{i}", kind, "demo", planted(kind, path, touching(marker)))
    await wait_for(lambda: len(dead_letters(r)) == len(fields), what="every dead letter")
    await wait_for(lambda: pending(r) == 0, what="every entry acked")
    for (_, path), letter in zip(fields, dead_letters(r), strict=True):
        assert letter["kind"] == "invalid", letter
        assert letter["reason"].startswith(slashed(path) + ":"), letter
        assert "lookup" not in json.dumps(letter)
    after = svc.ledger()
    # no order, no run: the ledger gained only the marks of the dead-lettered entries
    assert len(after.pop("dead_letters")) == len(fields) and not before.pop("dead_letters")
    assert after == before
    assert received(svc.evidence.path) == []  # neither register_model nor rotate_keys ran
    assert not marker.exists()


def test_the_same_extravars_file_stays_data_on_the_oldest_ansible_core(tmp_path: Path) -> None:
    assert (OLDEST / "ansible-playbook").exists(), f"{OLDEST} is missing: run hack/setup.sh"
    version = subprocess.run(
        [OLDEST / "ansible", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert "core 2.16." in version
    marker, evidence = tmp_path / "marker", tmp_path / "evidence.log"
    values = templated_vars(marker)
    option = extravars.write(tmp_path / "extravars.yml", values)
    inventory = tmp_path / "inventory"
    inventory.write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={OLDEST / 'python'}\n"
    )
    env = {**os.environ, "PATH": f"{OLDEST}:/usr/bin:/bin", "LITEMAAS_TEST_EVIDENCE": str(evidence)}
    done = subprocess.run(
        [OLDEST / "ansible-playbook", "-i", inventory, LITERAL, *shlex.split(option)],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert received(evidence) == [as_received(values)]
    assert not marker.exists()
