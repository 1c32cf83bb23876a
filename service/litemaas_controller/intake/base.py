"""The seam for intakes: every source of triggers has this shape.

The HTTP order intake is passive (the API calls ``OrderIntake.submit``).  Active intakes that
come in later issues (Redis Streams messages, the Kubernetes watch) implement ``Intake``; the
application runs each one's ``run`` as a supervised background task and stops it on drain.
"""

from __future__ import annotations

from typing import Protocol


class Intake(Protocol):
    #: shown in logs, metrics and as the ``source`` of the orders it accepts
    name: str

    async def run(self) -> None:
        """Take events until cancelled; turn each into a trigger through ``OrderIntake``."""
        ...
