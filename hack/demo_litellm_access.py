"""`make demo`'s LiteLLM access: the Route URL, and a curl that lists the models with the
instance's master key through the sandbox's router.

The key is read from the instance's Secret `litellm-secret` and written into a curl config file
(mode 0600) under the sandbox directory, so it is never printed nor put on a command line.
Usage: demo_litellm_access.py SANDBOX_DIR STATE_DIR INSTANCE_JSON
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from sandbox import Sandbox


def main(sandbox_dir: str, state_dir: str, instance_json: str) -> int:
    # `instances show` prints the record, then a line of health: the first JSON value is it
    record, _ = json.JSONDecoder().raw_decode(Path(instance_json).read_text())
    results = record.get("results") or {}
    ns = record.get("namespace") or results.get("namespace")
    url = results.get("api_url")
    if not ns or not url:
        print("the instance has no LiteLLM URL yet (see its order's results)")
        return 1
    box = Sandbox(Path(sandbox_dir))
    secret = box.kube().get(f"/api/v1/namespaces/{ns}/secrets/litellm-secret")
    if secret is None or "LITELLM_MASTER_KEY" not in secret.get("data", {}):
        print(f"no LITELLM_MASTER_KEY in Secret {ns}/litellm-secret")
        return 1
    key = base64.b64decode(secret["data"]["LITELLM_MASTER_KEY"]).decode()
    curlrc = Path(state_dir) / f"litellm-{record.get('name', 'instance')}.curlrc"
    fd = os.open(curlrc, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f'header = "Authorization: Bearer {key}"\n')
    command = f"source {sandbox_dir}/env; curl -sS -K {curlrc} {url}/v1/models"
    print(f"LiteLLM: {url}  (namespace {ns})")
    print("List the models with the instance's master key, through the sandbox's router:")
    print(f"  {command}")
    env = {**box.env(), "PATH": os.environ.get("PATH", os.defpath)}
    deadline = time.monotonic() + 120
    while True:
        result = subprocess.run(
            ["curl", "-sS", "--max-time", "20", "-K", str(curlrc), f"{url}/v1/models"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode == 0 and result.stdout.lstrip().startswith("{"):
            print(f"  -> {result.stdout.strip()}")
            return 0
        if time.monotonic() > deadline:
            print(f"  -> no answer yet: {(result.stderr or result.stdout).strip()[:300]}")
            return 1
        time.sleep(2)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
