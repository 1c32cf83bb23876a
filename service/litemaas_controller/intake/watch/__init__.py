"""The cluster watch (DESIGN.md "Health and repair"): the managed instances' objects → health."""

from litemaas_controller.intake.watch.metrics import WatchMetrics
from litemaas_controller.intake.watch.watcher import SELECTOR, ClusterWatch, LedgerInstances

__all__ = ["SELECTOR", "ClusterWatch", "LedgerInstances", "WatchMetrics"]
