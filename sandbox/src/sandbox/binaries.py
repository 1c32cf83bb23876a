"""Where the sandbox finds kube-apiserver, kube-controller-manager and etcd."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

CACHE = Path(os.environ.get("LITEMAAS_CACHE", Path.home() / ".cache" / "litemaas-controller"))
BUILT = CACHE / "k8s-v1.20.2" / "bin"


class MissingBinaryError(RuntimeError):
    pass


@dataclass(frozen=True)
class Binaries:
    apiserver: Path
    controller_manager: Path
    etcd: Path


def _pick(env: str, built: Path | None, name: str) -> Path:
    """A user's own binary (env var) wins; then our build; then PATH."""
    given = os.environ.get(env)
    candidates = [Path(given)] if given else []
    if built is not None:
        candidates.append(built)
    found = shutil.which(name)
    if found:
        candidates.append(Path(found))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise MissingBinaryError(
        f"{name} not found: run `make sandbox-build` (builds it from Debian's kubernetes source"
        f" package into {BUILT}) or set {env} to a binary of the same version as the others"
    )


def find() -> Binaries:
    return Binaries(
        apiserver=_pick("SANDBOX_KUBE_APISERVER", BUILT / "kube-apiserver", "kube-apiserver"),
        controller_manager=_pick(
            "SANDBOX_KUBE_CONTROLLER_MANAGER",
            BUILT / "kube-controller-manager",
            "kube-controller-manager",
        ),
        etcd=_pick("SANDBOX_ETCD", None, "etcd"),
    )
