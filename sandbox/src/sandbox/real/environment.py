"""A container's environment and argv exactly as the kubelet resolves them from the pod spec.

`envFrom` first, then `env` (later entries win); values may be literal, from a Secret or
ConfigMap key, or from the downward API; `$(VAR)` refers to variables defined earlier, `$$(VAR)`
is a literal `$(VAR)`, and an unknown `$(VAR)` stays as written. `command`/`args` are expanded
against the whole environment.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable

from ..agent.kube import Obj

Fetch = Callable[[str, str], Obj | None]  # (kind "secrets"/"configmaps", name) -> object or None
_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


class ConfigError(Exception):
    """The container cannot be created yet (the kubelet's CreateContainerConfigError)."""


def expand(text: str, env: dict[str, str]) -> str:
    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _REF.sub(sub, text)


def _data(obj: Obj) -> dict[str, str]:
    """A Secret's or ConfigMap's keys as text."""
    if obj.get("kind") == "Secret":
        return {k: base64.b64decode(v).decode() for k, v in (obj.get("data") or {}).items()}
    return dict(obj.get("data") or {})


def _key_ref(ref: Obj, kind: str, fetch: Fetch) -> str | None:
    obj = fetch(kind, ref["name"])
    optional = bool(ref.get("optional"))
    noun = "secret" if kind == "secrets" else "configmap"
    if obj is None:
        if optional:
            return None
        raise ConfigError(f'{noun} "{ref["name"]}" not found')
    data = _data(obj)
    if ref["key"] not in data:
        if optional:
            return None
        raise ConfigError(f"couldn't find key {ref['key']} in {noun.capitalize()} {ref['name']}")
    return data[ref["key"]]


def _field(path: str, pod: Obj, pod_ip: str) -> str:
    meta = pod["metadata"]
    simple = {
        "metadata.name": meta["name"],
        "metadata.namespace": meta["namespace"],
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": pod["spec"].get("nodeName", ""),
        "spec.serviceAccountName": pod["spec"].get("serviceAccountName", "default"),
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": "127.0.0.1",
    }
    if path in simple:
        return simple[path]
    match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if match:
        return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
    raise ConfigError(f"unsupported fieldRef {path}")


def resolve_env(container: Obj, pod: Obj, pod_ip: str, fetch: Fetch) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        prefix = source.get("prefix", "")
        for kind, key in (("secrets", "secretRef"), ("configmaps", "configMapRef")):
            if key not in source:
                continue
            ref = source[key]
            obj = fetch(kind, ref["name"])
            if obj is None:
                if ref.get("optional"):
                    continue
                noun = "secret" if kind == "secrets" else "configmap"
                raise ConfigError(f'{noun} "{ref["name"]}" not found')
            for name, value in _data(obj).items():
                env[prefix + name] = value
    for var in container.get("env", []):
        name = var["name"]
        if "valueFrom" not in var:
            env[name] = expand(var.get("value", ""), env)
            continue
        source = var["valueFrom"]
        value: str | None
        if "secretKeyRef" in source:
            value = _key_ref(source["secretKeyRef"], "secrets", fetch)
        elif "configMapKeyRef" in source:
            value = _key_ref(source["configMapKeyRef"], "configmaps", fetch)
        elif "fieldRef" in source:
            value = _field(source["fieldRef"]["fieldPath"], pod, pod_ip)
        elif "resourceFieldRef" in source:
            value = _resource(container, source["resourceFieldRef"])
        else:
            raise ConfigError(f"unsupported valueFrom for {name}")
        if value is not None:
            env[name] = value
    return env


_UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9}


def _resource(container: Obj, ref: Obj) -> str:
    kind, _, what = ref["resource"].partition(".")
    raw = str((container.get("resources") or {}).get(kind, {}).get(what, "0"))
    if what == "cpu":
        cores = float(raw[:-1]) / 1000 if raw.endswith("m") else float(raw)
        return str(max(1, int(-(-cores // 1))))  # the kubelet rounds CPU up to whole cores
    for suffix, factor in _UNITS.items():
        if raw.endswith(suffix):
            return str(int(float(raw[: -len(suffix)]) * factor))
    return raw


def argv(container: Obj, entrypoint: list[str], cmd: list[str], env: dict[str, str]) -> list[str]:
    """`command` replaces the ENTRYPOINT, `args` the CMD; both expand `$(VAR)`."""
    command = container.get("command")
    args = container.get("args")
    if command:
        words = list(command) + list(args or [])
    else:
        words = list(entrypoint) + list(args if args is not None else cmd)
    return [expand(w, env) for w in words]
