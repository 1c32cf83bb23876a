"""Model-change messages from Redis Streams (DESIGN.md "Model-change messages")."""

from __future__ import annotations

from litemaas_controller.config import Settings
from litemaas_controller.intake.base import IntakeFactory
from litemaas_controller.intake.messages.consumer import MessageConsumer
from litemaas_controller.intake.messages.metrics import MessageMetrics
from litemaas_controller.intake.messages.schema import TYPES, published
from litemaas_controller.intake.messages.state import RedisState
from litemaas_controller.intake.orders import OrderIntake

__all__ = ["TYPES", "MessageConsumer", "MessageMetrics", "RedisState", "factory", "published"]


def factory(settings: Settings, metrics: MessageMetrics, state: RedisState) -> IntakeFactory:
    """The message intake, built around the application's ``OrderIntake`` when it starts."""

    def make(orders: OrderIntake) -> MessageConsumer:
        return MessageConsumer(orders, settings, metrics, state)

    return make
