"""`litemaas-controller serve` as a real subprocess, for kill -9 and SIGTERM tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from .conftest import BEARER, SECRET, TOKEN

CLI = str(Path(sys.executable).parent / "litemaas-controller")


class ServeProcess:
    def __init__(self, state_dir: Path, playbook_dir: Path, log: Path, **env: str) -> None:
        self.log = log
        self.env = {
            **os.environ,
            "LITEMAAS_LISTEN": "127.0.0.1:0",
            "LITEMAAS_WEBHOOK_SECRET": SECRET,
            "LITEMAAS_API_TOKEN": TOKEN,
            "LITEMAAS_STATE_DIR": str(state_dir),
            "LITEMAAS_PLAYBOOK_DIR": str(playbook_dir),
            "LITEMAAS_KILL_GRACE": "2",
            "LITEMAAS_RUN_ENV_PASSTHROUGH": "LITEMAAS_TEST_EVIDENCE",
            **env,
        }
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> ServeProcess:
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                [CLI, "serve"], env=self.env, stdout=subprocess.PIPE, stderr=log, text=True
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # blocks until the socket is bound (or it died)
        match = re.search(r"listening on (http://\S+)", line)
        assert match, f"serve did not start: {line!r}\n{self.log.read_text()}"
        self.url = match.group(1)
        return self

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.terminate()

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, **kwargs: Any
    ) -> tuple[int, Any]:
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, self.url + path, headers=headers or BEARER, **kwargs
            ) as response,
        ):
            return response.status, await response.json(content_type=None)

    async def finished(self, order_id: str) -> dict[str, Any]:
        """Follow the order's server-sent events until the `end` event; return its data."""
        import json

        last: dict[str, Any] = {}
        kind = ""
        timeout = aiohttp.ClientTimeout(total=None)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(
                f"{self.url}/api/v1/orders/{order_id}/events?follow=1", headers=BEARER
            ) as response,
        ):
            async for raw in response.content:
                line = raw.decode().strip()
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:") and kind == "end":
                    last = json.loads(line[5:])
        return last
