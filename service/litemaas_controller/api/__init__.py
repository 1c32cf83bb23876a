"""The HTTP face: routes, problem documents, the application's life cycle."""

from litemaas_controller.api.app import make_app
from litemaas_controller.api.serve import serve

__all__ = ["make_app", "serve"]
