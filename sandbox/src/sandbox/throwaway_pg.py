"""A throwaway PostgreSQL 15 on loopback for one test session or benchmark run.

initdb and postgres refuse to run as root, so when the tests run as root the server
runs as the `postgres` system user (setpriv). The data directory lives in a temporary
directory owned by that user; stop() leaves no process and no file behind.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

PG_BIN = Path("/usr/lib/postgresql/15/bin")
SUPERUSER = "litellm_admin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayPostgres:
    def __init__(self) -> None:
        self.password = secrets.token_urlsafe(18)
        self.port = 0
        self.root = Path(tempfile.mkdtemp(prefix="litemaas-pg-"))
        self.process: subprocess.Popen[bytes] | None = None

    def _as_owner(self) -> list[str]:
        if os.geteuid() != 0:
            return []
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]

    def start(self) -> ThrowawayPostgres:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        pwfile = self.root / "pw"
        pwfile.write_text(self.password)
        if os.geteuid() == 0:
            shutil.chown(pwfile, "postgres", "postgres")
        data = self.root / "data"
        subprocess.run(
            [
                *self._as_owner(),
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile}",
                "-A",
                "scram-sha-256",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            cwd=self.root,
        )
        pwfile.unlink()
        self.port = free_port()
        self._launch()
        return self

    def _launch(self) -> None:
        data = self.root / "data"
        log = (self.root / "postgres.log").open("ab")
        self.process = subprocess.Popen(
            [
                *self._as_owner(),
                str(PG_BIN / "postgres"),
                "-D",
                str(data),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-k",
                str(self.root),
                # Throwaway data: durability buys nothing and costs seconds.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self.root,
            start_new_session=True,
        )
        log.close()
        self._wait_ready()

    def restart(self) -> None:
        """Fast shutdown (every client disconnected), then the same data and port."""
        self.shutdown()
        self._launch()

    def shutdown(self) -> None:
        """Fast shutdown, keeping the data: ``relaunch`` starts it again on the same port."""
        assert self.process is not None
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=20)

    def relaunch(self) -> None:
        self._launch()

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.log_tail()}")
            ready = subprocess.run(
                [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                capture_output=True,
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"postgres not ready after {timeout}s: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.root / "postgres.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def url(self, database: str = "postgres") -> str:
        return (
            f"postgresql://{SUPERUSER}:{quote(self.password, safe='')}"
            f"@127.0.0.1:{self.port}/{database}"
        )

    def psql(self, sql: str, database: str = "postgres", **params: str) -> str:
        """Runs SQL; values go in as psql variables (`:'name'` in the SQL), quoted by
        psql itself."""
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            "PGHOST": "127.0.0.1",
            "PGPORT": str(self.port),
            "PGUSER": SUPERUSER,
            "PGPASSWORD": self.password,
            "PGDATABASE": database,
        }
        variables = [arg for key, value in params.items() for arg in ("-v", f"{key}={value}")]
        result = subprocess.run(
            # Through stdin, not -c: psql interpolates variables only there.
            ["psql", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-At", *variables],
            input=sql,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return result.stdout.strip()

    def create_database(self, name: str, template: str | None = None) -> str:
        clause = f' TEMPLATE "{template}"' if template else ""
        self.psql(f'CREATE DATABASE "{name}"{clause}')
        return self.url(name)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            # SIGINT is PostgreSQL's "fast" shutdown: disconnect clients, exit.
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)
