"""schemathesis against the served OpenAPI document: a bounded run of every check finds nothing.

The service runs in-process (``quick`` project: an accepted order runs a trivial playbook) with one
order already run, so the read side has records; schemathesis runs from its own venv (hack/setup.sh)
and sends the bearer token, except where its ``ignored_auth`` check leaves it out on purpose.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import pytest

from .credentials import TOKEN
from .orderkit import ORDER
from .servicekit import Service

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

SCHEMATHESIS = Path(os.environ.get("LITEMAAS_CACHE", Path.home() / ".cache/litemaas-controller"))
SCHEMATHESIS /= "schemathesis-4/bin/schemathesis"
CONFIG = Path(__file__).with_name("schemathesis.toml")  # every check, but where it says
HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
EXAMPLES = 15  # per operation and phase: bounded, so the run takes about a minute


async def test_a_bounded_schemathesis_run_finds_nothing(service: Service, tmp_path: Path) -> None:
    assert SCHEMATHESIS.exists(), f"{SCHEMATHESIS} is missing: run hack/setup.sh"
    assert (await service.post_order(ORDER)).status == 202
    await service.finished(ORDER["id"])
    url = str(service.client.make_url("/api/v1/openapi.json"))
    proc = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS),
        "--config-file",
        str(CONFIG),
        "run",
        url,
        "--header",
        f"Authorization: Bearer {TOKEN}",
        "--max-examples",
        str(EXAMPLES),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--seed",
        "42",
        "--no-color",
        cwd=tmp_path,
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    report = out.decode(errors="replace")
    (tmp_path / "schemathesis.txt").write_text(report)
    assert TOKEN not in report
    assert proc.returncode == 0, report[-6000:]
    selected = re.search(r"Operations:\s+(\d+) selected / (\d+) total", report)
    assert selected and selected[1] == selected[2], report[-2000:]
    assert f"Tested: {selected[1]}" in report and int(selected[1]) >= 20, report[-2000:]
    assert "Authentication failed" not in report, report[-2000:]  # orders reached the intake
