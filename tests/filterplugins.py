"""The collection's filter plugins, loaded from this tree by path (no Ansible needed)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

FILTERS = Path(__file__).resolve().parents[1] / "plugins" / "filter"


def load(name: str) -> ModuleType:
    """``plugins/filter/<name>.py`` as a module of its own."""
    spec = importlib.util.spec_from_file_location(f"{name}_filters", FILTERS / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
