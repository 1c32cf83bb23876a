"""Event data reaches playbooks as data: ansible-rulebook's extra vars, then event_vars."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
from pathlib import Path

import pytest

from waiting import wait_until

from .rulebook import BIN, REPO

pytestmark = pytest.mark.integration

PROJECTS = Path(__file__).parent / "projects"


def test_template_markers_in_event_data_stay_literal_in_the_playbook(tmp_path: Path) -> None:
    rulebook = tmp_path / "rulebook.yml"
    playbook = PROJECTS / "templated_probe.yml"
    rulebook.write_text((PROJECTS / "templated_event.yml").read_text().replace(
        "PLAYBOOK", str(playbook)))  # fmt: skip
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(REPO / ".venv" / "collections"),
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PROBE_DIR": str(tmp_path),
    }
    proc = subprocess.Popen(
        [BIN / "ansible-rulebook", "-r", rulebook, "-i", REPO / "rulebooks/inventory.yml"],
        cwd=tmp_path, env=env, stdout=(tmp_path / "log").open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        wait_until(lambda: (tmp_path / "direct.txt").exists() or proc.poll() is not None, 120,
                   "the probe playbook")  # fmt: skip
    finally:
        proc.kill()
        proc.wait()
    log = (tmp_path / "log").read_text()
    seen = json.loads((tmp_path / "probe.json").read_text())
    assert seen["probe"] == "{{ lookup('pipe', 'id -un') }}", log[-2000:]
    assert seen["list"] == ["{{ 6 * 7 }}"]
    assert seen["event"] == {"order": {"id": "{{ 1 + 1 }}"}}
    # the control: ansible-rulebook writes event data as plain extra vars, which Ansible renders
    assert (tmp_path / "direct.txt").read_text() == getpass.getuser()
