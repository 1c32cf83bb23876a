"""The run boundary: ansible-runner with a private dir per run, redaction and tree kill."""

from litemaas_controller.runner.redact import Redactor
from litemaas_controller.runner.run import PlaybookRunner, RunRequest, RunResult

__all__ = ["PlaybookRunner", "Redactor", "RunRequest", "RunResult"]
