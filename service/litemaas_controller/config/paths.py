"""Where things live by default: the state directory and the collection's playbooks."""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

#: this file is service/litemaas_controller/config/paths.py inside the collection's repository
_REPO_ROOT = Path(__file__).resolve().parents[3]


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "litemaas-controller"


def default_playbook_dir() -> Path:
    """The repository's playbooks/ when running from a checkout, else the installed collection's."""
    in_repo = _REPO_ROOT / "playbooks"
    if in_repo.is_dir():
        return in_repo
    for root in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep):
        candidate = Path(root) / "ansible_collections" / "rhpds" / "litemaas" / "playbooks"
        if root and candidate.is_dir():
            return candidate
    return in_repo


def default_argument_specs(playbook_dir: Path) -> Path:
    return playbook_dir.parent / "roles" / "ocp4_workload_litemaas" / "meta" / "argument_specs.yml"


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner can enter (0700): created so, tightened if ours.

    The state directory holds the ledger and the runs' private dirs.  One that is not ours (a
    volume mounted for an arbitrary UID) is left as it is: we could not change it.
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    info = path.stat()
    if info.st_uid == os.getuid() and info.st_mode & 0o077:
        log.warning("%s was open to others (mode %o); made owner-only", path, info.st_mode & 0o777)
        path.chmod(0o700)
    return path
