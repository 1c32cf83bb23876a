"""The leader Lease (``coordination.k8s.io/v1``) as data: read, created and replaced through the
``kubernetes`` client, with optimistic concurrency (a replace carries the resourceVersion it read;
409 means another replica wrote first).

What a Lease holds was written by whoever can write it: a field of the wrong type or size is taken
for what it most safely means (a holder that is not us; our own duration), and ``shown`` bounds it
for a log line.  The client is synchronous: the elector runs these calls in a thread.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, replace
from typing import Any

from kubernetes.client.exceptions import ApiException

#: the Lease the replicas elect their leader with
NAME = "litemaas-controller"
#: longest part of a holder identity a log line or a status shows
SHOWN = 64


@dataclass(frozen=True)
class LeaseRecord:
    """The election record of a Lease's spec (client-go's ``LeaderElectionRecord``)."""

    holder: str  # "" when nobody holds it (released)
    duration: float  # seconds the holder's lease lasts past its renewTime
    acquired: str  # the times as written: compared, never trusted as a clock
    renewed: str
    transitions: int

    def renewal(self, identity: str, duration: float) -> LeaseRecord:
        """This record taken or renewed by ``identity``: a change of holder counts a
        transition and starts a new acquire time."""
        now = _micro_time()
        if self.holder == identity:
            return replace(self, duration=duration, renewed=now)
        return LeaseRecord(identity, duration, now, now, (self.transitions + 1) % 2**31)

    def released(self) -> LeaseRecord:
        """client-go's ReleaseOnCancel: no holder, one second, so the next try takes it."""
        now = _micro_time()
        return LeaseRecord("", 1, now, now, self.transitions)


def first(identity: str, duration: float) -> LeaseRecord:
    now = _micro_time()
    return LeaseRecord(identity, duration, now, now, 0)


def shown(holder: str) -> str:
    """A holder identity fit for a log line or a status: ASCII, at most ``SHOWN`` characters."""
    text = ascii(holder[:SHOWN])[1:-1]
    return text + ("…" if len(holder) > SHOWN else "")


def _micro_time(at: datetime.datetime | None = None) -> str:
    """``at`` (default: now) in MicroTime's format, microseconds always written (kube-apiserver
    requires them)."""
    at = (at or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _time(value: Any) -> str:
    return _micro_time(value) if isinstance(value, datetime.datetime) else ""


def _record(spec: Any, default_duration: float) -> LeaseRecord:
    holder = getattr(spec, "holder_identity", None)
    duration = _count(getattr(spec, "lease_duration_seconds", None))
    return LeaseRecord(
        holder=holder if isinstance(holder, str) else ("?" if holder is not None else ""),
        duration=duration if duration else default_duration,
        acquired=_time(getattr(spec, "acquire_time", None)),
        renewed=_time(getattr(spec, "renew_time", None)),
        transitions=_count(getattr(spec, "lease_transitions", None)),
    )


def _count(value: Any) -> int:
    """An int32 count as the API defines it; 0 for anything else."""
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31
    return int(value) if ok else 0


class LeaseLock:
    """One Lease in one namespace, through ``CoordinationV1Api`` (``api``)."""

    def __init__(self, api: Any, namespace: str, default_duration: float) -> None:
        self._api = api
        self.namespace = namespace
        self._default_duration = default_duration

    def get(self, timeout: float) -> tuple[LeaseRecord, Any] | None:
        """(its record, the object read) or None when there is no Lease yet."""
        try:
            lease = self._api.read_namespaced_lease(NAME, self.namespace, _request_timeout=timeout)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return _record(lease.spec, self._default_duration), lease

    def create(self, record: LeaseRecord, timeout: float) -> Any | None:
        """The new Lease, or None when another replica created it first (409)."""
        body = _lease({"name": NAME}, record)
        return _unless_conflict(
            lambda: self._api.create_namespaced_lease(
                self.namespace, body, _request_timeout=timeout
            )
        )

    def replace(self, record: LeaseRecord, read: Any, timeout: float) -> Any | None:
        """The Lease ``read`` (its metadata and resourceVersion kept) with ``record``, or None
        when it changed since it was read (409)."""
        body = _lease(read.metadata, record)
        return _unless_conflict(
            lambda: self._api.replace_namespaced_lease(
                NAME, self.namespace, body, _request_timeout=timeout
            )
        )


def _lease(metadata: Any, record: LeaseRecord) -> dict[str, Any]:
    """The body to write (a dict: the client would write a datetime without its microseconds
    when they are 0, which MicroTime refuses)."""
    spec = {
        "holderIdentity": record.holder,
        "leaseDurationSeconds": max(1, math.ceil(record.duration)),
        "acquireTime": record.acquired or None,
        "renewTime": record.renewed,
        "leaseTransitions": record.transitions,
    }
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": metadata,
            "spec": spec}  # fmt: skip


def _unless_conflict(call: Any) -> Any | None:
    try:
        return call()
    except ApiException as exc:
        if exc.status == 409:
            return None
        raise
