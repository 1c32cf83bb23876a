"""HTTP to a sandbox's routes with curl, as a client outside the cluster sees them, and response
bodies fit for an assertion message."""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

from sandbox import Sandbox


def shown(body: Any) -> str:
    """A response body for an assertion message, with anything shaped like a key masked."""
    return re.sub(r"sk-[A-Za-z0-9_\-]+", "sk-***", str(body))[:800]


def curl(
    box: Sandbox,
    method: str,
    url: str,
    *,
    key: str | None = None,
    body: Any = None,
    timeout: float = 60,
) -> tuple[int, Any]:
    """curl with nothing but the sandbox's env (router proxy and CA bundle) and PATH. The key
    and body go through curl's config on stdin, never on a command line. Returns (status, JSON
    body or text)."""

    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    config = [f"url = {quoted(url)}", f"request = {quoted(method)}"]
    if key is not None:
        config.append(f"header = {quoted('Authorization: Bearer ' + key)}")
    if body is not None:
        config.append(f"header = {quoted('Content-Type: application/json')}")
        config.append(f"data-binary = {quoted(json.dumps(body))}")
    env = {**box.env(), "PATH": os.environ.get("PATH", os.defpath)}
    result = subprocess.run(
        ["curl", "-sS", "--max-time", str(int(timeout)), "-w", "\n%{http_code}", "-K", "-"],
        input="\n".join(config) + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout + 10,
        check=False,
    )
    if result.returncode != 0:
        return 0, result.stderr.strip()
    text, _, code = result.stdout.rpartition("\n")
    try:
        return int(code), json.loads(text)
    except ValueError:
        return int(code), text
