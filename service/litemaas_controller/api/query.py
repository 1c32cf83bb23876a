"""Query parameters that are numbers: ASCII digits only, small, in range; else a 400."""

from __future__ import annotations

import re

from aiohttp import web

from litemaas_controller.errors import BadInputError

_DIGITS = re.compile(r"[0-9]{1,18}")  # ASCII: str.isdigit() takes superscripts and more


def integer(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    """The query parameter ``name`` as an integer from ``low`` to ``high``."""
    raw = request.query.get(name)
    if raw is None:
        return default
    if _DIGITS.fullmatch(raw) is None or not low <= int(raw) <= high:
        raise BadInputError(f"{name} must be an integer from {low} to {high}")
    return int(raw)
