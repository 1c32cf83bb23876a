# Copyright: litemaas-controller developers
# MIT License
"""The controller's manifests (deploy/controller/) for one cluster: role litemaas_controller."""

import copy
import hashlib
import json

from ansible.errors import AnsibleFilterError

#: the exposure each kind of cluster gets: a Route on OpenShift, an Ingress elsewhere
_EXPOSURES = {"route": "Route", "ingress": "Ingress"}


def _checksum(data):
    canonical = json.dumps(data or {}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _wanted(obj, options):
    kind = obj["kind"]
    if kind in _EXPOSURES.values():
        return kind == _EXPOSURES[options["exposure"]]
    if kind == "ServiceMonitor":
        return bool(options.get("service_monitor"))
    return True


def _place(obj, namespace):
    """Namespace, namespaced objects and binding subjects all go to ``namespace``."""
    meta = obj["metadata"]
    if obj["kind"] == "Namespace":
        meta["name"] = namespace
    elif "namespace" in meta:
        meta["namespace"] = namespace
    for subject in obj.get("subjects", []):
        if subject.get("kind") == "ServiceAccount":
            subject["namespace"] = namespace


def _configure(obj, options, checksums):
    kind, spec = obj["kind"], obj.get("spec", {})
    if kind == "ConfigMap":
        obj["data"] = {**obj.get("data", {}), **{k: str(v) for k, v in options["settings"].items()}}
    elif kind == "PersistentVolumeClaim":
        spec["resources"]["requests"]["storage"] = options["storage_size"]
        if options.get("storage_class"):
            spec["storageClassName"] = options["storage_class"]
    elif kind == "Deployment":
        pod = spec["template"]
        pod["spec"]["containers"][0]["image"] = options["image"]
        pod["metadata"].setdefault("annotations", {}).update(checksums)
        if options.get("fs_group"):
            pod["spec"].setdefault("securityContext", {})["fsGroup"] = int(options["fs_group"])
    elif kind == "PodDisruptionBudget":
        obj["apiVersion"] = options["pdb_api_version"]
    elif kind == "Route" and options.get("host"):
        spec["host"] = options["host"]
    elif kind == "Ingress":
        _ingress(spec, options)
    elif kind == "NetworkPolicy":
        peers = spec["ingress"][0]["from"]
        for name in options.get("network_from") or []:
            labels = {"kubernetes.io/metadata.name": name}
            peers.append({"namespaceSelector": {"matchLabels": labels}})


def _ingress(spec, options):
    if not options.get("host"):
        raise AnsibleFilterError(
            "controller_objects: an Ingress needs a host (litemaas_controller_host or "
            "litemaas_controller_cluster_domain)"
        )
    spec["rules"][0]["host"] = options["host"]
    spec["tls"][0]["hosts"] = [options["host"]]
    if options.get("ingress_class"):
        spec["ingressClassName"] = options["ingress_class"]


def controller_objects(documents, options):
    """The objects to apply, in order: ``documents`` (the manifests, optional ones included) kept
    for this cluster (``options.exposure``, ``options.service_monitor``), placed in
    ``options.namespace`` and configured (image, settings, volume, host, PDB API version, the
    pod's fsGroup where ``options.fs_group`` is given: plain Kubernetes). The
    pod template carries checksums of the ConfigMap and of ``options.secret_data``, so the pod
    rolls when (and only when) its settings change."""
    objects = [copy.deepcopy(d) for d in documents if d and _wanted(d, options)]
    config = next((o for o in objects if o["kind"] == "ConfigMap"), None)
    for obj in objects:
        _place(obj, options["namespace"])
        if obj["kind"] == "ConfigMap":
            _configure(obj, options, {})
    checksums = {
        "litemaas.rhpds.io/config-checksum": _checksum(config["data"] if config else {}),
        "litemaas.rhpds.io/secret-checksum": _checksum(options.get("secret_data")),
    }
    for obj in objects:
        if obj["kind"] != "ConfigMap":
            _configure(obj, options, checksums)
    return objects


class FilterModule:
    def filters(self):
        return {"controller_objects": controller_objects}
