"""Known images: what a container image provides when its programs run on this machine.

An image here is a contract, not a file system: its entrypoint and default command, its `ENV`, the
directories its file system has, and which of the machine's programs stand in for its own. A pod
runs for real only when every one of its containers has a known image; adding an image (the next
one is LiteLLM) is one `register(Image(...))`.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ENTRYPOINTS = Path(__file__).resolve().parent / "entrypoints"
# Where the entrypoints directory appears inside every container (read-only).
SANDBOX_DIR = "/.sandbox"
PG_BIN = "/usr/lib/postgresql/15/bin"
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True)
class Image:
    name: str
    matches: Callable[[str], bool]
    """Whether an image reference (`postgres:16`, `docker.io/library/postgres:16`) is this image."""
    entrypoint: list[str] = field(default_factory=list)
    """The image's ENTRYPOINT; a container's `command` replaces it."""
    cmd: list[str] = field(default_factory=list)
    """The image's CMD; a container's `args` replaces it."""
    env: dict[str, str] = field(default_factory=dict)
    """The image's ENV; the pod's own environment wins."""
    overrides: dict[str, str] = field(default_factory=dict)
    """Variables the stand-in needs whatever the pod says (an engine's path, offline switches)."""
    dirs: list[tuple[str, str, int]] = field(default_factory=list)
    """(path, owner, mode) that exist in the image's file system."""
    host_paths: list[str] = field(default_factory=list)
    """Host directories the container sees read-only at the same path (installed runtimes)."""
    binds: list[tuple[str, str]] = field(default_factory=list)
    """(host path, container path): the image's own files, seen read-only where the image has
    them."""
    requires: list[str] = field(default_factory=list)
    """Programs the stand-in needs on this machine; without them the image stays simulated."""
    user: tuple[int, int] | None = None
    """The image's USER (uid, gid); None: root. A container's runAsUser/runAsGroup win."""
    workdir: str = "/"
    """The image's WORKDIR; a container's workingDir wins."""
    stop_signal: int = signal.SIGTERM
    """The image's STOPSIGNAL."""
    stands_in: str = ""
    """What runs instead of the image's own programs (for the README and logs)."""


def repository(ref: str) -> str:
    """`docker.io/library/postgres:16@sha256:…` -> `postgres`."""
    ref = ref.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


POSTGRES = Image(
    name="postgres",
    matches=lambda ref: repository(ref) == "postgres",
    entrypoint=[f"{SANDBOX_DIR}/postgres-entrypoint.sh"],
    cmd=["postgres"],
    env={
        "PATH": f"{PG_BIN}:{BASE_PATH}",
        "PGDATA": "/var/lib/postgresql/data",
        "LANG": "C.UTF-8",
    },
    dirs=[
        ("/var/lib/postgresql", "postgres", 0o755),
        ("/var/run/postgresql", "postgres", 0o3777),
    ],
    requires=[f"{PG_BIN}/postgres", f"{PG_BIN}/initdb", f"{PG_BIN}/psql"],
    # The official image stops with SIGINT: PostgreSQL's fast shutdown.
    stop_signal=signal.SIGINT,
    stands_in=f"the machine's PostgreSQL 15 ({PG_BIN}) for every postgres:* tag",
)

PYTHON = Image(
    name="python",
    matches=lambda ref: repository(ref) == "python",
    cmd=["python3"],
    requires=["/usr/bin/python3"],
    env={"PATH": BASE_PATH, "LANG": "C.UTF-8"},
    stands_in="the machine's Python 3 (/usr/bin/python3, standard library only) for python:*",
)

_REGISTRY: list[Image] = [POSTGRES, PYTHON]


def register(image: Image) -> None:
    """Make an image known; later registrations win over earlier ones."""
    _REGISTRY.insert(0, image)


def find(ref: str) -> Image | None:
    """The known image for a reference, if this machine has what stands in for it."""
    image = next((image for image in _REGISTRY if image.matches(ref)), None)
    if image is None or not all(Path(p).exists() for p in image.requires):
        return None
    return image
