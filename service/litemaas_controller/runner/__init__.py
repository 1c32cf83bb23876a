"""The run boundary: ansible-runner with a private dir per run, redaction and tree kill.

Nothing is imported here: ``runner.callback`` runs inside every ansible-playbook and imports the
leaf modules it needs (``env``, ``fields``, ``redact``); importing the package must not load the
service's machinery (``run``: ansible-runner, the ledger) into each playbook's process.
"""
