"""The image's filesystem: a directory per stage, the substituted base's system trees beside it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASE_IMAGE = "registry.access.redhat.com/ubi9/python-311"
#: what the base image provides that this machine's own system provides instead
SYSTEM_TREES = ("/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", "/dev", "/proc")
#: the environment and user the ubi9/python-311 image sets (its published image configuration)
BASE_CONFIG = {
    "env": {
        "APP_ROOT": "/opt/app-root",
        "HOME": "/opt/app-root/src",
        "PATH": "/opt/app-root/src/.local/bin:/opt/app-root/src/bin:/opt/app-root/bin:"
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "PYTHON_VERSION": "3.11",
        "PYTHONUNBUFFERED": "1",
        "PLATFORM": "el9",
    },
    "user": "1001",
    "workdir": "/opt/app-root/src",
    "venv": "/opt/app-root",
}


class NotCarriedOut(RuntimeError):
    """An instruction that can neither be carried out here nor is a listed substitution."""


@dataclass
class Stage:
    name: str | None
    root: Path
    env: dict[str, str] = field(default_factory=lambda: dict(BASE_CONFIG["env"]))  # type: ignore[arg-type]
    args: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    user: str = str(BASE_CONFIG["user"])
    workdir: str = str(BASE_CONFIG["workdir"])
    exposed: list[str] = field(default_factory=list)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    substituted: list[str] = field(default_factory=list)

    def path(self, image_path: str) -> Path:
        return host_path(self.root, image_path)

    def host_env(self) -> dict[str, str]:
        values = {**self.args, **self.env}
        return {k: reroot_value(self.root, v) for k, v in values.items()}


@dataclass(frozen=True)
class Image:
    """The final stage, as a directory this machine can run."""

    root: Path
    env: dict[str, str]
    labels: dict[str, str]
    user: str
    workdir: str
    exposed: list[str]
    entrypoint: list[str]
    cmd: list[str]
    substituted: list[str]

    def host_path(self, image_path: str) -> Path:
        return host_path(self.root, image_path)

    def host_env(self) -> dict[str, str]:
        """The image's environment with its paths re-rooted at ``root``."""
        return {k: reroot_value(self.root, v) for k, v in self.env.items()}

    def program(self, name: str) -> str:
        """``name`` as the image's PATH finds it."""
        found = shutil.which(name, path=self.host_env()["PATH"])
        if found is None:
            raise NotCarriedOut(f"{name} is not on the image's PATH")
        return found

    def command(self, *args: str) -> list[str]:
        """What the container runs: the entrypoint with ``args`` (default: CMD)."""
        program, *rest = self.entrypoint
        return [self.program(program), *rest, *(args or self.cmd)]


def host_path(root: Path, image_path: str) -> Path:
    if not image_path.startswith("/"):
        raise NotCarriedOut(f"{image_path!r} is not an absolute image path")
    if system(image_path):
        return Path(image_path)
    return root / image_path.lstrip("/")


def system(image_path: str) -> bool:
    return any(image_path == t or image_path.startswith(t + "/") for t in SYSTEM_TREES)


def reroot_value(root: Path, value: str) -> str:
    """An ENV/ARG value with each absolute path in it (``:``-separated lists too) re-rooted."""
    return ":".join(
        str(host_path(root, part)) if part.startswith("/") else part for part in value.split(":")
    )


def python311() -> str:
    python = Path(sys.base_prefix) / "bin" / "python3.11"
    if not python.exists():
        raise NotCarriedOut(f"no Python 3.11 at {python} to stand in for the base image")
    return str(python)


def sh(argv: list[str], **kwargs: Any) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if done.returncode != 0:
        output = (done.stdout + done.stderr)[-4000:]
        raise RuntimeError(f"{argv[-1]!r} failed (exit {done.returncode}):\n{output}")
