"""Merging the sources of settings: defaults < YAML file < environment < flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from litemaas_controller.config.in_cluster import pod_namespace
from litemaas_controller.config.settings import Settings, env_name, setting_fields
from litemaas_controller.config.validation import coerce_value, validate_settings
from litemaas_controller.errors import ConfigError


def read_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the settings file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"the settings file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"the settings file {path} must hold a mapping of setting: value")
    known = {f.name for f in setting_fields()}
    unknown = sorted(set(map(str, data)) - known)
    if unknown:
        raise ConfigError(
            f"the settings file {path} has unknown settings {unknown}; known: {sorted(known)}"
        )
    return {str(k): v for k, v in data.items()}


def merged_values(
    overrides: Mapping[str, Any], environ: Mapping[str, str], config_file: Path | None
) -> dict[str, Any]:
    if config_file is None and environ.get("LITEMAAS_CONFIG"):
        config_file = Path(environ["LITEMAAS_CONFIG"])
    from_file = read_file(config_file) if config_file else {}
    values: dict[str, Any] = {}
    for f in setting_fields():
        if overrides.get(f.name) is not None:
            raw = overrides[f.name]
        elif environ.get(env_name(f)):
            raw = environ[env_name(f)]
        elif f.name in from_file:
            raw = from_file[f.name]
        else:
            continue
        values[f.name] = coerce_value(f, raw)
    return values


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Build Settings from defaults < file < environment < ``overrides`` (flags), validated; in
    a pod, an unset ``namespace`` is the pod's own (its service account's namespace file)."""
    env = os.environ if environ is None else environ
    values = merged_values(overrides or {}, env, config_file)
    if "namespace" not in values and (namespace := pod_namespace(env)):
        values["namespace"] = namespace
    return validate_settings(Settings(**values))
