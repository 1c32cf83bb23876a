"""rhpds.litemaas.change_stream: model and key messages from Redis Streams, at least once."""

from __future__ import annotations

import asyncio
from typing import Any

from litemaas_controller.eda import change_stream

DOCUMENTATION = r"""
---
short_description: Receive LiteMaaS model and key messages from a Redis Streams consumer group.
description:
  - An ansible-rulebook event source that reads the model-change stream as the
    litemaas-controller service does, with the service's own code (the litemaas-controller
    package must be installed beside ansible-rulebook; the decision environment does so): the
    same message envelope and body schemas, refusals (raw secrets, template markers, foreign
    upstreams) and dead letters, and the same consumer-group claims.
  - Each valid message is one event with C(message) (id, type, instance, namespace), C(stream)
    (name, group, entry_id, deliveries) and C(extravars), the variables the service would pass
    to register_model.yml or rotate_keys.yml. The namespace is litemaas-<instance>.
  - At least once. The source never acknowledges an entry it sent as an event; the playbook's
    last task does (rhpds.litemaas.stream_ack). An entry whose run failed or was interrupted
    (ansible-rulebook or the run crashed) stays pending and is delivered again; after
    max_deliveries unacknowledged deliveries it is dead-lettered.
options:
  url:
    description: Redis URL (redis://[:password@]host:port/db); keep it in the environment.
    type: str
    required: true
  stream:
    description: The stream of messages.
    type: str
    default: "litemaas:changes"
  dead_letter_stream:
    description: Where refused and given-up messages go; default <stream>:dead.
    type: str
  group:
    description: >-
      The consumer group. Not the service's group (litemaas-controller): a stream is consumed
      by the service or by rulebooks, not both.
    type: str
    default: litemaas-eda
  consumer:
    description: >-
      This consumer's name (default the host name); keep it across restarts to read its own
      pending entries first.
    type: str
  claim_idle:
    description: Seconds an entry stays idle before another delivery claims it.
    type: float
    default: 60
  run_timeout:
    description: >-
      Seconds an event's run may take; its entry is renewed that long, then left to be claimed
      and delivered again.
    type: float
    default: 3600
  max_deliveries:
    description: Deliveries of an entry before it is dead-lettered.
    type: int
    default: 5
  upstream_allow:
    description: Model endpoints (LITEMAAS_UPSTREAM_ALLOW) a model.upsert may name; empty, any.
    type: list
    elements: str
"""

EXAMPLES = r"""
- rhpds.litemaas.change_stream:
    url: "{{ LITEMAAS_REDIS_URL }}"
    group: litemaas-eda
"""


async def main(queue: asyncio.Queue[Any], args: dict[str, Any]) -> None:
    await change_stream.serve(queue, args)
