"""The controller's own namespace: the setting, else (in a pod) its service account's mount."""

from __future__ import annotations

from pathlib import Path

import pytest

from litemaas_controller.config import in_cluster
from litemaas_controller.config.sources import load_settings

IN_A_POD = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}


@pytest.fixture
def mount(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A service-account mount as the kubelet makes it, at a place the test owns."""
    (tmp_path / "namespace").write_text("litemaas-system")
    monkeypatch.setattr(in_cluster, "SERVICE_ACCOUNT_DIR", tmp_path)
    return tmp_path


def _namespace(env: dict[str, str]) -> str | None:
    return load_settings(environ={"LITEMAAS_API_TOKEN": "t" * 32, **env}).namespace


def test_in_a_pod_the_namespace_is_the_pods_own(mount: Path) -> None:
    assert _namespace(IN_A_POD) == "litemaas-system"


def test_the_downward_api_variable_wins_over_the_mount(mount: Path) -> None:
    env = {**IN_A_POD, "LITEMAAS_NAMESPACE": "from-downward-api"}
    assert _namespace(env) == "from-downward-api"


def test_outside_a_cluster_only_the_setting_counts(mount: Path) -> None:
    assert _namespace({}) is None
    assert _namespace({"LITEMAAS_NAMESPACE": "mine"}) == "mine"


def test_a_pod_without_the_mount_has_no_namespace(tmp_path: Path) -> None:
    assert in_cluster.pod_namespace(IN_A_POD, tmp_path / "absent") is None
