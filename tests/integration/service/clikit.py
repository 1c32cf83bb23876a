"""The command line, run as a process against an in-process service."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from .credentials import SECRET, TOKEN
from .servicekit import Service

CLI = str(Path(sys.executable).parent / "litemaas-controller")


async def cli(svc: Service, *args: str, secret: str | None = SECRET) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "LITEMAAS_URL": str(svc.client.make_url("")).rstrip("/"),
        "LITEMAAS_API_TOKEN": TOKEN,
    }
    env.pop("LITEMAAS_WEBHOOK_SECRET", None)
    if secret:
        env["LITEMAAS_WEBHOOK_SECRET"] = secret
    proc = await asyncio.create_subprocess_exec(
        CLI, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()
