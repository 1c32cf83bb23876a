"""Outside events → triggers: HTTP orders now (Redis messages and the cluster watch later)."""

from litemaas_controller.intake.base import Intake, IntakeFactory
from litemaas_controller.intake.orders import OrderIntake

__all__ = ["Intake", "IntakeFactory", "OrderIntake"]
