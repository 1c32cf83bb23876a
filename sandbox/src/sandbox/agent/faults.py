"""Injected faults: an annotation on a pod or on the workload that owns it, set and cleared live.

kubectl annotate deployment/litellm sandbox.litemaas.io/fault=crashloop
kubectl annotate deployment/litellm sandbox.litemaas.io/fault-
"""

from __future__ import annotations

from collections.abc import Callable

from .kube import Obj

ANNOTATION = "sandbox.litemaas.io/fault"

Lookup = Callable[[str, str, str], Obj | None]  # (kind, namespace, name) -> object from a cache


def owner_chain(pod: Obj, lookup: Lookup) -> list[Obj]:
    """The pod, then its controller, then that one's controller (ReplicaSet -> Deployment)."""
    chain, obj = [pod], pod
    for _ in range(3):
        ref = next(
            (r for r in obj["metadata"].get("ownerReferences", []) if r.get("controller")), None
        )
        if ref is None:
            break
        owner = lookup(ref["kind"], obj["metadata"].get("namespace", ""), ref["name"])
        if owner is None:
            break
        chain.append(owner)
        obj = owner
    return chain


def fault_of(pod: Obj, lookup: Lookup) -> tuple[str | None, Obj | None]:
    """The fault in force for a pod and the object that carries it (nearest wins).

    A Deployment's ReplicaSets are skipped: the deployment controller copies the Deployment's
    annotations onto them and never removes one, so a cleared fault would linger there."""
    for obj in owner_chain(pod, lookup):
        if obj.get("kind") == "ReplicaSet" and obj["metadata"].get("ownerReferences"):
            continue
        value = (obj["metadata"].get("annotations") or {}).get(ANNOTATION)
        if value:
            return value, obj
    return None, None
