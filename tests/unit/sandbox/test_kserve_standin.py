"""The sandbox's stand-in for KServe's controller: what it creates for an InferenceService and the
status it writes, as KServe v1beta1 documents them (RawDeployment, cluster-local)."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox.agent import kserve

pytestmark = pytest.mark.unit

ENV = [{"name": "FAKE_UPSTREAM_API_KEY", "valueFrom": {"secretKeyRef": {"name": "k", "key": "t"}}}]


def isvc(fmt: str = "vLLM") -> dict[str, Any]:
    return {
        "metadata": {"name": "granite", "namespace": "models", "uid": "u-1", "generation": 2},
        "spec": {"predictor": {"model": {"modelFormat": {"name": fmt}, "env": ENV}}},
    }


def conditions(status: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {c["type"]: (c["status"], c.get("reason")) for c in status["conditions"]}


def test_a_vllm_predictor_gets_the_cluster_local_url_and_is_ready_once_available() -> None:
    url = "http://granite-predictor.models.svc.cluster.local"
    waiting = kserve.status_of(isvc(), available=False)
    assert waiting["url"] == url and waiting["address"] == {"url": url}
    assert conditions(waiting)["Ready"] == ("False", "PredictorNotReady")
    ready = kserve.status_of(isvc(), available=True)
    assert conditions(ready) == {
        "IngressReady": ("True", None),
        "PredictorReady": ("True", None),
        "Ready": ("True", None),
    }
    assert ready["components"]["predictor"]["address"]["url"] == url


def test_a_format_no_runtime_supports_is_never_ready_and_has_no_url() -> None:
    status = kserve.status_of(isvc("onnx"), available=True)
    assert "url" not in status and "address" not in status
    assert conditions(status)["Ready"] == ("False", "NoSupportingRuntime")


def test_the_predictor_is_owned_by_the_inference_service_and_keeps_its_env() -> None:
    objects = {obj["kind"]: obj for _, obj in kserve.predictor_objects(isvc())}
    deployment, service = objects["Deployment"], objects["Service"]
    for owned in (deployment, service):
        assert owned["metadata"]["name"] == "granite-predictor"
        [owner] = owned["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["uid"], owner["controller"]) == (
            "InferenceService",
            "u-1",
            True,
        )
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["env"] == ENV
    assert container["args"][-2:] == ["--model-id", "granite"]  # vLLM's --served-model-name
    assert service["spec"]["ports"][0]["port"] == 80
