"""Order ids seen inside the replay window, optionally kept in a state file across restarts.

The webhook refuses an id it has seen in the window: a captured signed request replayed inside
its timestamp window runs nothing, and a catalog retry of the same order is told it was taken.
The file is JSON (``{"id": [expires_at, body_sha256]}``), rewritten whole and atomically after
each new id and before the order's event is queued: a crash may lose an order that was never
run (the sender retries it), never run one twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path


def digest(canonical: str) -> str:
    return hashlib.sha256(canonical.encode()).hexdigest()


class SeenIds:
    def __init__(self, window: float, path: Path | None) -> None:
        self._window = window
        self._path = path
        self._seen: dict[str, tuple[float, str]] = {}
        if path is not None and path.exists():
            raw = json.loads(path.read_text(encoding="utf-8"))
            self._seen = {str(k): (float(v[0]), str(v[1])) for k, v in raw.items()}

    def get(self, order_id: str, now: float) -> str | None:
        """The body digest ``order_id`` was taken with, if it was inside the window."""
        seen = self._seen.get(order_id)
        return seen[1] if seen is not None and seen[0] > now else None

    def add(self, order_id: str, body_digest: str, now: float) -> None:
        self._seen = {k: v for k, v in self._seen.items() if v[0] > now}
        self._seen[order_id] = (now + self._window, body_digest)
        if self._path is not None:
            self._write(self._path)

    def _write(self, path: Path) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({k: list(v) for k, v in self._seen.items()}, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
