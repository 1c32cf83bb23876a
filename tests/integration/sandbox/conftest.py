from __future__ import annotations

import pytest

from sandbox import Sandbox
from sandbox.agent.kube import Kube


@pytest.fixture
def kube(sandbox_aws: Sandbox) -> Kube:
    return sandbox_aws.kube()
