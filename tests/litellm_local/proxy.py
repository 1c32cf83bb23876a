"""A real LiteLLM proxy process, started the way the sandbox's node agent starts one:
through runtime.proxy_command() with a pod-like environment."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.litellm import runtime
from sandbox.throwaway_pg import free_port

# ~20 s on an idle 2-core machine; a minute when other work shares it.
READY_TIMEOUT = 180.0


@dataclass
class Reply:
    status: int
    body: Any

    @property
    def error(self) -> dict[str, Any]:
        """LiteLLM's error envelope: {"error": {"message", "type", "param", "code"}}."""
        assert isinstance(self.body, dict) and "error" in self.body, self.body
        return self.body["error"]


def call(
    method: str,
    url: str,
    *,
    key: str | None = None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60,
) -> Reply:
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError(f"tests only talk to loopback servers, not {url}")
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        raw = error.read()
        status = error.code
    try:
        parsed: Any = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return Reply(status, parsed)


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            found.extend(int(p) for p in (task / "children").read_text().split())
    return found


class Proxy:
    def __init__(
        self,
        workdir: Path,
        env: dict[str, str],
        trace: Path | None = None,
        entrypoint: bool = False,
    ) -> None:
        self.workdir = workdir
        self.env = env
        self.trace = trace
        # container_command (migrate, then exec the proxy) instead of proxy_command.
        self.entrypoint = entrypoint
        self.port = free_port()
        self.log_path = workdir / f"proxy-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.ready_seconds = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def master_key(self) -> str:
        return self.env["LITELLM_MASTER_KEY"]

    def start(self) -> Proxy:
        command = runtime.container_command if self.entrypoint else runtime.proxy_command
        argv, env = command(self.env, self.port, host="127.0.0.1")
        if self.trace is not None:
            env["LITEMAAS_ENGINE_TRACE"] = str(self.trace)
        started = time.monotonic()
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                argv,
                env=env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Own process group: stop() takes the engine stand-in down with it.
                start_new_session=True,
            )
        self._wait_ready()
        self.ready_seconds = time.monotonic() - started
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"proxy exited with {self.process.returncode}: {self.log_tail()}"
                )
            try:
                reply = call("GET", f"{self.url}/health/readiness", timeout=5)
            except OSError:
                reply = None
            if reply is not None and reply.status == 200 and reply.body.get("db") == "connected":
                return
            time.sleep(0.25)
        raise RuntimeError(f"proxy not ready after {READY_TIMEOUT}s: {self.log_tail()}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, size: int = 4000) -> str:
        return self.log_text()[-size:]

    def engine_pid(self) -> int:
        assert self.process is not None
        for pid in children(self.process.pid):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue  # a child that was reaped after it was listed (a killed engine)
            if any(part.endswith(b"main.mjs") for part in cmdline):
                return pid
        raise LookupError("no query-engine stand-in under the proxy")

    def api(self, method: str, path: str, body: Any = None, key: str | None = None) -> Reply:
        return call(method, f"{self.url}{path}", key=key or self.master_key, body=body)

    def stop(self) -> None:
        if self.process is None:
            return
        pgid = self.process.pid
        if self.process.poll() is None:
            # The proxy alone, as a kubelet would: it stops its engine itself. Signalling
            # the whole group at once makes LiteLLM see its engine die mid-shutdown and
            # spawn a new one.
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        # Whatever is left in the group (the engine stand-in, if the proxy died first).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        self.process = None
