"""The display callback runs inside every ansible-playbook the controller starts: what it imports
is paid by every run.  It must load only leaf modules, never the service's machinery (the run
boundary with ansible-runner, the ledger and its drivers, the web and Kubernetes clients): that
cost each run about 0.3 CPU-seconds of imports once (measured on the fixture playbook of the
replica tests: 1.3 → 0.9 CPU-seconds a run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import ansible_runner
import pytest

from litemaas_controller.runner.run import CALLBACK_DIR

pytestmark = pytest.mark.unit

#: modules a playbook's process has no use for
HEAVY = (
    "ansible_runner",
    "psycopg",
    "aiohttp",
    "redis",
    "kubernetes",
    "prometheus_client",
    "litemaas_controller.ledger",
    "litemaas_controller.runner.run",
    "litemaas_controller.dispatch",
)

# loaded by Ansible's plugin loader from ANSIBLE_CALLBACK_PLUGINS, as in a run: ours and
# ansible-runner's (awx_display, which ours extends)
LOAD = """
import json, sys
from ansible.plugins.loader import callback_loader, init_plugin_loader
init_plugin_loader()
assert callback_loader.get("litemaas_display", class_only=True).CALLBACK_NAME == "litemaas_display"
print(json.dumps(sorted(sys.modules)))
"""


def test_the_display_callback_loads_no_service_machinery() -> None:
    awx = Path(ansible_runner.__file__).parent / "display_callback" / "callback"
    env = {**os.environ, "ANSIBLE_CALLBACK_PLUGINS": f"{CALLBACK_DIR}{os.pathsep}{awx}"}
    done = subprocess.run([sys.executable, "-c", LOAD], env=env, capture_output=True, text=True,
                          check=True, timeout=60)  # fmt: skip
    loaded = json.loads(done.stdout)
    assert "litemaas_controller.runner.redact" in loaded  # it did load what it needs
    heavy = [m for m in loaded if m.startswith(HEAVY)]
    assert heavy == [], heavy
