"""The collection's module_utils are imported as Ansible imports them, from the collections path.

Put on ``sys.path`` here, once, before pytest collects the test modules of this folder.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
COLLECTIONS = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or str(REPO / ".venv" / "collections")
if COLLECTIONS not in sys.path:
    sys.path.insert(0, COLLECTIONS)
