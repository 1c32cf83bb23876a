"""The healing settings: the budget's attempts/window format, the mode, the back-off's bounds."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from litemaas_controller.config import load_settings
from litemaas_controller.config.healing import HealingMode, RepairBudget, parse_budget
from litemaas_controller.errors import ConfigError
from litemaas_controller.healing.budget import backoff

pytestmark = pytest.mark.unit


def settings_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    for name in ("deploy_litemaas.yml", "remove_litemaas.yml"):
        (tmp_path / name).touch()
    return {"LITEMAAS_PLAYBOOK_DIR": str(tmp_path), "LITEMAAS_API_TOKEN": "t" * 20, **extra}


@pytest.mark.parametrize(
    ("text", "budget"),
    [("3/30m", RepairBudget(3, 1800.0)), ("1/45s", RepairBudget(1, 45.0)),
     (" 10/2h ", RepairBudget(10, 7200.0))],
)  # fmt: skip
def test_a_budget_is_attempts_per_window(text: str, budget: RepairBudget) -> None:
    assert parse_budget(text) == budget


@pytest.mark.parametrize("text", ["3", "3/30", "0/30m", "3/0m", "-1/30m", "3/30d", "3/30m\n1"])
def test_a_malformed_budget_stops_the_service_naming_the_setting(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError, match="LITEMAAS_REPAIR_BUDGET"):
        load_settings(environ=settings_env(tmp_path, LITEMAAS_REPAIR_BUDGET=text))


def test_the_defaults_and_the_mode(tmp_path: Path) -> None:
    s = load_settings(environ=settings_env(tmp_path))
    assert (s.healing, s.repair_budget, s.repair_wait_timeout) == ("repair", "3/30m", 300)
    assert load_settings(environ=settings_env(tmp_path, LITEMAAS_HEALING="observe")).healing == (
        HealingMode.OBSERVE
    )
    with pytest.raises(ConfigError, match=re.escape("LITEMAAS_HEALING must be repair | observe")):
        load_settings(environ=settings_env(tmp_path, LITEMAAS_HEALING="heal"))
    with pytest.raises(ConfigError, match="LITEMAAS_REPAIR_BACKOFF_MAX"):
        load_settings(environ=settings_env(tmp_path, LITEMAAS_REPAIR_BACKOFF_MAX="1"))


def test_the_backoff_doubles_up_to_its_ceiling_less_up_to_a_half() -> None:
    rng = random.Random(7)
    for done, full in ((1, 30.0), (2, 60.0), (3, 120.0), (6, 600.0), (40, 600.0)):
        waits = [backoff(done, 30.0, 600.0, rng) for _ in range(50)]
        assert all(full / 2 <= w <= full for w in waits) and len(set(waits)) > 1
