"""The EDA tests share one build of the collection's tarball."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from .rulebook import BIN, REPO


@pytest.fixture(scope="session")
def collection_tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ansible-galaxy collection build`` of this checkout."""
    out = tmp_path_factory.mktemp("collection-build")
    subprocess.run(
        [BIN / "ansible-galaxy", "collection", "build", str(REPO), "--output-path", str(out)],
        check=True,
        capture_output=True,
    )
    (tarball,) = out.glob("rhpds-litemaas-*.tar.gz")
    return tarball
