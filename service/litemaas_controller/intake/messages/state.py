"""What readiness reports about the message intake: is Redis reachable, since when, and why not."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class RedisState:
    status: str = "connecting"  # connecting, connected, down
    error: str | None = None
    since: float = field(default_factory=time.time)

    def up(self) -> None:
        if self.status != "connected":
            self.status, self.error, self.since = "connected", None, time.time()

    def down(self, error: str) -> None:
        if self.status != "down":
            self.since = time.time()
        self.status, self.error = "down", error

    def snapshot(self) -> dict[str, Any]:
        return {"status": self.status, "error": self.error, "since": self.since}
