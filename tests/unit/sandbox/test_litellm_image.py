"""The LiteLLM image contract of the real runtime: which references it takes, what it runs, and
that it adds only the runtime's own settings to a pod's environment."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from sandbox.litellm import runtime as litellm_runtime
from sandbox.real import images, litellm_image
from sandbox.real.environment import argv

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("ref", "known"),
    [
        ("ghcr.io/berriai/litellm-non_root:main-v1.74.7-stable", True),
        ("ghcr.io/berriai/litellm:main-latest", True),
        ("litellm/litellm:v1.81.0@sha256:" + "0" * 64, True),
        ("ghcr.io/berriai/litellm-database:main-stable", True),
        ("postgres:16", False),
        ("quay.io/rh-aiservices-bu/litemaas-backend:0.1.2", False),
    ],
)
def test_matches_litellm_repositories_only(ref: str, known: bool) -> None:
    assert litellm_image.matches(ref) is known


def test_the_image_runs_the_runtime_entrypoint_on_port_4000(tmp_path: Path) -> None:
    image = litellm_image.image(tmp_path / "litellm")
    program = argv({"name": "litellm"}, image.entrypoint, image.cmd, {})
    assert program[0] == str(tmp_path / "litellm" / "venv" / "bin" / "python")
    assert program[1] == str(litellm_image.LITELLM_DIR / "runtime.py")
    assert program[2:] == ["serve", "--host", litellm_image.HOST, "--port", "4000"]
    assert litellm_image.HOST == "0.0.0.0"  # noqa: S104 (every address of the pod's netns)
    # A container's args replace the CMD, as on a cluster.
    spec = {"name": "litellm", "args": ["--port", "8080"]}
    assert argv(spec, image.entrypoint, image.cmd, {})[-2:] == ["--port", "8080"]
    assert image.stop_signal == signal.SIGTERM


def test_only_the_runtimes_own_settings_override_the_pod(tmp_path: Path) -> None:
    home = tmp_path / "litellm"
    image = litellm_image.image(home)
    expected = {
        **litellm_runtime.prisma_tool_env(litellm_runtime.Runtime(home)),
        **litellm_runtime.OFFLINE_SETTINGS,
    }
    assert image.overrides == expected
    pod_keys = {"DATABASE_URL", "LITELLM_MASTER_KEY", "UI_USERNAME", "UI_PASSWORD"}
    assert not pod_keys & set(image.overrides)
    assert "STORE_MODEL_IN_DB" not in image.overrides
    assert str(home) in image.host_paths
    assert str(litellm_image.LITELLM_DIR) in image.host_paths


def test_stays_simulated_until_the_runtime_is_installed(tmp_path: Path) -> None:
    image = litellm_image.image(tmp_path / "litellm")
    assert str(tmp_path / "litellm" / "installed") in image.requires
    assert not Path(image.requires[0]).exists()


def test_registered_in_the_real_runtime() -> None:
    found = images.find("ghcr.io/berriai/litellm-non_root:main-v1.74.7-stable")
    installed = litellm_runtime.Runtime(litellm_runtime.cache_root()).marker.is_file()
    assert (found is litellm_image.LITELLM) if installed else found is None
