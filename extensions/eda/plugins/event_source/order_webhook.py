"""rhpds.litemaas.order_webhook: LiteMaaS orders over HTTP, judged as the service judges them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from litemaas_controller.eda import order_webhook

DOCUMENTATION = r"""
---
short_description: Receive LiteMaaS orders (provision, update, destroy) on a webhook.
description:
  - An ansible-rulebook event source that serves POST /api/v1/orders as the litemaas-controller
    service does, with the service's own code (the litemaas-controller package must be
    installed beside ansible-rulebook; the decision environment does so).
  - An order is authenticated by HMAC-SHA256 over timestamp + "." + the raw body bytes
    (X-Litemaas-Timestamp, X-Litemaas-Signature), inside the timestamp window and compared in
    constant time, or by Authorization Bearer <api_token>. A request that carries a signature
    is judged by it alone.
  - It must be strict JSON within max_body_bytes and match the order schema (published by the
    service at /api/v1/schemas/order.json); secret, decided, unknown and template-carrying
    variables are refused. An id already taken inside dedupe_window runs nothing (200 for the
    same body, 409 for another), remembered across restarts when state_file is given.
  - Each accepted order (answered 202) is one event with C(order) (id, action, instance,
    namespace, principal) and C(extravars), the variables the service would pass to the
    playbook. Run the playbooks of this collection's rulebook (rhpds.litemaas.litemaas): they
    take C(extravars) as data through rhpds.litemaas.event_vars, never as templates.
  - A refusal is answered with problem+json and puts nothing on the queue.
options:
  host:
    description: Address to listen on.
    type: str
    default: "0.0.0.0"
  port:
    description: TCP port to listen on.
    type: int
    required: true
  webhook_secret:
    description: Shared secret of signed orders. At least one of webhook_secret and api_token.
    type: str
  api_token:
    description: Bearer token accepted instead of a signature.
    type: str
  signature_window:
    description: Seconds a signed request's timestamp stays valid, either way.
    type: float
    default: 300
  max_body_bytes:
    description: Largest body accepted (413 above it).
    type: int
    default: 65536
  dedupe_window:
    description: Seconds an order id is remembered; at least signature_window.
    type: float
    default: 86400
  state_file:
    description: JSON file that keeps the ids seen across restarts (written atomically).
    type: str
  argument_specs:
    description: >-
      The role's meta/argument_specs.yml that lists the variables an order may set; default:
      the one of this collection.
    type: str
"""

EXAMPLES = r"""
- rhpds.litemaas.order_webhook:
    port: 5000
    webhook_secret: "{{ LITEMAAS_WEBHOOK_SECRET }}"
    state_file: /var/lib/eda/litemaas-orders.json
"""

#: this collection's role interface, next to the plugin in a checkout and an installed collection
SPECS = Path(__file__).resolve().parents[4] / "roles/ocp4_workload_litemaas/meta/argument_specs.yml"


async def main(queue: asyncio.Queue[Any], args: dict[str, Any]) -> None:
    await order_webhook.serve(queue, args, SPECS)
