"""Outside events → triggers: HTTP orders now (Redis messages and the cluster watch later)."""

from litemaas_controller.intake.base import Intake
from litemaas_controller.intake.orders import OrderIntake

__all__ = ["Intake", "OrderIntake"]
