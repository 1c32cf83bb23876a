"""One service per ledger: an exclusive lock on ``ledger.lock`` beside the ledger, held for the
service's whole life.

SQLite's own locks guard one transaction. Two services on one state directory (a pod still
stopping while its replacement starts on the same volume) would each take the other's running runs
for interrupted ones and end them. ``flock`` is released by the kernel when its holder exits, even
by ``kill -9``; the descriptor is not inherited by the runs' processes (close-on-exec), so a run
that outlives its service does not keep the lock.
"""

from __future__ import annotations

import fcntl
import os
import socket
from pathlib import Path

LOCK_FILE = "ledger.lock"


class LedgerLock:
    """The lock of the ledger in ``state_dir``; its holder writes who it is into the file."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock if it is free; True while this process holds it."""
        if self._fd is None:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{socket.gethostname()} (pid {os.getpid()})\n".encode(), 0)
        return True

    def holder(self) -> str:
        """Who holds the lock, as it wrote itself: its host name (a pod's name) and process id."""
        try:
            return self.path.read_text().strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None
