# Copyright: litemaas-controller developers
# MIT License
"""How a module says whether a retry may cure its failure.

Every module of the collection fails through :func:`fail`, whose result carries
``failure_kind``: ``permanent`` when no later run of the same task can succeed as things stand
(a named Secret or Secret key that does not exist, a value the module refuses), ``transient``
otherwise (an upstream or LiteLLM that does not answer, a model not registered yet). The
controller dead-letters a message whose run failed permanently at once and retries the others.
"""

PERMANENT = "permanent"
TRANSIENT = "transient"


class PermanentFailure(Exception):
    """A failure that retrying the same task cannot fix; the message says what to change."""

    permanent = True


def failure_kind(exc):
    """``permanent`` for an exception that says so (``permanent = True``), else ``transient``."""
    return PERMANENT if getattr(exc, "permanent", False) else TRANSIENT


def fail(module, exc):
    """``fail_json`` with the exception's message and its ``failure_kind``."""
    module.fail_json(msg=str(exc), failure_kind=failure_kind(exc))
