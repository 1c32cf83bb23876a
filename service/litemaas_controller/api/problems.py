"""The one place errors become HTTP answers: RFC 7807 ``application/problem+json``."""

from __future__ import annotations

import json
import logging
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from litemaas_controller import errors

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"

_STATUS: list[tuple[type[errors.ControllerError], int]] = [
    (errors.MalformedError, 400),
    (errors.AuthError, 401),
    (errors.NotFoundError, 404),
    (errors.ConflictError, 409),
    (errors.TooLargeError, 413),
    (errors.UnsupportedMediaError, 415),
    (errors.InvalidError, 422),
    (errors.BadInputError, 400),
    (errors.ClusterError, 502),
    (errors.ClusterRefusedError, 502),
    (errors.UnavailableError, 503),
    (errors.TemporaryError, 503),
    (errors.PermanentError, 500),
]

_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Unprocessable order",
    500: "Internal error",
    502: "Cluster error",
    503: "Unavailable",
}


def status_of(error: errors.ControllerError) -> int:
    return next(code for kind, code in _STATUS if isinstance(error, kind))


def problem(status: int, detail: str, kind: str, **extra: Any) -> web.Response:
    body = {
        "type": f"urn:litemaas:problem:{kind}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        **extra,
    }
    response = web.Response(status=status, text=json.dumps(body), content_type=PROBLEM)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="litemaas-controller"'
    return response


def _from_http(exc: web.HTTPException, max_body: int) -> web.Response:
    if exc.status == 413:
        return problem(
            413, f"the body is larger than {max_body} bytes; send a smaller order", "too-large"
        )
    if exc.status == 404:
        return problem(404, "no such endpoint; see /api/v1/openapi.json", "not-found")
    if exc.status == 405:
        response = problem(405, f"method not allowed: {exc.text}", "method-not-allowed")
        response.headers["Allow"] = exc.headers.get("Allow", "")  # RFC 9110: a 405 lists them
        return response
    return problem(exc.status, exc.text or exc.reason, "http")


def middleware(max_body: int) -> Any:
    @web.middleware
    async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except errors.ControllerError as exc:
            status = status_of(exc)
            if status >= 500:
                log.error("%s %s: %s", request.method, request.path, exc.message)
            response = problem(status, exc.message, exc.kind, **exc.details)
            if isinstance(exc, errors.TemporaryError):
                response.headers["Retry-After"] = str(max(1, int(exc.delay)))
            return response
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _from_http(exc, max_body)
        except Exception:
            # a bug, not a refusal: log it whole, answer without internals (they may hold data)
            log.exception("%s %s failed", request.method, request.path)
            return problem(500, "internal error; the service log has the details", "internal")

    return problems
