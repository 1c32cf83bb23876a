"""The watched objects, grouped by the instance label they carry and the namespace they live in.

Kept for every labelled object (an instance the ledger learns of later is judged without waiting
for a relist); only instances the ledger knows, in their recorded namespace, are ever judged.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from litemaas_controller.healing.assess import Objects

INSTANCE_LABEL = "litemaas.rhpds.io/instance"

Obj = Mapping[str, Any]
#: (namespace, instance label)
Owner = tuple[str, str]
#: (namespace, kind, name)
Key = tuple[str, str, str]


def _owner(obj: Obj) -> Owner | None:
    meta = obj.get("metadata") or {}
    instance = (meta.get("labels") or {}).get(INSTANCE_LABEL)
    return (str(meta.get("namespace", "")), str(instance)) if instance else None


class ObjectCache:
    def __init__(self) -> None:
        self._by_owner: dict[Owner, dict[tuple[str, str], Obj]] = defaultdict(dict)
        self._by_stream: dict[str, dict[Key, Owner]] = defaultdict(dict)

    def replace(self, stream: str, kind: str, items: Sequence[Obj]) -> set[Owner]:
        """A stream's full list: what it no longer lists is gone.  Return the owners touched."""
        gone = self._by_stream.pop(stream, {})
        for (_, k, name), owner in gone.items():
            self._by_owner[owner].pop((k, name), None)
        touched = set(gone.values())
        for obj in items:
            touched |= self.apply(stream, kind, "ADDED", obj)
        return touched

    def apply(self, stream: str, kind: str, event: str, obj: Obj) -> set[Owner]:
        """One watch event; return the owners it concerns (before and after a relabelling)."""
        meta = obj.get("metadata") or {}
        key = (str(meta.get("namespace", "")), kind, str(meta.get("name", "")))
        before = self._by_stream[stream].pop(key, None)
        if before is not None:
            self._by_owner[before].pop(key[1:], None)
        owner = _owner(obj)
        if owner is not None and event != "DELETED":
            self._by_owner[owner][key[1:]] = obj
            self._by_stream[stream][key] = owner
        return {o for o in (before, owner) if o is not None}

    def objects(self, namespace: str, instance: str) -> Objects:
        return dict(self._by_owner.get((namespace, instance), {}))

    def drop(self, stream: str) -> set[Owner]:
        """A stream that ends for good (a namespace no longer managed) takes its objects along."""
        return self.replace(stream, "", [])
