"""What each endpoint promises, declared on its handler with ``@promises(...)``.

The OpenAPI document is made from these and the router (``api/openapi.py``), so a route cannot
be served without being documented; and a handler reads only the query parameters it declares
(``api/query.py`` asks ``declared()``), so the document cannot miss one either.  A request with
a query parameter its operation does not take is a 400: ``?instnace=x`` never lists everything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler

from litemaas_controller.errors import BadInputError

H = TypeVar("H", bound=Callable[..., Any])

_ATTRIBUTE = "__litemaas_contract__"


@dataclass(frozen=True)
class Param:
    """A query parameter: its name, JSON schema and what it means."""

    name: str
    schema: Mapping[str, Any]
    description: str

    @classmethod
    def integer(cls, name: str, low: int, high: int, description: str) -> Param:
        return cls(name, {"type": "integer", "minimum": low, "maximum": high}, description)

    @classmethod
    def text(cls, name: str, description: str, **schema: Any) -> Param:
        return cls(name, {"type": "string", **schema}, description)


@dataclass(frozen=True)
class Contract:
    summary: str
    #: status code -> what it means
    answers: Mapping[str, str]
    #: the schema (``#/components/schemas/<name>``) of every 2xx JSON answer
    returns: str
    query: tuple[Param, ...] = ()
    #: path parameters narrower than any string (by name)
    path: tuple[Param, ...] = ()
    #: ``?follow=1`` answers server-sent events instead of the JSON list
    streams: bool = False
    #: the schema of the JSON request body, if the operation takes one
    body: str | None = None
    #: the media type of the 2xx answers
    media: str = "application/json"


def promises(
    summary: str,
    answers: Mapping[str, str],
    returns: str,
    query: tuple[Param, ...] = (),
    *,
    path: tuple[Param, ...] = (),
    streams: bool = False,
    body: str | None = None,
    media: str = "application/json",
) -> Callable[[H], H]:
    """Declare a handler's contract (read by the OpenAPI document and by ``declared``)."""
    contract = Contract(summary, answers, returns, query, path, streams, body, media)

    def mark(handler: H) -> H:
        setattr(handler, _ATTRIBUTE, contract)
        return handler

    return mark


def of(handler: object) -> Contract | None:
    found = getattr(handler, _ATTRIBUTE, None)
    return found if isinstance(found, Contract) else None


def declared(request: web.Request, name: str) -> None:
    """Refuse, as a defect of ours, to read a query parameter the handler does not declare."""
    contract = of(request.match_info.handler)
    if contract is None or all(p.name != name for p in contract.query):
        raise RuntimeError(f"{request.path} reads ?{name}, which its contract does not declare")


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    contract = of(request.match_info.handler)
    if contract is not None:
        known = {p.name for p in contract.query}
        unknown = sorted(set(request.query) - known)
        if unknown:
            names = ", ".join(repr(name[:40]) for name in unknown[:3])
            takes = ", ".join(sorted(known)) or "none"
            raise BadInputError(f"unknown query parameter {names}; this operation takes: {takes}")
    return await handler(request)
