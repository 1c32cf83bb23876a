"""A sandbox that runs known images for real (what tests need to look at its pods: podkit.py)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from integration.collection.playrun import REPO
from sandbox import Sandbox
from sandbox.real.images import BASE_PATH


@pytest.fixture(scope="session")
def sandbox_real(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """A sandbox started as `make sandbox-up REAL=1` starts one: every known image runs."""
    box = Sandbox.start(
        tmp_path_factory.mktemp("sandbox-real"),
        "aws",
        parent=os.getpid(),
        real=True,
        controller_image=controller_image(tmp_path_factory.mktemp("controller-image")),
    )
    yield box
    box.stop()


def controller_image(directory: Path) -> Path:
    """What `litemaas-controller:*` pods run: this checkout's venv stands in for the image the
    Containerfile's instructions are carried out into (its venv at the base image's
    /opt/app-root), with the Containerfile's ENTRYPOINT and USER."""
    root = directory / "root"
    (root / "opt").mkdir(parents=True)
    (root / "opt" / "app-root").symlink_to(REPO / ".venv")
    config = {
        "root": str(root),
        "env": {"PATH": f"/opt/app-root/bin:{BASE_PATH}", "HOME": "/tmp", "LANG": "C.UTF-8"},
        "user": "1001",
        "workdir": "/",
        "entrypoint": ["litemaas-controller", "serve"],
        "cmd": [],
    }
    (directory / "image.json").write_text(json.dumps(config))
    return directory
