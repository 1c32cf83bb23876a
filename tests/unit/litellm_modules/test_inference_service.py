"""A model named by its KServe InferenceService: the URL comes from its status (KServe v1beta1's
fields), only when it is Ready, only when the status holds a plain http(s) base URL, and the
reference's names are DNS-1123 labels. The status is cluster data: a bad value is refused, never
repeated."""

from __future__ import annotations

from typing import Any

import pytest
from ansible_collections.rhpds.litemaas.plugins.module_utils import litellm_failure
from ansible_collections.rhpds.litemaas.plugins.module_utils.litellm_inference_service import (
    InferenceServiceError,
    api_base,
    check_ref,
)

pytestmark = pytest.mark.unit

INTERNAL = "http://granite-predictor.models.svc.cluster.local"
EXTERNAL = "https://granite-models.apps.example.com"
WHERE = "InferenceService models/granite"


def isvc(ready: str = "True", reason: str | None = None, **status: Any) -> dict[str, Any]:
    condition = {"type": "Ready", "status": ready, **({"reason": reason} if reason else {})}
    found = {"url": EXTERNAL, "address": {"url": INTERNAL}, "conditions": [condition]}
    return {"status": {**found, **status}}


def test_the_cluster_address_and_the_published_url_give_the_openai_path() -> None:
    assert api_base(isvc(), WHERE, "cluster") == INTERNAL + "/v1"
    assert api_base(isvc(), WHERE, "external") == EXTERNAL + "/v1"
    assert api_base(isvc(url=EXTERNAL + "/"), WHERE, "external") == EXTERNAL + "/v1"


@pytest.mark.parametrize(
    "obj",
    [
        {},  # no status yet
        isvc(ready="False", reason="NoSupportingRuntime"),
        isvc(ready="Unknown"),
        isvc(conditions=[{"type": "PredictorReady", "status": "True"}]),
    ],
)
def test_an_inference_service_that_is_not_ready_is_a_permanent_failure(obj: dict) -> None:
    with pytest.raises(InferenceServiceError, match="is not Ready") as caught:
        api_base(obj, WHERE, "cluster")
    assert litellm_failure.failure_kind(caught.value) == litellm_failure.PERMANENT


def test_a_reason_is_repeated_only_when_it_is_a_plain_word() -> None:
    with pytest.raises(InferenceServiceError, match=r"\(reason NoSupportingRuntime\)"):
        api_base(isvc(ready="False", reason="NoSupportingRuntime"), WHERE, "cluster")
    with pytest.raises(InferenceServiceError) as caught:
        api_base(isvc(ready="False", reason="{{ lookup('env', 'HOME') }}"), WHERE, "cluster")
    assert "lookup" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "http://user:sk-canary-1@granite.models.svc",  # credentials in the URL
        "http://sk-canary-1@granite.models.svc",
        "ftp://granite.models.svc",
        "file:///etc/passwd",
        "http://",
        "http://granite.models.svc/v1?x=sk-canary-1",
        "http://granite.models.svc/other",
        "http://granite.models.svc#sk-canary-1",
        "http://granite.models.svc\n",
        "http://granite.models .svc",
        "http://granite.models.svc\\@evil.example",
        ["http://granite.models.svc"],
        None,
    ],
)
def test_a_status_url_that_is_not_a_plain_http_base_url_is_refused_unrepeated(url: Any) -> None:
    with pytest.raises(InferenceServiceError, match=r"no usable status\.address\.url") as caught:
        api_base(isvc(address={"url": url}), WHERE, "cluster")
    assert "sk-canary-1" not in str(caught.value) and "evil" not in str(caught.value)


@pytest.mark.parametrize(
    "ref",
    [
        {"name": "Granite", "namespace": "models"},
        {"name": "granite\n", "namespace": "models"},
        {"name": "granite", "namespace": "models/../kube-system"},
        {"name": "-granite", "namespace": "models"},
        {"name": "g" * 64, "namespace": "models"},
        {"name": "granite", "namespace": ""},
        {"name": "granite.8b", "namespace": "models"},
    ],
)
def test_names_that_are_not_dns_1123_labels_are_refused(ref: dict[str, str]) -> None:
    with pytest.raises(InferenceServiceError, match="DNS-1123 label"):
        check_ref(ref)


def test_valid_names_pass() -> None:
    check_ref({"name": "granite-8b", "namespace": "rhoai-models"})
    check_ref({"name": "g" * 63, "namespace": "a"})
