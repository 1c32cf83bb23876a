"""A run's extra vars as a YAML file in which every string is ``!unsafe``: data, never a template.

ansible-core templates extra vars where they are used, and ansible-runner writes its own
``extravars`` dict as plain JSON (FACTS.md, "Templates in extra vars"), so a ``{{ ... }}`` from an
order, a recorded instance var or a message would run on the controller.  This file, passed as
``-e @file``, tags every string -- at any depth of lists and maps, map keys too -- and Ansible
then hands each one to the playbook as it is.  The controller's own values go the same way:
none of them is meant to be a template, and one rule leaves nothing to forget.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

TAG = "!unsafe"


class _UnsafeDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True  # a value used twice is written twice, never as an anchor


def _unsafe(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    return dumper.represent_scalar(TAG, str(text), style='"')


_UnsafeDumper.add_representer(str, _unsafe)
_UnsafeDumper.add_multi_representer(str, _unsafe)


def dump(extravars: Mapping[str, Any]) -> str:
    """``extravars`` as YAML text with every string tagged ``!unsafe``."""
    return yaml.dump(dict(extravars), Dumper=_UnsafeDumper, allow_unicode=True, sort_keys=False)


def write(path: Path, extravars: Mapping[str, Any]) -> str:
    """Write the file (0600, a new file) and return the ansible-playbook option that reads it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(dump(extravars))
    return f"-e @{shlex.quote(str(path))}"
