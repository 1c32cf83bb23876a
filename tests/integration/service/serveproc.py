"""`litemaas-controller serve` as a real subprocess, for kill -9 and SIGTERM tests."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from litemaas_controller.intake.auth import signed_headers
from waiting import wait_until

from .credentials import BEARER, SECRET, TOKEN
from .servicekit import TERMINAL

CLI = str(Path(sys.executable).parent / "litemaas-controller")


class ServeProcess:
    #: start it as the leader of a session of its own (a replica's container: see replicakit)
    NEW_SESSION = False

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
                [CLI, "serve"],
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                start_new_session=self.NEW_SESSION,
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
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.send_signal(signal.SIGUSR2)  # its tasks' stacks, into the log
            time.sleep(0.5)
            self.proc.send_signal(signal.SIGUSR1)  # its threads' stacks, into the log
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(2)
            tail = self.log.read_text()[-8000:]
            raise AssertionError(f"serve did not stop {timeout} s after SIGTERM:\n{tail}") from None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.terminate()

    def request(
        self, method: str, path: str, body: bytes | None = None, **headers: str
    ) -> tuple[int, Any]:
        """(status, decoded JSON) of one API call, with the read-side bearer token."""
        request = urllib.request.Request(
            self.url + path, data=body, method=method, headers={**BEARER, **headers}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def submit(self, order: dict[str, Any]) -> tuple[int, Any]:
        """POST an order, signed as the catalog signs it."""
        body = json.dumps(order).encode()
        headers = {**signed_headers(SECRET, body, time.time()), "Content-Type": "application/json"}
        return self.request("POST", "/api/v1/orders", body, **headers)

    def order(self, order_id: str) -> dict[str, Any] | None:
        status, view = self.request("GET", f"/api/v1/orders/{order_id}")
        return view if status == 200 else None

    def finished(self, order_id: str, timeout: float = 600) -> dict[str, Any]:
        """The order's view once it has ended."""
        view: dict[str, Any] = wait_until(
            lambda: (o := self.order(order_id)) and o["status"] in TERMINAL and o,
            timeout=timeout,
            what=f"order {order_id} to end",
        )
        return view
