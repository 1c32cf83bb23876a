"""Pages of a list: at most ``limit`` items, and ``next``, an opaque cursor to the next page.

A list is never cut in silence: when more may follow, the answer's ``next`` is set, and the
same request with ``?cursor=<next>`` gets the following page.  A cursor is base64url of
``<list>:<key>`` (the last item's seq, name, or ``<run id>:<seq>``); one from another list,
or tampered with, is a 400, never a wrong page.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from aiohttp import web

from litemaas_controller.api import query
from litemaas_controller.errors import BadInputError

T = TypeVar("T")

DEFAULT, MOST = 100, 1000
#: the shapes of the keys (and of the streams' event ids): a seq, a name, ``<run id>:<seq>``
SEQ = re.compile(r"[0-9]{1,18}")
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
RUN_EVENT = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]{0,62}):([0-9]{1,18})")


def limit(request: web.Request, default: int = DEFAULT) -> int:
    return query.integer(request, "limit", default, 1, MOST)


def cursor(request: web.Request, kind: str, shape: re.Pattern[str]) -> re.Match[str] | None:
    """The key the request's ``cursor`` points after, on the list ``kind``; None without one."""
    raw = request.query.get("cursor")
    if raw is None:
        return None
    try:
        text = base64.urlsafe_b64decode(raw.encode("ascii") + b"==").decode("ascii")
    except (UnicodeError, ValueError, binascii.Error):
        text = ""
    prefix, _, key = text.partition(":")
    found = shape.fullmatch(key) if prefix == kind else None
    if found is None:
        raise BadInputError(f"cursor is not one this list ({kind}) gave as next; list again")
    return found


def seq_cursor(request: web.Request, kind: str) -> int | None:
    found = cursor(request, kind, SEQ)
    return None if found is None else int(found[0])


def page(
    kind: str,
    records: Sequence[T],
    view: Callable[[T], Any],
    key: Callable[[T], object],
    size: int,
) -> dict[str, Any]:
    """The answer for ``records`` fetched with one more than ``size``: the first ``size`` as
    ``view`` shows them, and ``next`` when there are more, pointing after the last one shown."""
    body: dict[str, Any] = {"items": [view(r) for r in records[:size]]}
    if len(records) > size:
        token = base64.urlsafe_b64encode(f"{kind}:{key(records[size - 1])}".encode()).rstrip(b"=")
        body["next"] = token.decode("ascii")
    return body
