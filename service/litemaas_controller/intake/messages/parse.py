"""A stream entry → a validated ``Message``, or the reason it is refused (never echoing a value).

Refusal reasons go to the dead-letter stream and the log, so they name fields and rules, never
what a field held: a producer that put a key where a Secret's name belongs must not see it
copied into a second stream.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema

from litemaas_controller.errors import InvalidError, MalformedError
from litemaas_controller.intake import jsonin
from litemaas_controller.intake.messages.schema import BODIES, ENVELOPE, SECRET_FIELDS, schema_id
from litemaas_controller.intake.templates import refuse_templates

_ENVELOPE = jsonschema.Draft202012Validator(ENVELOPE)
_BODIES = {t: jsonschema.Draft202012Validator(s) for t, s in BODIES.items()}
#: jsonschema keywords whose messages name only properties, never a value
_SAFE = frozenset({"required", "additionalProperties"})


@dataclass(frozen=True)
class Message:
    entry_id: str  # the stream's id of this entry
    id: str  # the producer's idempotency key
    type: str
    instance: str
    body: dict[str, Any]

    def canonical(self) -> str:
        """What two messages with one ``id`` are compared by (the body parsed, keys sorted)."""
        doc = {"id": self.id, "type": self.type, "instance": self.instance, "body": self.body}
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def decode(fields: Mapping[bytes, bytes]) -> dict[str, str]:
    """Field names and values as text; ``MalformedError`` for bytes that are not UTF-8."""
    try:
        return {k.decode(): v.decode() for k, v in fields.items()}
    except UnicodeDecodeError as exc:
        raise MalformedError("a field name or value is not UTF-8 text") from exc


def _where(error: jsonschema.ValidationError, root: str) -> str:
    return "/".join([root, *map(str, error.absolute_path)])


def _describe(error: jsonschema.ValidationError, root: str) -> str:
    if error.validator in _SAFE:
        return f"{_where(error, root)}: {error.message}"
    rule = json.dumps(error.validator_value, sort_keys=True)
    return f"{_where(error, root)}: must satisfy {error.validator} {rule}"


def _check(validator: jsonschema.Draft202012Validator, doc: Any, root: str, what: str) -> None:
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        raise InvalidError(f"{what}: " + "; ".join(_describe(e, root) for e in errors[:5]))


def _secret_paths(doc: Any, path: str = "body") -> Iterator[str]:
    if isinstance(doc, dict):
        for key, value in doc.items():
            here = f"{path}/{key}"
            if str(key).lower() in SECRET_FIELDS:
                yield here
            yield from _secret_paths(value, here)
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _secret_paths(value, f"{path}/{i}")


def parse_body(text: str) -> Any:
    return jsonin.loads(text, "body")


def secret_free(body: Any) -> bool:
    return next(_secret_paths(body), None) is None


def parse(entry_id: str, fields: Mapping[bytes, bytes]) -> Message:
    """The entry as a ``Message``; ``MalformedError``/``InvalidError`` say what to fix."""
    text = decode(fields)
    _check(_ENVELOPE, text, "(fields)", "the entry's fields do not match the message envelope")
    body = parse_body(text["body"])
    secrets = list(_secret_paths(body))
    if secrets:
        raise InvalidError(
            f"{', '.join(secrets)}: a body never carries a secret value; name a Kubernetes "
            "Secret in the instance's namespace instead (api_key_secret {name, key})"
        )
    refuse_templates(body, "body")
    kind = text["type"]
    _check(_BODIES[kind], body, "body", f"the body does not match {schema_id(kind)}")
    return Message(entry_id, text["id"], kind, text["instance"], body)
