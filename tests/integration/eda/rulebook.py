"""The real ansible-rulebook (and its Java) running this collection's rulebook, as a process.

Started in a session of its own, as a decision environment's container runs it: ``kill()``
SIGKILLs the whole session (ansible-rulebook, its Java, and the playbook it is running), which
is what the crash of an activation's container does.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from litemaas_controller.intake.auth import signed_headers
from waiting import wait_until

REPO = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
SECRET = "eda-webhook-canary-8c1e5a"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def collection_tree(root: Path, replace: dict[str, Path] | None = None) -> Path:
    """A collections path whose rhpds.litemaas is this checkout, file for file, except the
    playbooks named in ``replace`` (stand-ins); kubernetes.core as the checkout has it."""
    coll = root / "ansible_collections" / "rhpds" / "litemaas"
    coll.mkdir(parents=True)
    for entry in ("galaxy.yml", "meta", "plugins", "roles", "extensions", "rulebooks"):
        (coll / entry).symlink_to(REPO / entry)
    (coll / "playbooks").mkdir()
    for playbook in (REPO / "playbooks").glob("*.yml"):
        stand_in = (replace or {}).get(playbook.name, playbook)
        (coll / "playbooks" / playbook.name).symlink_to(stand_in)
    core = REPO / ".venv" / "collections" / "ansible_collections" / "kubernetes" / "core"
    (root / "ansible_collections" / "kubernetes").mkdir()
    (root / "ansible_collections" / "kubernetes" / "core").symlink_to(core.resolve())
    return root


class Rulebook:
    def __init__(
        self,
        workdir: Path,
        collections: Path,
        rulebook: str,
        inventory: Path,
        env: dict[str, str],
        redis_url: str,
        consumer: str = "eda-test",
        health_grace: float = 86400,
    ) -> None:
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.log = self.dir / "ansible-rulebook.log"
        self.proc: subprocess.Popen[bytes] | None = None
        settings = {
            "litemaas_webhook_host": "127.0.0.1",
            "litemaas_webhook_port": self.port,
            "litemaas_webhook_state_file": str(self.dir / "seen.json"),
            "litemaas_consumer": consumer,
            "litemaas_claim_idle": 1,
            # the sandbox is shared: instances other tests left failed draw no repair here
            "litemaas_health_grace": health_grace,
        }
        (self.dir / "vars.yml").write_text(json.dumps(settings))
        self.argv = [
            str(BIN / "ansible-rulebook"), "-r", rulebook, "-i", str(inventory),
            "--vars", str(self.dir / "vars.yml"),
            "--env-vars", "LITEMAAS_WEBHOOK_SECRET,LITEMAAS_REDIS_URL",
        ]  # fmt: skip
        self.env = {
            **os.environ,
            **env,
            "ANSIBLE_COLLECTIONS_PATH": str(collections),
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "ANSIBLE_NOCOLOR": "1",
            "LITEMAAS_WEBHOOK_SECRET": SECRET,
            "LITEMAAS_REDIS_URL": redis_url,
        }

    def start(self) -> Rulebook:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.dir, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        wait_until(self._listening, 60, f"ansible-rulebook's webhook (log {self.log})")
        return self

    def _listening(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"ansible-rulebook exited: {self.output()[-3000:]}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def runs(self, play: str) -> int:
        """How many times a play of that name has started (each run of an eda_* playbook)."""
        return self.output().count(f"PLAY [{play}]")

    def kill(self) -> None:
        """SIGKILL to the whole session: a crash of the activation and of the run it was doing."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(15)
        finally:
            # ansible-rulebook gone, a playbook it started may not be: nothing is left running
            if _group_alive(self.proc.pid):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def post(self, order: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """POST an order signed with the rulebook's secret (or with ``headers`` as given)."""
        body = json.dumps(order).encode()
        sent = headers if headers is not None else signed_headers(SECRET, body, time.time())
        return self.post_raw(body, sent)

    def post_raw(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/v1/orders",
            data=body,
            headers={"Content-Type": "application/json", **headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
