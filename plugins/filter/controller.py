# Copyright: litemaas-controller developers
# MIT License
"""The controller's manifests (deploy/controller/) for one cluster: role litemaas_controller."""

import copy
import hashlib
import json

from ansible.errors import AnsibleFilterError

#: the exposure each kind of cluster gets: a Route on OpenShift, an Ingress elsewhere
_EXPOSURES = {"route": "Route", "ingress": "Ingress"}
#: the SQLite ledger's volume (pvc.yaml); a PostgreSQL ledger leaves it alone, it may hold data
_STATE_CLAIM = "litemaas-controller-state"
#: where a PostgreSQL ledger's password file is mounted in the controller's pod
PASSWORD_DIR = "/var/run/secrets/litemaas-controller/ledger"  # noqa: S105 (a path)
#: the sclorg images keep their data here and choose PGDATA themselves
_SCLORG_DATA = "/var/lib/pgsql/data"


def _checksum(data):
    canonical = json.dumps(data or {}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _ledger(options):
    return options.get("ledger") or {"kind": "sqlite", "replicas": 1}


def _is_beside_postgresql(obj):
    return obj["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "ledger"


def _wanted(obj, options):
    kind, ledger = obj["kind"], _ledger(options)
    if kind in _EXPOSURES.values():
        return kind == _EXPOSURES[options["exposure"]]
    if kind == "ServiceMonitor":
        return bool(options.get("service_monitor"))
    if kind == "PodDisruptionBudget":
        return ledger["replicas"] > 1
    if _is_beside_postgresql(obj):
        return ledger["kind"] == "postgresql_beside"
    if kind == "PersistentVolumeClaim" and obj["metadata"]["name"] == _STATE_CLAIM:
        return ledger["kind"] == "sqlite"
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
    if _is_beside_postgresql(obj):
        _beside_postgresql(obj, options)
    elif kind == "ConfigMap":
        obj["data"] = {**obj.get("data", {}), **{k: str(v) for k, v in options["settings"].items()}}
        obj["data"].update(_ledger_settings(_ledger(options)))
    elif kind == "PersistentVolumeClaim":
        _claim(spec, options["storage_size"], options.get("storage_class"))
    elif kind == "Deployment":
        _deployment(spec, options, checksums)
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


def _claim(spec, size, storage_class):
    spec["resources"]["requests"]["storage"] = size
    if storage_class:
        spec["storageClassName"] = storage_class


def _deployment(spec, options, checksums):
    ledger, pod = _ledger(options), spec["template"]
    container = pod["spec"]["containers"][0]
    container["image"] = options["image"]
    pod["metadata"].setdefault("annotations", {}).update(checksums)
    if options.get("fs_group"):
        pod["spec"].setdefault("securityContext", {})["fsGroup"] = int(options["fs_group"])
    spec["replicas"] = ledger["replicas"]
    if ledger["kind"] == "sqlite":
        return  # Recreate, on the volume
    # no shared volume: a new pod starts before an old one stops, one at a time
    spec["strategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
    }
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    # the runs' private directories only: they are not kept across a pod's restart anyway
    volumes["state"].pop("persistentVolumeClaim", None)
    volumes["state"]["emptyDir"] = {}
    pod["spec"]["volumes"].append(
        {
            "name": "ledger-password",
            "secret": {
                "secretName": ledger["password_secret"],
                "items": [{"key": ledger["password_key"], "path": "password"}],
                "defaultMode": 0o440,
            },
        }
    )
    container["volumeMounts"].append(
        {"name": "ledger-password", "mountPath": PASSWORD_DIR, "readOnly": True}
    )


def _ledger_settings(ledger):
    if ledger["kind"] == "sqlite":
        return {}
    return {
        "LITEMAAS_LEDGER_URL": ledger["url"],
        "LITEMAAS_LEDGER_PASSWORD_FILE": f"{PASSWORD_DIR}/password",
    }


def _beside_postgresql(obj, options):
    kind, spec = obj["kind"], obj.get("spec", {})
    if kind == "PersistentVolumeClaim":
        _claim(spec, options["postgresql_storage_size"], options.get("postgresql_storage_class"))
    elif kind == "StatefulSet":
        ledger = _ledger(options)
        container = spec["template"]["spec"]["containers"][0]
        container["image"] = ledger["image"]
        if ledger["layout"] == "sclorg":
            container["env"] = [e for e in container["env"] if e["name"] != "PGDATA"]
            container["volumeMounts"][0]["mountPath"] = _SCLORG_DATA


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
    pod's fsGroup where ``options.fs_group`` is given: plain Kubernetes). ``options.ledger`` (the
    controller_ledger filter's answer) decides the replicas, the PodDisruptionBudget (several
    replicas), the ledger's settings and password file, the SQLite volume or an emptyDir, and the
    beside-PostgreSQL (first in the list). The pod template carries checksums of the ConfigMap and
    of ``options.secret_data``, so the pod rolls when (and only when) its settings change."""
    objects = [copy.deepcopy(d) for d in documents if d and _wanted(d, options)]
    # the beside-PostgreSQL is ready before the controller's pods start (the install waits in order)
    objects.sort(key=lambda o: not _is_beside_postgresql(o))
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


def controller_unwanted(documents, options):
    """The objects of ``documents`` this configuration must not have, placed in
    ``options.namespace``: the PodDisruptionBudget at one replica (a replica count brought back to
    1 removes it). Neither volume is ever among them (a ledger's data stays), nor the
    beside-PostgreSQL (it keeps running when the ledger moves elsewhere)."""
    unwanted = []
    for document in documents:
        if (
            document
            and document["kind"] == "PodDisruptionBudget"
            and not _wanted(document, options)
        ):
            obj = copy.deepcopy(document)
            _place(obj, options["namespace"])
            obj["apiVersion"] = options["pdb_api_version"]
            unwanted.append(obj)
    return unwanted


class FilterModule:
    def filters(self):
        return {
            "controller_objects": controller_objects,
            "controller_unwanted": controller_unwanted,
        }
