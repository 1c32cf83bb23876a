"""The healing settings' own formats: the mode, and the repair budget ``N/<duration>``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from litemaas_controller.errors import ConfigError


class HealingMode(StrEnum):
    #: watch, keep the health, and repair failed instances within the budget
    REPAIR = "repair"
    #: watch and keep the health only: the controller orders no repair by itself
    OBSERVE = "observe"
    #: no watch at all
    OFF = "off"


_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_BUDGET = re.compile(r"([1-9][0-9]{0,3})/([1-9][0-9]{0,6})([smh])")


@dataclass(frozen=True)
class RepairBudget:
    """At most ``attempts`` repair orders per instance within any ``window`` seconds."""

    attempts: int
    window: float

    def __str__(self) -> str:
        return f"{self.attempts}/{self.window:g}s"


def parse_mode(text: str) -> HealingMode:
    try:
        return HealingMode(text)
    except ValueError:
        choices = " | ".join(m.value for m in HealingMode)
        raise ConfigError(f"LITEMAAS_HEALING must be {choices}, got {text!r}") from None


def parse_budget(text: str) -> RepairBudget:
    """``"3/30m"`` → 3 attempts per 1800 s (units ``s``, ``m``, ``h``)."""
    found = _BUDGET.fullmatch(text.strip())
    if found is None:
        raise ConfigError(
            "LITEMAAS_REPAIR_BUDGET must be attempts/window with a unit s, m or h "
            f"(for example 3/30m), got {text!r}"
        )
    attempts, amount, unit = found.groups()
    return RepairBudget(int(attempts), int(amount) * _UNITS[unit])
