# Copyright: litemaas-controller developers
# MIT License
"""Why an instance is not ready, from its workloads, pods and events: role ocp4_workload_litemaas.

Everything read from the cluster (names, reasons, messages) is copied as text: nothing in it is
evaluated, and an object missing a field is described with ``?`` or a default instead of failing.
"""

#: how many of the latest Warning events the report lists
_EVENTS = 10


def _get(obj, *path, default=None):
    """``obj[path[0]][path[1]]…``, or ``default`` where a step is missing, null or not a mapping."""
    for key in path:
        if not isinstance(obj, dict) or obj.get(key) is None:
            return default
        obj = obj[key]
    return obj


def _count(value, default):
    """``value`` when it is a whole number, else ``default``: a malformed count compares safely."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _items(value):
    """``value`` when it is a list, else nothing: a malformed field lists no objects."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _workload(obj, kind):
    ready = _count(_get(obj, "status", "readyReplicas"), 0)
    wanted = _count(_get(obj, "spec", "replicas"), 1)
    observed = _get(obj, "status", "observedGeneration", default=0)
    if ready < wanted or observed != _get(obj, "metadata", "generation"):
        name = _get(obj, "metadata", "name", default="?")
        kind = _get(obj, "kind", default=kind)
        return f"{kind}/{name} not ready: {ready}/{wanted} replicas ready"
    return None


def _job(obj):
    if _get(obj, "status", "succeeded", default=0):
        return None
    name = _get(obj, "metadata", "name", default="?")
    return f"Job/{name} not complete: {_get(obj, 'status', 'failed', default=0)} failed attempts"


def _container(status):
    name = _get(status, "name", default="?")
    waiting = _get(status, "state", "waiting")
    terminated = _get(status, "state", "terminated")
    if waiting is not None:
        reason = _get(waiting, "reason", default="?")
        return f"{name} waiting: {reason} {_get(waiting, 'message', default='')}"
    if terminated is not None and _get(terminated, "exitCode", default=0) != 0:
        reason = _get(terminated, "reason", default="?")
        return f"{name} terminated: {reason} exit {terminated['exitCode']}"
    if not _get(status, "ready", default=False) and _get(status, "state", "running") is not None:
        return f"{name} running but not ready (readiness probe failing)"
    return None


def _condition(condition):
    if condition.get("status") == "True" or condition.get("reason") is None:
        return None
    kind = _get(condition, "type", default="?")
    return f"{kind}: {condition['reason']} {_get(condition, 'message', default='')}"


def _pod(pod):
    status = _get(pod, "status")
    status = status if isinstance(status, dict) else {}
    containers = _items(status.get("initContainerStatuses")) + _items(
        status.get("containerStatuses")
    )
    reasons = [_container(c) for c in containers]
    reasons += [_condition(c) for c in _items(status.get("conditions"))]
    reasons = [r for r in reasons if r is not None]
    if not reasons:
        return None
    name = _get(pod, "metadata", "name", default="?")
    return f"Pod {name} ({_get(status, 'phase', default='?')}): {'; '.join(reasons)}"


def _event(event):
    kind = _get(event, "involvedObject", "kind", default="?")
    name = _get(event, "involvedObject", "name", default="?")
    reason = _get(event, "reason", default="?")
    return f"Event {kind}/{name}: {reason} {_get(event, 'message', default='')}"


def _by_kind(results):
    """The ``resources`` of each k8s_info result of a loop over kinds, by the loop item's kind."""
    found = {}
    for result in _items(results):
        kind = _get(result, "item", "kind")
        if isinstance(kind, str):
            found[kind] = _items(result.get("resources"))
    return found


def readiness_report(results, namespace, failure="failed"):
    """One message: the instance is not ready (``failure`` says how waiting ended), then a line for
    each workload, Job and pod that is not ready and why, and the latest Warning events."""
    found = _by_kind(results)
    lines = [f"LiteMaaS in namespace {namespace} is not ready: {failure}"]
    for kind in ("StatefulSet", "Deployment"):
        lines += [_workload(obj, kind) for obj in found.get(kind, [])]
    lines += [_job(obj) for obj in found.get("Job", [])]
    lines += [_pod(obj) for obj in found.get("Pod", [])]
    warnings = [e for e in found.get("Event", []) if e.get("type") == "Warning"]
    warnings.sort(key=lambda e: str(_get(e, "metadata", "creationTimestamp", default="")))
    lines += [_event(e) for e in warnings[-_EVENTS:]]
    return "\n".join(str(line) for line in lines if line is not None)


class FilterModule:
    def filters(self):
        return {"readiness_report": readiness_report}
