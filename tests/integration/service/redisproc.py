"""Our own real Redis (Debian's redis-server) on a free loopback port, in a temporary directory.

With ``appendonly yes`` and ``appendfsync always``, as FACTS.md requires of a Redis that is
restarted and must lose nothing, and a password (a canary that must never show in a log).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
import redis

PASSWORD = "redis-canary-5d1f9b3e7a2c"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    def __init__(self, directory: Path, also_bind: tuple[str, ...] = ()) -> None:
        """``also_bind``: addresses to listen on besides loopback (the sandbox's pod network)."""
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed (apt-get install -y redis-server)")
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.also_bind = also_bind
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://:{PASSWORD}@127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, password=PASSWORD, decode_responses=True)

    def start(self) -> RedisServer:
        args = ["redis-server", "--bind", "127.0.0.1", *self.also_bind, "--port", str(self.port)]
        args += ["--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "always"]
        args += ["--save", "", "--requirepass", PASSWORD, "--logfile", str(self.dir / "log")]
        self.proc = subprocess.Popen(args)
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(redis.ConnectionError, redis.BusyLoadingError):
                if self.client().ping():
                    return self
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"redis-server did not start: {self.dir / 'log'}")
            time.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: what a crash does (appendfsync always has written every command)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | Any) -> None:
        self.stop()
