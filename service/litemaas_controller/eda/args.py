"""An event source's arguments, checked when it starts: a wrong rulebook fails at once, by name."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from litemaas_controller.errors import ConfigError


class Args:
    """Typed reads of a source's ``args`` that refuse unknown names and wrong types."""

    def __init__(self, source: str, args: Mapping[str, Any], known: set[str]) -> None:
        self._source = source
        self._args = dict(args)
        unknown = sorted(set(self._args) - known)
        if unknown:
            self.fail(f"unknown arguments {unknown}; it takes {sorted(known)}")

    def fail(self, problem: str) -> NoReturn:
        raise ConfigError(f"{self._source}: {problem}")

    def text(self, name: str, default: str | None = None) -> str | None:
        """A string; an empty one counts as not given (a rulebook's ``{{ X | default('') }}``)."""
        value = self._args.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # ansible-rulebook renders "{{ X }}" natively: "123" arrives as 123
        if value is not None and not isinstance(value, str):
            self.fail(f"{name} must be a string")
        return value or default

    def required_text(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            self.fail(f"{name} is required")
        return value

    def _value(self, name: str, default: Any) -> Any:
        value = self._args.get(name)
        if isinstance(value, str):  # a rendered "{{ X | default(...) }}": numbers stay text
            value = _number(value)
        return default if value in (None, "") else value

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value = self._value(name, default)
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if not numeric or not low <= value <= high:
            self.fail(f"{name} must be a number from {low:g} to {high:g}")
        return float(value)

    def integer(self, name: str, default: int | None, low: int, high: int) -> int:
        value = self._value(name, default)
        if value is None:
            self.fail(f"{name} is required")
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(f"{name} must be an integer from {low} to {high}")
        return int(value)

    def path(self, name: str) -> Path | None:
        value = self.text(name)
        return None if value is None else Path(value)

    def texts(self, name: str) -> tuple[str, ...]:
        value = self._args.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(f"{name} must be a list of non-empty strings")
        return tuple(value)


def _number(text: str) -> int | float | str:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text
