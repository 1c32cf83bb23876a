"""ansible-runner's ``awx_display`` stdout callback, with what it writes to disk scrubbed.

``awx_display`` writes each event's data to ``job_events/<uuid>-partial.json`` in the run's
private dir before ansible-runner reads it back and hands it to the controller: a task result
holding a secret would sit on disk.  This callback keeps only the fields the controller reads
(``fields.DATA_FIELDS`` and ``fields.RESULT_FIELDS``) and redacts them
(``sk-`` keys, secret-looking pairs, the run's proxy credentials) before anything is written.
It runs inside ansible-playbook; the service points ``ANSIBLE_STDOUT_CALLBACK`` at it.  It
imports leaf modules only: the service's machinery would cost every playbook its import time.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any

from ansible.plugins.loader import callback_loader  # type: ignore[import-untyped]

from litemaas_controller.runner.env import proxy_urls
from litemaas_controller.runner.fields import DATA_FIELDS, RESULT_FIELDS
from litemaas_controller.runner.redact import Redactor, proxy_credentials

DOCUMENTATION = """
name: litemaas_display
type: stdout
short_description: awx_display whose partial event files hold only redacted, needed fields
description:
  - ansible-runner's awx_display; event data is scrubbed before it reaches the disk.
extends_documentation_fragment:
  - default_callback
"""

_AWX: Any = callback_loader.get("awx_display", class_only=True)
_awx_module: Any = sys.modules[_AWX.__module__]
_redactor = Redactor(proxy_credentials(proxy_urls(os.environ)))


def scrub(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` with only the data fields the controller reads, redacted."""
    data = event.get("event_data") or {}
    kept = {k: data[k] for k in DATA_FIELDS if k in data}
    if isinstance(res := data.get("res"), dict):
        kept["res"] = {k: res[k] for k in RESULT_FIELDS if k in res}
    return {**event, "event_data": _redactor.value(kept)}


class _ScrubbedWrite(_awx_module.IsolatedFileWrite):  # type: ignore[misc]
    def set(self, key: str, value: dict[str, Any]) -> None:
        try:
            super().set(key, scrub(value))
        except OSError:
            # A full disk.  The error must not reach Ansible: its results thread stops for good
            # on an OSError and the play then waits forever.  The event reaches ansible-runner
            # without its data, and the controller ends the run on such an event.
            self._discard(key)

    def _discard(self, key: str) -> None:
        """Remove what a failed write left (``<uuid>-partial.json.tmp``, maybe truncated)."""
        name = f"{key[len(':1:ev-') :]}-partial.json.tmp"
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(self.private_data_dir, "job_events", name))


if getattr(_awx_module.event_context, "cache", None) is not None:
    _awx_module.event_context.cache = _ScrubbedWrite()


class CallbackModule(_AWX):  # type: ignore[misc]
    CALLBACK_NAME = "litemaas_display"
