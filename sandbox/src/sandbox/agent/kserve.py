"""A stand-in for KServe's controller in RawDeployment mode (the mode OpenShift AI uses for
single-model serving without Serverless), for InferenceServices of ``serving.kserve.io/v1beta1``.

For an InferenceService whose predictor's ``modelFormat`` is vLLM it creates what KServe creates
-- a Deployment and a Service ``<name>-predictor`` owned by the InferenceService -- and fills the
status as KServe documents it: ``url`` and ``address.url`` (the cluster-local address
``http://<name>-predictor.<namespace>.svc.cluster.local``, as for a model that is not exposed
outside the cluster), ``components.predictor`` and the conditions ``PredictorReady``,
``IngressReady`` and ``Ready`` (True once the predictor has an available replica).

The model server is not vLLM but the fake OpenAI-compatible upstream (sandbox/fakes/upstream.py),
serving the model id ``<name>`` (OpenShift AI's vLLM runtime passes
``--served-model-name={{.Name}}``) on port 80. It needs its bearer key: the predictor's
``model.env`` reaches the container as KServe passes it, so an InferenceService of the sandbox
sets ``FAKE_UPSTREAM_API_KEY`` there (from a Secret), standing in for the token authentication
OpenShift AI puts in front of a model. The Service maps port 80 to port 80, because pods reach a
Service here through its ready endpoints (no kube-proxy to remap a port; real KServe listens on
8080 behind port 80). A format other than vLLM never becomes Ready: reason
``NoSupportingRuntime``, as KServe reports when no ServingRuntime supports a format.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from .kube import Kube, Obj
from .runtime import stamp

GROUP_PATH = "/apis/serving.kserve.io/v1beta1"
PATH = f"{GROUP_PATH}/inferenceservices"
SERVER = Path(__file__).resolve().parents[1] / "fakes" / "upstream.py"
CODE = "kserve-sandbox-model-server"  # the ConfigMap with the model server's code
LABEL = "serving.kserve.io/inferenceservice"
PORT = 80
FORMATS = {"vllm"}


def _owner(isvc: Obj) -> list[Obj]:
    meta = isvc["metadata"]
    return [
        {"apiVersion": "serving.kserve.io/v1beta1", "kind": "InferenceService",
         "name": meta["name"], "uid": meta["uid"], "controller": True,
         "blockOwnerDeletion": True}
    ]  # fmt: skip


def predictor_objects(isvc: Obj) -> list[tuple[str, Obj]]:
    """(collection path, object) of the predictor: its code, Deployment and Service."""
    meta, model = isvc["metadata"], isvc["spec"]["predictor"].get("model") or {}
    ns, name = meta["namespace"], f"{meta['name']}-predictor"
    labels = {LABEL: meta["name"], "app": f"isvc.{name}"}
    container = {
        "name": "kserve-container",
        "image": "python:3.11-slim",
        "command": ["python3", "/opt/fake/upstream.py", "--host", "0.0.0.0"],  # noqa: S104
        "args": ["--port", str(PORT), "--model-id", meta["name"]],
        "env": list(model.get("env") or []),
        "ports": [{"name": "http", "containerPort": PORT}],
        "readinessProbe": {"tcpSocket": {"port": PORT}, "periodSeconds": 1},
        "volumeMounts": [{"name": "code", "mountPath": "/opt/fake"}],
    }
    owned = {"name": name, "labels": labels, "ownerReferences": _owner(isvc)}
    return [
        (f"/api/v1/namespaces/{ns}/configmaps",
         {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CODE},
          "data": {"upstream.py": SERVER.read_text()}}),
        (f"/apis/apps/v1/namespaces/{ns}/deployments",
         {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": owned,
          "spec": {"selector": {"matchLabels": labels},
                   "template": {"metadata": {"labels": labels},
                                "spec": {"containers": [container],
                                         "volumes": [{"name": "code",
                                                      "configMap": {"name": CODE}}]}}}}),
        (f"/api/v1/namespaces/{ns}/services",
         {"apiVersion": "v1", "kind": "Service", "metadata": owned,
          "spec": {"selector": labels,
                   "ports": [{"name": "http", "port": PORT, "targetPort": PORT}]}}),
    ]  # fmt: skip


def _conditions(ready: bool, reason: str | None) -> list[Obj]:
    found = []
    for kind in ("IngressReady", "PredictorReady", "Ready"):
        ok = ready or kind == "IngressReady"
        condition: Obj = {"type": kind, "status": "True" if ok else "False"}
        if not ok and reason:
            condition["reason"] = reason
        found.append(condition)
    return found


def status_of(isvc: Obj, available: bool) -> Obj:
    meta = isvc["metadata"]
    model = isvc["spec"]["predictor"].get("model") or {}
    fmt = str((model.get("modelFormat") or {}).get("name", "")).lower()
    if fmt not in FORMATS:
        return {"conditions": _conditions(False, "NoSupportingRuntime")}
    url = f"http://{meta['name']}-predictor.{meta['namespace']}.svc.cluster.local"
    return {
        "url": url,
        "address": {"url": url},
        "components": {"predictor": {"url": url, "address": {"url": url}}},
        "conditions": _conditions(available, None if available else "PredictorNotReady"),
        "observedGeneration": meta.get("generation"),
    }


def _same(current: Obj, wanted: Obj) -> bool:
    def plain(status: Obj) -> Obj:
        conditions = [{k: c.get(k) for k in ("type", "status", "reason")}
                      for c in status.get("conditions") or []]  # fmt: skip
        return {**status, "conditions": conditions}

    return plain(current) == plain(wanted)


class KServe:
    """Reconciles InferenceServices; ``deployment`` tells it when a predictor changed."""

    def __init__(
        self, kube: Kube, get: Callable[[str], Obj | None], enqueue: Callable[[str], None]
    ) -> None:
        self.kube, self.get, self.enqueue = kube, get, enqueue

    def reconcile(self, key: str) -> None:
        isvc = self.get(key)
        if isvc is None or isvc["metadata"].get("deletionTimestamp"):
            return  # the garbage collector removes what it owned
        meta = isvc["metadata"]
        wanted = status_of(isvc, available=False)
        if "url" in wanted:
            for path, obj in predictor_objects(isvc):
                self.kube.create(path, obj)
            deployment = self.kube.get(
                f"/apis/apps/v1/namespaces/{meta['namespace']}/deployments/{meta['name']}-predictor"
            )
            available = ((deployment or {}).get("status") or {}).get("availableReplicas") or 0
            wanted = status_of(isvc, available=available > 0)
        if _same(isvc.get("status") or {}, wanted):
            return
        now = stamp(time.time())
        for condition in wanted["conditions"]:
            condition["lastTransitionTime"] = now
        self.kube.patch(f"{GROUP_PATH}/namespaces/{meta['namespace']}/inferenceservices/"
                        f"{meta['name']}/status", {"status": wanted})  # fmt: skip

    def deployment(self, deployment: Obj) -> None:
        """A predictor's Deployment changed: look at its InferenceService again."""
        meta = deployment["metadata"]
        name = (meta.get("labels") or {}).get(LABEL)
        if name and any(
            r.get("kind") == "InferenceService" for r in meta.get("ownerReferences") or []
        ):
            self.enqueue(f"{meta['namespace']}/{name}")
