"""Triggers → runs: queueing, the global cap, one run per instance, recovery after a restart."""

from litemaas_controller.dispatch.dispatcher import Dispatcher, RunObserver

__all__ = ["Dispatcher", "RunObserver"]
