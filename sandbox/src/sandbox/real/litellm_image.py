"""The LiteLLM image: containers of `*litellm*` images run the real LiteLLM proxy.

What runs is `sandbox/litellm/runtime.py serve` with the venv the installer caches
(`sandbox/litellm/install.sh`): one process per container that brings the pod's
`DATABASE_URL` to LiteLLM's schema and then execs the proxy (same PID). The pod's own
environment is passed through as its spec resolves it; the runtime adds only its engine and
offline settings (`overrides`). The image's CMD is `--port 4000`, as in LiteLLM's own images,
so a container's `args` choose another port exactly as they would on a cluster.

Both directories the process needs, the cached runtime and `sandbox/litellm` (the
engine stand-in and `runtime.py`), are bound read-only into the container at their own paths.

Stopping: SIGTERM to the proxy's PID only (the pod worker signals the main process with the
image's STOPSIGNAL, and SIGKILLs the group only after the grace period), which is what LiteLLM
needs: signalling its engine too makes it start a new one mid-shutdown.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from pathlib import Path

from ..litellm import runtime as litellm_runtime
from .images import BASE_PATH, Image, register, repository

LITELLM_DIR = Path(litellm_runtime.__file__).resolve().parent
INSTALLER = LITELLM_DIR / "install.sh"
PORT = 4000
# A pod listens on every address of its own network namespace, as a container does.
HOST = "0.0.0.0"  # noqa: S104

_install_lock = threading.Lock()
_installed: set[Path] = set()


def matches(ref: str) -> bool:
    """`ghcr.io/berriai/litellm-non_root:main-v1.74.7-stable`, `litellm/litellm:v1.81.0`, ..."""
    return "litellm" in repository(ref)


def base_interpreter(venv: Path) -> list[str]:
    """The prefix of the Python the venv was made from (its `bin/python` is a symlink into it):
    `/usr` is in every container already; a pyenv or /opt Python is not."""
    home = None
    try:
        for line in (venv / "pyvenv.cfg").read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home":
                home = Path(value.strip())
    except OSError:
        # Not installed yet: install.sh will make it with the python3 on PATH.
        found = shutil.which("python3")
        home = Path(found).parent if found else None
    if home is None:
        return []
    prefix = home.resolve().parent
    if prefix == Path("/usr") or prefix.is_relative_to("/usr") or prefix == Path("/"):
        return []
    return [str(prefix)]


def _node() -> str:
    """The engine stand-in is a Node program; the container sees the machine's /usr only."""
    return shutil.which("node", path=BASE_PATH) or "/usr/bin/node"


def image(home: Path | None = None) -> Image:
    """The image contract for the runtime installed (or to be installed) in `home`."""
    rt = litellm_runtime.Runtime(home or litellm_runtime.cache_root())
    return Image(
        name="litellm",
        matches=matches,
        entrypoint=[str(rt.python), str(LITELLM_DIR / "runtime.py"), "serve", "--host", HOST],
        cmd=["--port", str(PORT)],
        env={"PATH": f"{rt.venv / 'bin'}:{BASE_PATH}", "LANG": "C.UTF-8"},
        overrides={
            **litellm_runtime.prisma_tool_env(rt),
            **litellm_runtime.OFFLINE_SETTINGS,
        },
        host_paths=[str(rt.home), str(LITELLM_DIR), *base_interpreter(rt.venv)],
        # Installed by install.sh (Sandbox.start(real=True) runs it); else the pod stays simulated.
        requires=[str(rt.marker), str(rt.python), _node()],
        stands_in=(
            f"the real LiteLLM proxy {litellm_runtime.LITELLM_VERSION} (venv in {rt.home}) with "
            "the query-engine stand-in, for every *litellm* image"
        ),
    )


def ensure_runtime(home: Path | None = None) -> Path:
    """Run the installer once per process (it is idempotent and serialised by a lock file:
    ~0.3 s when the cache is warm, ~95 s cold). Returns the runtime's home."""
    target = (home or litellm_runtime.cache_root()).resolve()
    with _install_lock:
        if target in _installed:
            return target
        env = dict(os.environ)
        env["LITEMAAS_CACHE"] = str(target.parent)
        result = subprocess.run(
            ["bash", str(INSTALLER)],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise litellm_runtime.RuntimeMissingError(
                f"the LiteLLM runtime installer failed: {result.stderr.strip()[-2000:]}"
            )
        _installed.add(target)
        return target


LITELLM = image()
register(LITELLM)
