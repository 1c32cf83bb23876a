"""A pod's volumes as directories on the host, ready to be bind-mounted at the container paths.

Secrets, ConfigMaps and downward-API files are written under the pod's own directory (inside the
sandbox's state directory); `emptyDir`s are directories there; a PersistentVolumeClaim is the
hostPath directory of its bound PersistentVolume, which the sandbox's provisioner made under the
state directory too, so data follows the volume and goes when the volume is deleted.
"""

from __future__ import annotations

import base64
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..agent.kube import Obj
from .environment import ConfigError, Fetch

ClaimPath = Callable[[str], Path | None]  # claim name -> directory of its bound volume, or None


@dataclass(frozen=True)
class Mount:
    source: Path
    target: str
    read_only: bool


def _files(obj: Obj, secret: bool) -> dict[str, bytes]:
    if secret:
        return {k: base64.b64decode(v) for k, v in (obj.get("data") or {}).items()}
    files = {k: v.encode() for k, v in (obj.get("data") or {}).items()}
    files.update({k: base64.b64decode(v) for k, v in (obj.get("binaryData") or {}).items()})
    return files


def _write_keys(directory: Path, files: dict[str, bytes], source: Obj, kind: str) -> None:
    mode = int(source.get("defaultMode", 0o644))
    items = source.get("items")
    chosen = (
        [(i["key"], i["path"], int(i.get("mode", mode))) for i in items]
        if items
        else [(k, k, mode) for k in files]
    )
    for key, rel, item_mode in chosen:
        if key not in files:
            if source.get("optional"):
                continue
            raise ConfigError(f"couldn't find key {key} in {kind} {source.get('name', '')}")
        path = directory / rel
        if ".." in Path(rel).parts:
            raise ConfigError(f"invalid path {rel}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[key])
        path.chmod(item_mode)


def _object_volume(directory: Path, source: Obj, kind: str, name: str, fetch: Fetch) -> None:
    obj = fetch(kind, name)
    noun = "secret" if kind == "secrets" else "configmap"
    if obj is None:
        if source.get("optional"):
            return
        raise ConfigError(f'{noun} "{name}" not found')
    _write_keys(directory, _files(obj, kind == "secrets"), source, noun)


def fs_group(pod: Obj, openshift: bool) -> int | None:
    """The group the kubelet gives the pod's volumes and adds to its processes' groups: the pod's
    ``fsGroup``. OpenShift's restricted SCC sets one from the namespace's range on every pod that
    names none; the sandbox has no SCC admission and no ranges, so there group 0 (which OpenShift
    runs every image's processes with) stands for it. Plain Kubernetes sets none: a volume stays as
    its provisioner made it (its root the node's root's, 0755)."""
    given = (pod["spec"].get("securityContext") or {}).get("fsGroup")
    if given is not None:
        return int(given)
    return 0 if openshift else None


def give_to_group(root: Path, group: int, policy: str | None) -> None:
    """What the kubelet does to a volume for an fsGroup (its SetVolumeOwnership): every file and
    directory goes to ``group``, group-readable and -writable, directories also group-searchable
    and setgid (what is made in them stays the group's). ``OnRootMismatch``: only when the root
    is not so already."""
    if policy == "OnRootMismatch" and _owned(root, group):
        return
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        info = path.stat()
        mask = 0o2770 if path.is_dir() else 0o660
        os.chown(path, -1, group)
        path.chmod((info.st_mode & 0o7777) | mask)


def _owned(root: Path, group: int) -> bool:
    info = root.stat()
    return info.st_gid == group and info.st_mode & 0o2770 == 0o2770


def prepare(
    pod: Obj, pod_dir: Path, fetch: Fetch, claim_path: ClaimPath, group: int | None
) -> dict[str, Path]:
    """Materialise every volume of the pod, its claims' given to ``group`` (its fsGroup) when
    there is one; returns volume name -> host directory."""
    result: dict[str, Path] = {}
    policy = (pod["spec"].get("securityContext") or {}).get("fsGroupChangePolicy")
    root = pod_dir / "volumes"
    for volume in pod["spec"].get("volumes", []):
        name = volume["name"]
        directory = root / name
        if "persistentVolumeClaim" in volume:
            claim = volume["persistentVolumeClaim"]["claimName"]
            path = claim_path(claim)
            if path is None:
                raise ConfigError(f'persistentvolumeclaim "{claim}" is not bound to a volume')
            path.mkdir(parents=True, exist_ok=True)
            if group is not None:
                give_to_group(path, group, policy)
            result[name] = path
            continue
        if "emptyDir" in volume:
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o1777)  # emptyDir is writable by any user of the pod
        elif "secret" in volume or "configMap" in volume or "projected" in volume:
            shutil.rmtree(directory, ignore_errors=True)  # contents follow the objects at start
            directory.mkdir(parents=True)
            directory.chmod(0o755)
            sources = (
                volume["projected"].get("sources", [])
                if "projected" in volume
                else [{k: v for k, v in volume.items() if k in ("secret", "configMap")}]
            )
            for src in sources:
                if "secret" in src:
                    s = src["secret"]
                    _object_volume(directory, s, "secrets", s.get("secretName") or s["name"], fetch)
                elif "configMap" in src:
                    c = src["configMap"]
                    _object_volume(directory, c, "configmaps", c["name"], fetch)
                # serviceAccountToken and downwardAPI sources are not written: 1.20's admission
                # mounts the token Secret (a secret volume) for the service account instead.
        elif "downwardAPI" in volume:
            directory.mkdir(parents=True, exist_ok=True)
        else:
            kinds = ", ".join(k for k in volume if k != "name")
            raise ConfigError(f"volume {name}: {kinds} volumes are not supported by the sandbox")
        result[name] = directory
    return result


def mounts_of(container: Obj, volumes: dict[str, Path]) -> list[Mount]:
    result = []
    for vm in container.get("volumeMounts", []):
        source = volumes.get(vm["name"])
        if source is None:
            raise ConfigError(f"volume {vm['name']} not found in the pod")
        if vm.get("subPath"):
            sub = Path(vm["subPath"])
            if ".." in sub.parts or sub.is_absolute():
                raise ConfigError(f"invalid subPath {vm['subPath']}")
            source = source / sub
            if not source.exists():
                source.mkdir(parents=True)  # the kubelet creates a missing subPath directory
        result.append(Mount(source, vm["mountPath"], bool(vm.get("readOnly"))))
    return result
