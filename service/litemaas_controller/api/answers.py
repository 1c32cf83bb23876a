"""The JSON schemas of the answers (``components.schemas`` of the OpenAPI document).

``api/views.py`` makes these shapes from the ledger's records; a unit test holds each schema's
properties to its record's fields, and the schemathesis run in the suite holds real answers to
the schemas.
"""

from __future__ import annotations

from typing import Any

from litemaas_controller.healing.model import HealthStatus
from litemaas_controller.ledger import Action, InstanceStatus, OrderStatus, RunStatus

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
TEXT: Schema = {"type": ["string", "null"]}
NUMBER: Schema = {"type": "number"}
WHEN: Schema = {"type": ["number", "null"]}  # unix seconds, or not yet
INTEGER: Schema = {"type": "integer"}
MAYBE_INTEGER: Schema = {"type": ["integer", "null"]}
OBJECT: Schema = {"type": "object"}
MAYBE_OBJECT: Schema = {"type": ["object", "null"]}


def _enum(values: Any) -> Schema:
    return {"type": "string", "enum": [v.value for v in values]}


def _object(properties: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    """An object with these properties, all of them present except ``optional``."""
    required = [name for name in properties if name not in optional]
    return {"type": "object", "properties": properties, "required": required}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _links(*names: str) -> Schema:
    return _object(dict.fromkeys(names, STRING))


ORDER = _object({
    "id": STRING, "action": _enum(Action), "instance": STRING, "namespace": STRING,
    "vars": OBJECT, "status": _enum(OrderStatus), "source": STRING, "principal": STRING,
    "received_at": NUMBER, "updated_at": NUMBER, "message": TEXT, "results": MAYBE_OBJECT,
    "pruned_at": WHEN, "seq": INTEGER, "links": _links("self", "events"),
})  # fmt: skip
RUN = _object({
    "id": STRING, "order_id": STRING, "instance": STRING, "action": _enum(Action),
    "playbook": STRING, "vars": OBJECT, "status": _enum(RunStatus), "attempt": INTEGER,
    "created_at": NUMBER, "started_at": WHEN, "finished_at": WHEN, "rc": MAYBE_INTEGER,
    "reason": TEXT, "pid": MAYBE_INTEGER, "pid_start": MAYBE_INTEGER, "results": MAYBE_OBJECT,
    "seq": INTEGER, "owner": TEXT, "token": MAYBE_INTEGER, "lease_until": WHEN,
    "cancel_requested": {"type": "boolean"}, "links": _links("self", "events", "cancel"),
})  # fmt: skip
EVENT = _object({
    "seq": INTEGER, "at": NUMBER, "event": STRING, "task": TEXT, "host": TEXT, "status": TEXT,
    "stdout": STRING,
})  # fmt: skip
INSTANCE = _object({
    "name": STRING, "namespace": STRING, "status": _enum(InstanceStatus), "vars": OBJECT,
    "results": MAYBE_OBJECT, "last_order": TEXT, "updated_at": NUMBER,
    "links": _links("credentials"),
})  # fmt: skip
HEALTH = _object({
    "status": {"type": "string", "enum": [*(s.value for s in HealthStatus), "unknown"]},
    "reason": STRING, "since": WHEN,
})  # fmt: skip
TRANSITION = _object({"seq": INTEGER, "at": NUMBER, **HEALTH["properties"]})
AUDIT = _object({
    "seq": INTEGER, "at": NUMBER, "actor": STRING, "action": STRING, "subject": STRING,
    "source": STRING, "detail": OBJECT,
})  # fmt: skip
DEAD_LETTER = _object(
    {"seq": INTEGER, "entry": STRING, "message_id": TEXT, "kind": STRING, "at": NUMBER}
)
CREDENTIALS = _object({
    "instance": STRING, "namespace": STRING, "secret": STRING, "admin_url": TEXT,
    "api_url": TEXT, "username": STRING, "password": STRING,
})  # fmt: skip
#: one frame of a server-sent event stream, as a client parses it (its data: JSON of the record)
SSE_EVENT = _object(
    {"event": {"type": "string", "enum": ["run", "event", "order", "end", "health"]},
     "data": {"type": "string", "contentMediaType": "application/json"}, "id": STRING},
    optional=("id",),
)  # fmt: skip
PROBLEM = _object({"type": STRING, "title": STRING, "status": INTEGER, "detail": STRING})


def _page(item: Schema) -> Schema:
    """A page of a list: its items, and ``next`` when more may follow."""
    return _object({"items": {"type": "array", "items": item}, "next": STRING}, ("next",))


def _with(base: Schema, extra: dict[str, Schema], required: bool = True) -> Schema:
    """``base`` with more properties (present in every answer when ``required``)."""
    names = list(extra) if required else []
    return {**base, "properties": {**base["properties"], **extra},
            "required": [*base["required"], *names]}  # fmt: skip


READINESS = _object(
    {
        "status": STRING,
        "runs_in_flight": INTEGER,
        "redis": OBJECT,
        "leader": OBJECT,
        "ledger": STRING,
        "reason": STRING,
    },
    optional=("runs_in_flight", "redis", "leader", "ledger", "reason"),
)


def components(order_request: Schema) -> dict[str, Schema]:
    """Every schema the document names; ``order_request`` is the published order schema."""
    budget = {"repair_budget_left": INTEGER, "repairs": INTEGER}
    return {
        "OrderRequest": order_request,
        "Order": ORDER,
        "OrderWithRuns": _with(ORDER, {"runs": {"type": "array", "items": _ref("Run")}}),
        "OrderPage": _page(_ref("Order")),
        "OrderEventPage": _page(_with(EVENT, {"run": STRING})),
        "Run": RUN,
        "RunPage": _page(_ref("Run")),
        "EventPage": _page(EVENT),
        "Instance": INSTANCE,
        "InstanceWithHealth": _with(INSTANCE, {"health": _with(HEALTH, budget)}),
        "InstancePage": _page(_ref("Instance")),
        "TransitionPage": _page(TRANSITION),
        "AuditPage": _page(AUDIT),
        "DeadLetterPage": _page(DEAD_LETTER),
        "Credentials": CREDENTIALS,
        "Problem": PROBLEM,
        "SseEvent": SSE_EVENT,
        "Status": _object({"status": STRING}),
        "Readiness": READINESS,
        "Metrics": STRING,
        "JsonSchema": OBJECT,
    }
