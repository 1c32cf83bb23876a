"""The status page on the service's application: templates, its own files, routes, the guard."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from litemaas_controller.api import make_app as make_api_app
from litemaas_controller.config import Settings
from litemaas_controller.intake import IntakeFactory
from litemaas_controller.ui import guard, history, pages
from litemaas_controller.ui.session import SessionSigner

HERE = Path(__file__).parent


def install(app: web.Application, settings: Settings) -> None:
    """Add the status page (``/ui/``, ``/`` redirects there) to the service's ``app``."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,  # every value a page shows is text, whatever markup it holds
        undefined=jinja2.StrictUndefined,
    )
    env.filters["stamp"] = history.stamp
    env.filters["json"] = partial(json.dumps, indent=2, sort_keys=True)
    app[guard.SIGNER] = SessionSigner(settings.api_token, settings.ui_session_ttl)
    app.middlewares.append(guard.middleware)
    app.add_routes(guard.routes)
    app.add_routes(pages.routes)
    app.router.add_static("/ui/static", HERE / "static", name="ui-static")


def make_app(settings: Settings, intakes: Sequence[IntakeFactory] = ()) -> web.Application:
    """The service's application with its status page."""
    app = make_api_app(settings, intakes)
    install(app, settings)
    return app
