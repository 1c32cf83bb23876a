"""The status page: a read-only web interface under ``/ui/`` (docs/status-page.md)."""

from litemaas_controller.ui.app import install, make_app

__all__ = ["install", "make_app"]
