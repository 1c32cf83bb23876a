"""Settings and the order-variable catalogue: the lowest layer, imported by every other."""

from litemaas_controller.config.settings import Settings, load_settings

__all__ = ["Settings", "load_settings"]
