"""An order body → a validated document, or the reason it is refused; nothing else is touched.

The ledger-free half of the order intake: strict JSON, the variables an order may set, template
markers, the published schema.  ``OrderIntake`` and the EDA source ``rhpds.litemaas.order_webhook``
both judge orders with it, so both refuse the same bodies with the same words.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from litemaas_controller.errors import InvalidError, MalformedError
from litemaas_controller.intake import jsonin
from litemaas_controller.intake.schema import order_schema
from litemaas_controller.intake.templates import refuse_templates
from litemaas_controller.role.order_vars import DECIDED, OrderVars


def canonical(doc: Any) -> str:
    """Parsed JSON in one spelling: two bodies are the same order when these are equal."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _where(error: jsonschema.ValidationError) -> str:
    return "/".join(map(str, error.absolute_path)) or "(body)"


def parse(body: bytes) -> dict[str, Any]:
    doc = jsonin.loads(body)
    if not isinstance(doc, dict):
        raise MalformedError("the body must be a JSON object (an order)")
    return doc


class OrderCheck:
    """The order schema of one role's variables, and the checks every order body passes."""

    def __init__(self, order_vars: OrderVars) -> None:
        self._vars = order_vars
        self.schema = order_schema(order_vars)
        self._validator = jsonschema.Draft202012Validator(self.schema)

    def _check_vars(self, given: Any) -> None:
        if not isinstance(given, dict):
            return  # the schema reports the type
        names = set(map(str, given))
        secret = sorted(names & self._vars.secret)
        decided = sorted(names & DECIDED)
        unknown = sorted(names - set(self._vars.allowed) - self._vars.secret - DECIDED)
        problems = []
        if secret:
            problems.append(
                f"secret variables {secret} are refused: secrets travel by reference, in "
                "Kubernetes Secrets, never in an order"
            )
        if decided:
            problems.append(f"variables {decided} are decided by the order itself, not by vars")
        if unknown:
            problems.append(f"unknown variables {unknown}")
        if problems:
            raise InvalidError(
                "; ".join(problems) + ". Allowed vars are listed in 'allowed'.",
                details={
                    "refused": secret + decided + unknown,
                    "allowed": sorted(self._vars.allowed),
                },
            )

    def validate(self, doc: dict[str, Any]) -> None:
        self._check_vars(doc.get("vars", {}))
        refuse_templates(doc, "")
        errors = sorted(self._validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
        if errors:
            raise InvalidError(
                "the order does not match the schema at /api/v1/schemas/order.json: "
                + "; ".join(f"{_where(e)}: {e.message}" for e in errors[:5]),
                details={"errors": [{"path": _where(e), "message": e.message} for e in errors]},
            )

    def check(self, body: bytes) -> dict[str, Any]:
        """``body`` as a valid order document; ``MalformedError``/``InvalidError`` otherwise."""
        doc = parse(body)
        self.validate(doc)
        return doc
