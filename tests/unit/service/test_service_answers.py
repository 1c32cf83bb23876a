"""The answers' schemas (api/answers.py) hold every field the views make from the records, and
only those: a field added to a record without its schema fails here."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from litemaas_controller.api import answers, instance_health, views
from litemaas_controller.ledger import (
    Action,
    AuditRecord,
    DeadLetterRecord,
    EventRecord,
    HealthRecord,
    InstanceRecord,
    InstanceStatus,
    OrderRecord,
    OrderStatus,
    RunRecord,
    RunStatus,
)

pytestmark = pytest.mark.unit

ORDER = OrderRecord("o-1", Action.PROVISION, "demo", "litemaas-demo", {"a": 1},
                    OrderStatus.SUCCEEDED, "http:x", "hmac", 1.0, 2.0, "{}", seq=3)  # fmt: skip
RUN = RunRecord("run-1", "o-1", "demo", Action.PROVISION, "deploy.yml", {}, RunStatus.RUNNING, 1,
                1.0, started_at=1.5, pid=7)  # fmt: skip
EVENT = EventRecord("run-1", 4, 1.0, "runner_on_ok", "Deploy", "localhost", "ok", "done")
INSTANCE = InstanceRecord("demo", "litemaas-demo", InstanceStatus.READY, {}, None, "o-1", 2.0)
HEALTH = HealthRecord(5, "demo", "healthy", "all ready", 1.0, 2.0)
DEAD = DeadLetterRecord(7, "litemaas:changes/1-0", "m-1", "malformed", 1.0)
AUDIT = AuditRecord(6, 1.0, "bearer", "credentials.read", "demo", "http:x", {"secret": "s"})


@pytest.mark.parametrize(
    ("schema", "answer"),
    [
        (answers.ORDER, views.order(ORDER)),
        (answers.RUN, views.run(RUN)),
        (answers.EVENT, views.event(EVENT)),
        (answers.INSTANCE, views.instance(INSTANCE)),
        (answers.TRANSITION, instance_health.transition(HEALTH)),
        (answers.AUDIT, dataclasses.asdict(AUDIT)),
        (answers.DEAD_LETTER, views.dead_letter(DEAD)),
    ],
    ids=["order", "run", "event", "instance", "transition", "audit", "dead-letter"],
)
def test_each_schema_names_exactly_the_fields_of_its_answer(
    schema: dict[str, Any], answer: dict[str, Any]
) -> None:
    assert set(schema["properties"]) == set(answer)
    jsonschema.validate(answer, schema)


def test_an_answer_that_lacks_a_field_or_has_the_wrong_type_is_refused() -> None:
    answer = views.run(RUN)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({k: v for k, v in answer.items() if k != "status"}, answers.RUN)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**answer, "attempt": "1"}, answers.RUN)


def test_every_reference_names_a_component() -> None:
    components = answers.components({"type": "object"})
    text = repr(components)
    names = {part.split("'")[0] for part in text.split("#/components/schemas/")[1:]}
    assert names and names <= set(components)


def test_handlers_read_query_parameters_only_through_their_contract() -> None:
    """``api/query.py`` checks each name against the handler's contract; nothing goes around it."""
    api = Path(answers.__file__).parent
    around = [
        f"{path.name}:{n}"
        for path in sorted(api.glob("*.py"))
        if path.name not in ("query.py", "contract.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "request.query" in line or "rel_url.query" in line
    ]
    assert around == []
