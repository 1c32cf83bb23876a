"""Who may see the status page: login (the API token for a signed cookie), logout, and the
middleware that sends every other page to the login form without a valid cookie.

Login and logout are POSTs whose ``Origin`` (when the browser sends one, as browsers do) must
be this controller's; the cookie is SameSite=Strict besides.  After a login the page is always
``/ui/``: there is no ``next`` to redirect elsewhere.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from litemaas_controller.api import access, keys
from litemaas_controller.ui.session import COOKIE, SessionSigner

log = logging.getLogger(__name__)

routes = web.RouteTableDef()
SIGNER = web.AppKey("ui_signer", SessionSigner)
#: the status page's paths anyone may reach: the login form and the page's own files
PUBLIC = frozenset({"/ui/login", "/ui/static"})
#: on every page: nothing from elsewhere runs, loads or frames it, and nothing is cached
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",  # no-referrer would send a form's Origin as null
    "Cache-Control": "no-store",
}


def _guarded(request: web.Request) -> bool:
    if request.path == "/" or not access.is_page(request.path):
        return False  # the root only redirects to /ui/
    resource = request.match_info.route.resource
    return resource is None or resource.canonical not in PUBLIC


@web.middleware
async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if _guarded(request) and not request.app[SIGNER].valid(
        request.cookies.get(COOKIE), time.time()
    ):
        if request.path.endswith("/events"):
            raise web.HTTPUnauthorized(text="log in again at /ui/login")
        raise web.HTTPSeeOther("/ui/login")
    response = await handler(request)
    if access.is_page(request.path):
        response.headers.update(HEADERS)
    return response


def _check_origin(request: web.Request) -> None:
    """A form posted from another site is refused (besides the SameSite=Strict cookie)."""
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise web.HTTPForbidden(text="this form may only be sent from the status page itself")


@routes.get("/")
async def root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/ui/")


@routes.get("/ui/login")
@aiohttp_jinja2.template("login.html")
async def login_form(request: web.Request) -> dict[str, object]:
    return {"enabled": request.app[SIGNER].enabled, "refused": False}


@routes.post("/ui/login")
async def login(request: web.Request) -> web.StreamResponse:
    _check_origin(request)
    signer = request.app[SIGNER]
    token = (await request.post()).get("token")
    if not isinstance(token, str) or not signer.token_matches(token):
        log.info("status page: a login from %s was refused (not the API token)", request.remote)
        context = {"enabled": signer.enabled, "refused": True}
        return aiohttp_jinja2.render_template("login.html", request, context, status=401)
    response = web.Response(status=303, headers={"Location": "/ui/"})
    response.set_cookie(
        COOKIE,
        signer.issue(time.time()),
        max_age=int(signer.ttl),
        path=access.UI_ROOT,
        httponly=True,
        samesite="Strict",
        secure=request.app[keys.SETTINGS].ui_scheme == "https",
    )
    return response


@routes.post("/ui/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    _check_origin(request)
    response = web.Response(status=303, headers={"Location": "/ui/login"})
    response.del_cookie(COOKIE, path=access.UI_ROOT)
    return response
