"""Templates planted in outside input, shared by the unit and integration tests of issue 12.1.

``touching(marker)`` is a template that, if ever rendered, creates ``marker`` on the controller:
a test that finds the file absent has shown that nothing rendered it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def touching(marker: Path) -> str:
    """A template that creates ``marker`` when rendered; without spaces, so that on its own it
    breaks no rule of the schemas but the one against templates."""
    return "{{lookup('pipe','touch${IFS}" + str(marker) + "')}}"


#: one valid body per message type, with real names; every string in them is a field to try
BODIES: dict[str, dict[str, Any]] = {
    "model.upsert": {
        "name": "meta-llama/Llama-3-8B-Instruct",
        "api_base": "http://vllm.models.svc:8000/v1",
        "api_key_secret": {"name": "llama-creds", "key": "token"},
        "upstream_model": "granite-3-8b:latest",
        "mode": "chat",
        "provider": "hosted_vllm",
    },
    "model.delete": {"name": "granite-3-8b:latest"},
    "key.create": {
        "alias": "team-a",
        "user_id": "alice@example.com",
        "models": ["meta-llama/Llama-3-8B-Instruct"],
        "duration": "30d",
        "secret": {"name": "team-a-key"},
    },
    "key.rotate": {"alias": "team-a"},
    "key.delete": {"alias": "team-a"},
    "master_key.rotate": {},
    "admin_password.rotate": {},
}


def _string_paths(doc: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    if isinstance(doc, str):
        yield path
    elif isinstance(doc, dict):
        for key, value in doc.items():
            yield from _string_paths(value, (*path, key))
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from _string_paths(value, (*path, i))


def string_fields() -> list[tuple[str, tuple[str | int, ...]]]:
    """(message type, path in its body) of every string field of every message type.

    ``mode`` is an enum: a template there is refused by the schema like any other word.
    """
    return [
        (kind, path)
        for kind, body in BODIES.items()
        for path in _string_paths(body)
        if path != ("mode",)
    ]


def replaced(kind: str, path: tuple[str | int, ...], value: str) -> dict[str, Any]:
    """The valid body of ``kind`` with ``value`` at ``path``."""
    body = copy.deepcopy(BODIES[kind])
    here: Any = body
    for step in path[:-1]:
        here = here[step]
    here[path[-1]] = value
    return body


def planted(kind: str, path: tuple[str | int, ...], template: str) -> dict[str, Any]:
    """The valid body of ``kind`` with ``template`` appended to the string at ``path`` (so the
    value still starts as the field's rules want: ``http://...`` for a URL)."""
    valid: Any = BODIES[kind]
    for step in path:
        valid = valid[step]
    return replaced(kind, path, valid + template)


def slashed(path: tuple[str | int, ...]) -> str:
    return "/".join(["body", *map(str, path)])
