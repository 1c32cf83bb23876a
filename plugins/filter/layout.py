# Copyright: litemaas-controller developers
# MIT License
"""What an instance keeps from the objects it already has: role ocp4_workload_litemaas.

Hosts users and links already point at, and the immutable or data-bearing fields of the workloads
(selectors, container names, PostgreSQL's claim, mount path and PGDATA) stay as they are; a new
instance gets the role's own layout. Malformed objects are read as far as they go, never evaluated.
"""

#: the workloads whose selector and first container name an existing Deployment decides
_DEPLOYMENTS = ("litellm", "backend", "frontend")
_DATA = "/var/lib/postgresql/data"
_CLAIM = "postgres-storage"


def _get(obj, *path, default=None):
    """``obj[path[0]][path[1]]…`` (int steps index lists), or ``default`` where it is missing."""
    for key in path:
        if isinstance(key, int):
            found = obj[key] if isinstance(obj, list) and len(obj) > key else None
        else:
            found = obj.get(key) if isinstance(obj, dict) else None
        if found is None:
            return default
        obj = found
    return obj


def _list(value):
    return value if isinstance(value, list) else []


def _named(items, name):
    """The first mapping in ``items`` whose ``name`` is ``name``, or ``{}``."""
    found = [i for i in _list(items) if isinstance(i, dict) and i.get("name") == name]
    return found[0] if found else {}


def instance_hosts(exposures, openshift, namespace, domain, route_name=""):
    """``{'litellm': …, 'frontend': …}``: the hosts of the existing Routes (OpenShift) or Ingresses
    named litellm and litemaas, else the role's: ``litellm-<route_name or namespace>.<domain>``
    (none on OpenShift without a route name: the Route's host is generated) and
    ``litemaas-<route_name or namespace>.<domain>``."""
    hosts = {}
    for exposure in _list(exposures):
        name = _get(exposure, "metadata", "name")
        path = ("spec", "host") if openshift else ("spec", "rules", 0, "host")
        hosts[name] = _get(exposure, *path, default="")
    if route_name:
        litellm = f"litellm-{route_name}.{domain}"
    else:
        litellm = "" if openshift else f"litellm-{namespace}.{domain}"
    return {
        "litellm": hosts.get("litellm") or litellm,
        "frontend": hosts.get("litemaas") or f"litemaas-{route_name or namespace}.{domain}",
    }


def _postgres(statefulset):
    if not statefulset:
        return {
            "existing": False,
            "claim": _CLAIM,
            "service_name": "postgres",
            "mount_path": _DATA,
            "pgdata": f"{_DATA}/pgdata",
        }
    container = _get(statefulset, "spec", "template", "spec", "containers", 0, default={})
    claim = _get(statefulset, "spec", "volumeClaimTemplates", 0, "metadata", "name", default=_CLAIM)
    return {
        "existing": True,
        "claim": claim,
        "service_name": _get(statefulset, "spec", "serviceName", default="postgres"),
        "mount_path": _get(
            _named(_get(container, "volumeMounts"), claim), "mountPath", default=_DATA
        ),
        "pgdata": _get(_named(_get(container, "env"), "PGDATA"), "value", default=""),
    }


def kept_layout(deployments, statefulsets):
    """``{'selectors': …, 'containers': …, 'postgres': …}`` of the instance, from its existing
    Deployments and PostgreSQL StatefulSet (lists of API objects, either may be empty).

    ``selectors`` and ``containers`` map postgres, litellm, backend and frontend to their pod
    selector and first container's name; ``postgres`` says whether PostgreSQL exists and its claim
    template's name, service name, data mount path and PGDATA.
    """
    selectors = {name: {"app": name} for name in ("postgres", *_DEPLOYMENTS)}
    containers = {name: name for name in selectors}
    workloads = [d for d in _list(deployments) if _get(d, "metadata", "name") in _DEPLOYMENTS]
    statefulset = _get(_list(statefulsets), 0, default={})
    statefulset = statefulset if isinstance(statefulset, dict) else {}
    if statefulset:
        workloads.append({**statefulset, "metadata": {"name": "postgres"}})
    for workload in workloads:
        name = workload["metadata"]["name"]
        selectors[name] = _get(workload, "spec", "selector", "matchLabels", default=selectors[name])
        pod = ("spec", "template", "spec", "containers", 0, "name")
        containers[name] = _get(workload, *pod, default=containers[name])
    return {"selectors": selectors, "containers": containers, "postgres": _postgres(statefulset)}


class FilterModule:
    def filters(self):
        return {"instance_hosts": instance_hosts, "kept_layout": kept_layout}
