"""The PostgreSQL ledger's password, read from its file for every new connection.

A Secret mounted as a file (no ``subPath``) is updated in place by the kubelet when it changes:
reading the file again for each connection the pool opens lets a rotated password reach the
controller without a restart.  Connections already open stay (PostgreSQL keeps a session when
its role's password changes); the pool replaces them as they break or reach their lifetime.
Every value ever read is blanked from the messages built from the driver's errors.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any


class Password:
    """``path``'s content (a trailing newline dropped); none: libpq's own environment."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._seen: set[str] = set()

    def read(self) -> str:
        """The password as the file holds it now ("" without a file)."""
        value = self._path.read_text(encoding="utf-8").strip() if self._path else ""
        if value:
            self._seen.add(value)
        return value

    async def connect_kwargs(self, **kwargs: Any) -> dict[str, Any]:
        """``kwargs`` with the current password: the pool's ``kwargs`` for each connection."""
        return {**kwargs, "password": await asyncio.to_thread(self.read) or None}

    def blank(self, message: str) -> str:
        """``message`` with every password read so far replaced by ``***``."""
        for value in sorted(self._seen, key=len, reverse=True):
            message = message.replace(value, "***")
        return message
