"""The controller's own image: `litemaas-controller:<tag>` runs from the image carried out into a
directory.

No engine builds images here. The `Containerfile`'s instructions are carried out into a directory
instead, which stands for the image's file system (`root`: every path of the image but the system
trees the machine provides, `/usr`, `/etc`...), beside an `image.json` with the image's
configuration: `root`, `env`, `user`, `workdir`, `entrypoint`, `cmd`, as the Containerfile set
them (image paths, not the directory's). The supervisor learns where that directory is from
`SANDBOX_CONTROLLER_IMAGE` (`Sandbox.start(controller_image=...)` sets it).

A container of a `litemaas-controller` image (any registry, any tag) then sees the image as a
container would: the image's directories at their own paths (`/opt/app-root`...), read-only, its
ENTRYPOINT and CMD, its ENV, its USER (group 0 unless it says otherwise) and WORKDIR; a pod's
`command`, `args`, `env`, `runAsUser` and `workingDir` win as usual. Programs installed in the
directory name it in their `#!` lines, so `root` is also visible at its own path, with the Python
its venvs were made from and the checkouts of editable installs. Without the variable, or without
`image.json`, such pods stay simulated.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .images import Image, register, repository
from .litellm_image import base_interpreter

IMAGE_ENV = "SANDBOX_CONTROLLER_IMAGE"
NAME = "litemaas-controller"
CONFIG = "image.json"
#: the machine's own (the base image's system trees): never taken from the image's directory
SYSTEM = {"usr", "etc", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "dev", "proc", "sys"}
#: fresh in every container (tmpfs): the image's content there is not shown
FRESH = {"tmp", "run"}
#: directories every container's root has: the image's entries are shown inside them
SHARED = {"var", "var/lib", "var/tmp", "var/log", "var/cache", "root", "home"}


def matches(ref: str) -> bool:
    """`litemaas-controller:0.2.0`, `quay.io/rhpds/litemaas-controller:latest`, ..."""
    return repository(ref) == NAME


def image_binds(root: Path, relative: Path = Path()) -> list[tuple[str, str]]:
    """(directory in `root`, path in the container) for every entry of the image's own tree."""
    binds: list[tuple[str, str]] = []
    for entry in sorted((root / relative).iterdir()):
        inside = relative / entry.name
        key = inside.as_posix()
        if key in SYSTEM or key in FRESH:
            continue
        if key in SHARED and entry.is_dir():
            binds += image_binds(root, inside)
        else:
            binds.append((str(entry.resolve()), f"/{key}"))
    return binds


def editable_sources(venv: Path) -> list[str]:
    """The checkouts of editable installs in a venv (the directories their `.pth` files put on
    `sys.path`, or the project around them): a checkout's service finds its playbooks there."""
    found: list[str] = []
    for pth in sorted(venv.glob("lib/python3*/site-packages/__editable__*.pth")):
        for line in pth.read_text().splitlines():
            path = Path(line.strip())
            if not path.is_absolute() or not path.is_dir():
                continue
            project = path.parent if (path.parent / "pyproject.toml").is_file() else path
            if str(project) not in found:
                found.append(str(project))
    return found


def host_paths(root: Path) -> list[str]:
    """`root` and what the venvs in it read outside it, each visible at its own path."""
    paths = [str(root.resolve())]
    for cfg in sorted(root.glob("*/*/pyvenv.cfg")):  # /opt/app-root: the base image's venv
        venv = cfg.parent.resolve()
        for path in [str(venv), *base_interpreter(venv), *editable_sources(venv)]:
            if path not in paths:
                paths.append(path)
    return paths


def _user(user: str) -> tuple[int, int] | None:
    """USER `1001` or `1001:0`: group 0 unless given, as OpenShift runs images. None: root."""
    uid, _, gid = user.partition(":")
    if not uid.isdigit() or int(uid) == 0:
        return None
    return int(uid), int(gid) if gid.isdigit() else 0


def image(directory: Path) -> Image:
    """The image contract of an image carried out into `directory` (its `image.json`)."""
    config: dict[str, Any] = json.loads((directory / CONFIG).read_text())
    root = Path(config["root"])
    entrypoint = list(config.get("entrypoint") or [])
    return Image(
        name=NAME,
        matches=matches,
        entrypoint=entrypoint,
        cmd=list(config.get("cmd") or []),
        env=dict(config.get("env") or {}),
        host_paths=host_paths(root),
        binds=image_binds(root),
        requires=[str(root)],
        user=_user(str(config.get("user") or "0")),
        workdir=str(config.get("workdir") or "/"),
        stands_in=f"the image carried out into {root}, for every {NAME} image",
    )


def register_from_env() -> Image | None:
    """Make the image known when the sandbox was told where it is."""
    directory = os.environ.get(IMAGE_ENV)
    if not directory or not (Path(directory) / CONFIG).is_file():
        return None
    known = image(Path(directory))
    register(known)
    return known


CONTROLLER = register_from_env()
