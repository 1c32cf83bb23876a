"""Template markers in outside data: a value holding ``{{``, ``{%`` or ``{#`` is refused.

Orders and messages reach Ansible as unsafe data (``runner.extravars``), so a template in them
would never be rendered; refusing it at the door as well tells the sender at once that a value
is data, and keeps such values out of the ledger.  Paths name the field (``vars/name/0``), never
its value: a key that holds a marker is named by the map it is in.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from litemaas_controller.errors import InvalidError

#: what starts a Jinja expression, statement or comment
MARKERS = ("{{", "{%", "{#")


def has_marker(text: str) -> bool:
    return any(marker in text for marker in MARKERS)


def marked_paths(doc: Any, root: str) -> Iterator[str]:
    """The paths of every string in ``doc`` (values and keys, at any depth) that has a marker.

    Walked with a stack of its own, not by recursion: nesting is bounded elsewhere, and this
    check must not be the one that fails on it.
    """
    todo: list[tuple[str, Any]] = [(root, doc)]
    while todo:
        path, value = todo.pop()
        if isinstance(value, str):
            if has_marker(value):
                yield path
        elif isinstance(value, dict):
            marked = {k for k in value if has_marker(str(k))}
            if marked:
                yield f"a key of {path or 'the body'}"
            todo.extend((_join(path, k), v) for k, v in reversed(value.items()) if k not in marked)
        elif isinstance(value, list):
            todo.extend((_join(path, i), v) for i, v in reversed(list(enumerate(value))))


def _join(path: str, part: object) -> str:
    return f"{path}/{part}" if path else str(part)


def refuse_templates(doc: Any, path: str) -> None:
    """``InvalidError`` naming every field of ``doc`` that holds a template marker."""
    found = list(marked_paths(doc, path))
    if found:
        raise InvalidError(
            f"{', '.join(found)}: values are data, never templates; a value may not contain "
            + ", ".join(MARKERS),
            details={"fields": found},
        )
