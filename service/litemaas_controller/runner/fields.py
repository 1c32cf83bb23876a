"""The fields of an ansible-runner event the controller reads, and nothing else.

Every field of an event's data ``runner.events`` reads, and of a task's result: the display
callback (``callback/litemaas_display.py``) writes only these to disk, so a field
``runner.events`` reads that is missing here is silently lost (as ``failure_kind`` once was).
A leaf module: the callback runs inside every ansible-playbook and imports it.
"""

DATA_FIELDS = ("task", "play", "host", "ignore_errors", "artifact_data")
RESULT_FIELDS = ("changed", "failed", "skipped", "msg", "stderr", "censored", "failure_kind")
