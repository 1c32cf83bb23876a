"""The controller's own image: `litemaas-controller:<tag>` runs from an installed prefix.

No engine builds images here. The `Containerfile`'s instructions are carried out into a prefix
directory instead (a Python environment with the service installed); the sandbox's supervisor
learns where it is from `SANDBOX_CONTROLLER_PREFIX` (`Sandbox.start(controller_prefix=...)` sets
it). A container of a `litemaas-controller` image (any registry, any tag) then runs the image's
ENTRYPOINT, `litemaas-controller serve`, from that prefix's `bin/`, as the image's user (1001,
group 0). The prefix is bound read-only at its own path, with what its Python reads outside it:
the interpreter it was made from, and the sources of editable installs (a development venv can
stand in for the built prefix). Without the variable, or without `bin/litemaas-controller` in the
prefix, such pods stay simulated.
"""

from __future__ import annotations

import os
from pathlib import Path

from .images import BASE_PATH, Image, register, repository
from .litellm_image import base_interpreter

PREFIX_ENV = "SANDBOX_CONTROLLER_PREFIX"
NAME = "litemaas-controller"
USER = (1001, 0)  # the Containerfile's USER, group 0 as OpenShift's restricted SCC runs it


def matches(ref: str) -> bool:
    """`litemaas-controller:0.2.0`, `quay.io/rhpds/litemaas-controller:latest`, ..."""
    return repository(ref) == NAME


def editable_sources(prefix: Path) -> list[str]:
    """The checkouts of editable installs in the prefix (the directories their `.pth` files put
    on `sys.path`, or the project around them): a checkout's service finds its playbooks there."""
    found: list[str] = []
    for pth in sorted(prefix.glob("lib/python3*/site-packages/__editable__*.pth")):
        for line in pth.read_text().splitlines():
            path = Path(line.strip())
            if not path.is_absolute() or not path.is_dir():
                continue
            project = path.parent if (path.parent / "pyproject.toml").is_file() else path
            if str(project) not in found:
                found.append(str(project))
    return found


def image(prefix: Path) -> Image:
    """The image contract for a prefix the Containerfile's instructions were carried out into."""
    prefix = prefix.resolve()
    return Image(
        name=NAME,
        matches=matches,
        entrypoint=[NAME, "serve"],
        env={"PATH": f"{prefix / 'bin'}:{BASE_PATH}", "LANG": "C.UTF-8"},
        host_paths=[str(prefix), *base_interpreter(prefix), *editable_sources(prefix)],
        requires=[str(prefix / "bin" / NAME)],
        user=USER,
        stands_in=f"the controller installed in {prefix}, for every {NAME} image",
    )


def register_from_env() -> Image | None:
    """Make the image known when the sandbox was told where its prefix is."""
    prefix = os.environ.get(PREFIX_ENV)
    if not prefix:
        return None
    known = image(Path(prefix))
    register(known)
    return known


CONTROLLER = register_from_env()
