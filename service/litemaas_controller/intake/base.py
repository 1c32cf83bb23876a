"""The seam for intakes: every active source of triggers has this shape.

The HTTP order intake is passive (the API calls ``OrderIntake.submit``).  Active intakes that
come in later issues (Redis Streams messages, the Kubernetes watch) implement ``Intake``; the
application builds each from an ``IntakeFactory``, runs its ``run`` as a supervised background
task and cancels it first on shutdown, before dispatch drains.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from litemaas_controller.intake.orders import OrderIntake


class Intake(Protocol):
    #: shown in logs and as the ``source`` of the orders it accepts
    name: str

    async def run(self) -> None:
        """Take events until cancelled; turn each into a trigger through ``OrderIntake``."""
        ...


#: builds an intake around the shared ``OrderIntake`` (dedupe, validation, ledger, dispatch)
IntakeFactory = Callable[["OrderIntake"], Intake]
