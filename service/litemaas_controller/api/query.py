"""Query parameters, read only as their handler's contract declares them (``api/contract.py``):
numbers are ASCII digits only, small, in the declared range; a choice is one of its ``enum``;
else a 400."""

from __future__ import annotations

import re

from aiohttp import web

from litemaas_controller.api.contract import Param, declared
from litemaas_controller.errors import BadInputError

_DIGITS = re.compile(r"[0-9]{1,18}")  # ASCII: str.isdigit() takes superscripts and more


def text(request: web.Request, param: Param) -> str | None:
    """The query parameter as sent (one of its ``enum``, if it has one), or None."""
    declared(request, param.name)
    raw = request.query.get(param.name)
    choices = param.schema.get("enum")
    if raw is not None and choices is not None and raw not in choices:
        raise BadInputError(f"{param.name} must be one of: {', '.join(choices) or '(empty)'}")
    return raw


def integer(request: web.Request, param: Param, default: int) -> int:
    """The query parameter as an integer within the schema's minimum and maximum."""
    raw = text(request, param)
    if raw is None:
        return default
    low, high = param.schema["minimum"], param.schema["maximum"]
    if _DIGITS.fullmatch(raw) is None or not low <= int(raw) <= high:
        raise BadInputError(f"{param.name} must be an integer from {low} to {high}")
    return int(raw)
