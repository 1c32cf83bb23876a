"""rhpds.litemaas.instance_health: one event per health change of a LiteMaaS instance."""

from __future__ import annotations

import asyncio
from typing import Any

from litemaas_controller.eda import instance_health

DOCUMENTATION = r"""
---
short_description: Watch LiteMaaS instances in the cluster; one event per change of their health.
description:
  - An ansible-rulebook event source that follows the instances' objects as the
    litemaas-controller service does, with the service's own code (the litemaas-controller
    package must be installed beside ansible-rulebook; the decision environment does so): list,
    then watch from the list's resourceVersion, a relist after 410 Gone and every
    resync_period, so a reconnect never loses a failure; and the service's health model
    (healthy, progressing, failed; a fault counts as a failure once it has lasted grace).
  - Without the service's ledger, the instances are the namespaces that carry the labels the
    deploy role puts on the namespaces it creates,
    app.kubernetes.io/managed-by=litemaas-controller and litemaas.rhpds.io/instance=<instance>
    (names that fail the service's patterns are ignored). No run counts as in flight.
  - Each change of an instance's health (status or reason) is one event, never the objects'
    churn, with C(instance), C(namespace), C(status), C(reason) (cluster text, printable, one
    line, bounded), C(since) (seconds since the epoch) and C(extravars), the variables the
    service would pass to repair_litemaas.yml (without recorded vars). When the source starts,
    each instance's first health is an event.
  - Reads Deployments, StatefulSets, Pods, PersistentVolumeClaims, Services, Routes (or
    Ingresses) and Namespaces in every namespace, and Secrets in the instances' namespaces.
    Without a cluster configuration it says so in the log every 30 s; the other sources of
    the rulebook go on.
options:
  kubeconfig:
    description: Kubeconfig file; default KUBECONFIG, else the in-cluster service account.
    type: str
  grace:
    description: Seconds a fault must last before the instance counts as failed.
    type: float
    default: 60
  resync_period:
    description: Seconds between two full relists of every watched kind.
    type: float
    default: 600
"""

EXAMPLES = r"""
- rhpds.litemaas.instance_health:
    grace: 60
"""


async def main(queue: asyncio.Queue[Any], args: dict[str, Any]) -> None:
    await instance_health.serve(queue, args)
