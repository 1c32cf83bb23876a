"""Pages of a list: at most ``limit`` items, and ``next``, an opaque cursor to the next page.

A list is never cut in silence: when more may follow, the answer's ``next`` is set, and the
same request with ``?cursor=<next>`` gets the following page.  A cursor is base64url of
``<list>:<key>`` (the last item's seq, or name); one from another list, or tampered with, is a
400, never a wrong page.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from litemaas_controller.api import query
from litemaas_controller.errors import BadInputError

DEFAULT, MOST = 100, 1000
_SEQ = re.compile(r"[0-9]{1,18}")
_KEY = re.compile(
    r"[a-z-]{1,32}:([0-9]{1,18}|[a-z0-9][a-z0-9-]{0,62}|[A-Za-z0-9-]{1,64}:[0-9]{1,18})"
)


def limit(request: web.Request, default: int = DEFAULT) -> int:
    return query.integer(request, "limit", default, 1, MOST)


def cursor(request: web.Request, kind: str) -> str | None:
    """The key the request's ``cursor`` points after, on the list ``kind``; None without one."""
    raw = request.query.get("cursor")
    if raw is None:
        return None
    try:
        text = base64.urlsafe_b64decode(raw.encode("ascii") + b"==").decode("ascii")
    except (UnicodeError, ValueError, binascii.Error):
        text = ""
    if _KEY.fullmatch(text) is None or not text.startswith(kind + ":"):
        raise BadInputError(f"cursor is not one this list ({kind}) gave as next; list again")
    return text[len(kind) + 1 :]


def seq_cursor(request: web.Request, kind: str) -> int | None:
    key = cursor(request, kind)
    if key is not None and _SEQ.fullmatch(key) is None:
        raise BadInputError(f"cursor is not one this list ({kind}) gave as next; list again")
    return None if key is None else int(key)


def page(kind: str, items: Sequence[Any], keys: Sequence[str], size: int) -> dict[str, Any]:
    """The answer for ``items`` fetched with one more than ``size``: ``next`` when there are
    more, pointing after the last item shown (whose key is in ``keys``)."""
    shown = list(items[:size])
    body: dict[str, Any] = {"items": shown}
    if len(items) > size:
        token = base64.urlsafe_b64encode(f"{kind}:{keys[size - 1]}".encode()).rstrip(b"=")
        body["next"] = token.decode("ascii")
    return body
