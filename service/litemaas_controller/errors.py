"""One error hierarchy, typed by what the caller must do next.

Every layer raises these; the faces map them in one place each (``api.problems`` to RFC 7807
problem+json, the CLI to exit codes, dispatch to order and run statuses).  A message always says
what to fix or what to do next.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class ControllerError(Exception):
    """Base of every error the controller raises on purpose."""

    #: short, stable machine name (the ``type`` suffix of a problem document)
    kind = "error"

    def __init__(self, message: str, *, details: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})


# --- the caller sent something wrong: fix the request, do not retry it as is -------------------


class BadInputError(ControllerError):
    """The request itself is wrong; retrying it unchanged gives the same answer."""

    kind = "bad-input"


class MalformedError(BadInputError):
    """The body is not what it claims to be (not JSON, not an object)."""

    kind = "malformed"


class UnsupportedMediaError(BadInputError):
    """The body has a media type the endpoint does not read."""

    kind = "unsupported-media-type"


class TooLargeError(BadInputError):
    """The body is larger than the configured limit."""

    kind = "too-large"


class InvalidError(BadInputError):
    """The body is well-formed but breaks the schema or a rule (unknown or secret vars...)."""

    kind = "invalid"


class ConflictError(BadInputError):
    """The request contradicts what the ledger already holds (same order id, another body)."""

    kind = "conflict"


class NotFoundError(BadInputError):
    """The named order, run or instance does not exist."""

    kind = "not-found"


class AuthError(ControllerError):
    """Missing, wrong or stale credentials; sign the request again or send the right token."""

    kind = "unauthorized"


# --- the controller cannot do it now: retry later ----------------------------------------------


class TemporaryError(ControllerError):
    """A transient fault; the same request may succeed after ``delay`` seconds."""

    kind = "temporary"

    def __init__(
        self, message: str, *, delay: float = 1.0, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message, details=details)
        self.delay = delay


class UnavailableError(TemporaryError):
    """The service is starting up or draining; retry after ``delay`` seconds."""

    kind = "unavailable"


class LedgerWriteError(TemporaryError):
    """The ledger refused a write (disk full, I/O error); nothing of it was kept."""

    kind = "ledger"


class LedgerUnreachableError(LedgerWriteError):
    """The ledger's server did not answer (PostgreSQL down or cut off): nothing to fix here, a
    later try succeeds once it is back."""


class FencedError(ControllerError):
    """A write about a run that no longer carries this replica's fencing token: another replica
    took the run over (its lease expired); nothing of the write was kept."""

    kind = "fenced"

    def __init__(self, run_id: str, token: int | None) -> None:
        super().__init__(
            f"run {run_id} is no longer this replica's (token {token}): another replica took "
            "it over; nothing recorded"
        )


# --- the controller gave up: a person must look -------------------------------------------------


class PermanentError(ControllerError):
    """A fault that retrying will not fix (misconfiguration, a broken playbook directory)."""

    kind = "permanent"


class ClusterRefusedError(PermanentError):
    """The cluster answered, and asking again will not change the answer: an RBAC refusal or
    a broken object.  The message says what a person must fix; no Retry-After."""

    kind = "cluster-refused"


class ConfigError(PermanentError):
    """A setting is missing or invalid; the message names the setting and how to set it."""

    kind = "config"


class ClusterError(TemporaryError):
    """The Kubernetes API could not answer (unreachable, forbidden, missing object)."""

    kind = "cluster"
