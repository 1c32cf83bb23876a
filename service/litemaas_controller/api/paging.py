"""Pages of a list: at most ``limit`` items, and ``next``, the cursor to the next page.

A list is never cut in silence: when more may follow, the answer's ``next`` is set, and the
same request with ``?cursor=<next>`` gets the following page.  A cursor is ``<list>:<key>``
(the last item's seq, name, or ``<run id>:<seq>``), and the OpenAPI document gives each list's
cursor as a whole-string pattern: one from another list, or of another shape, is a 400, never
a wrong page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from aiohttp import web

from litemaas_controller.api import query
from litemaas_controller.api.contract import Param
from litemaas_controller.errors import BadInputError

T = TypeVar("T")

DEFAULT, MOST = 100, 1000
#: the shapes of the keys (and of the streams' event ids): a seq, a name, ``<run id>:<seq>``
SEQ = re.compile(r"[0-9]{1,18}")
NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
RUN_EVENT = re.compile(r"([A-Za-z0-9][A-Za-z0-9-]{0,62}):([0-9]{1,18})")


@dataclass(frozen=True)
class Listing:
    """One paged list: its name (the cursors' prefix), its keys' shape, its default page size."""

    kind: str
    shape: re.Pattern[str]
    default: int = DEFAULT

    @cached_property
    def limit_param(self) -> Param:
        return Param.integer("limit", 1, MOST, f"the most items in this page ({self.default})")

    @cached_property
    def cursor_param(self) -> Param:
        pattern = rf"^{re.escape(self.kind)}:(?:{self.shape.pattern})$"
        return Param.text("cursor", "the `next` of the previous page", pattern=pattern)

    @property
    def params(self) -> tuple[Param, Param]:
        """The query parameters of the list (for its contract)."""
        return self.limit_param, self.cursor_param

    def limit(self, request: web.Request) -> int:
        return query.integer(request, self.limit_param, self.default)

    def cursor(self, request: web.Request) -> re.Match[str] | None:
        """The key the request's ``cursor`` points after; None without one."""
        raw = query.text(request, self.cursor_param)
        if raw is None:
            return None
        prefix, _, key = raw.partition(":")
        found = self.shape.fullmatch(key) if prefix == self.kind else None
        if found is None:
            raise BadInputError(
                f"cursor is not one this list ({self.kind}) gave as next; list again"
            )
        return found

    def seq(self, request: web.Request) -> int | None:
        """The seq the request's ``cursor`` points after (lists keyed by seq)."""
        found = self.cursor(request)
        return None if found is None else int(found[0])

    def page(
        self,
        records: Sequence[T],
        view: Callable[[T], Any],
        key: Callable[[T], object],
        size: int,
    ) -> dict[str, Any]:
        """The answer for ``records`` fetched with one more than ``size``: the first ``size`` as
        ``view`` shows them, and ``next`` when there are more, after the last one shown."""
        body: dict[str, Any] = {"items": [view(r) for r in records[:size]]}
        if len(records) > size:
            body["next"] = f"{self.kind}:{key(records[size - 1])}"
        return body
