"""The suite's own guard rails work: a test that leaves an asyncio task behind fails."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

LEAKY = """
import asyncio

async def test_leaks_a_task():
    asyncio.get_running_loop().create_task(asyncio.sleep(3600))

async def test_cleans_up():
    task = asyncio.get_running_loop().create_task(asyncio.sleep(3600))
    task.cancel()
"""


def test_a_test_leaving_an_asyncio_task_fails(pytester: pytest.Pytester) -> None:
    # The root conftest's fixture is copied in, so this checks the real thing.
    root_conftest = Path(__file__).resolve().parents[1] / "conftest.py"
    source = root_conftest.read_text()
    fixture = source[
        source.index("@pytest.fixture(autouse=True)") : source.index("@pytest.fixture(scope")
    ]
    pytester.makeconftest(
        "from __future__ import annotations\nimport asyncio\n"
        "from collections.abc import AsyncIterator\nimport pytest\n\n" + fixture
    )
    pytester.makepyfile(LEAKY)
    result = pytester.runpytest(
        "-o", "asyncio_mode=auto", "-o", "asyncio_default_fixture_loop_scope=function"
    )
    # the leaking test's body passes; the guard errors in its teardown
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*test left 1 asyncio task(s) running*"])
