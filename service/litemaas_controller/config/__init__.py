"""Settings and the order-variable catalogue: the lowest layer, imported by every other."""

from litemaas_controller.config.settings import Settings
from litemaas_controller.config.sources import load_settings
from litemaas_controller.config.validation import validate_settings

__all__ = ["Settings", "load_settings", "validate_settings"]
