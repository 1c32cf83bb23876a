#!/usr/bin/python
# Copyright: litemaas-controller developers
# MIT License
"""stream_ack: acknowledge a Redis Streams entry after the run it triggered."""

DOCUMENTATION = r"""
module: stream_ack
short_description: Acknowledge a Redis Streams entry in its consumer group (XACK)
version_added: 0.2.0
description:
  - The last task of the playbooks that rhpds.litemaas.change_stream events run. The source never
    acknowledges an entry itself, so an entry whose run failed, or was interrupted by a crash of
    ansible-rulebook or of the run, stays pending and is delivered again.
  - Acknowledging an entry that is no longer pending changes nothing.
author:
  - litemaas-controller developers
options:
  url:
    description:
      - The Redis URL (it may hold a password); default the environment's E(LITEMAAS_REDIS_URL),
        as ansible-rulebook's own environment passes it to the playbooks it runs.
    type: str
    required: true
  stream:
    description: The stream's name.
    type: str
    required: true
  group:
    description: The consumer group.
    type: str
    required: true
  entry_id:
    description: The entry's id on the stream.
    type: str
    required: true
requirements:
  - Python 3.6 or newer on the host that runs the module (checked by C(make lint))
  - redis (Python)
"""

EXAMPLES = r"""
- name: Acknowledge the stream entry, now that its change is done
  rhpds.litemaas.stream_ack:
    stream: "{{ litemaas_event.stream.name }}"
    group: "{{ litemaas_event.stream.group }}"
    entry_id: "{{ litemaas_event.stream.entry_id }}"
"""

RETURN = r"""
acknowledged:
  description: Whether the entry was pending and is now acknowledged.
  type: bool
  returned: always
"""

import re

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

try:
    import redis
except ImportError:  # pragma: no cover - reported by the module
    redis = None

_ENTRY_ID = re.compile(r"[0-9]{1,20}-[0-9]{1,20}")


def main():
    module = AnsibleModule(
        argument_spec={
            "url": {
                "type": "str",
                "required": True,
                "no_log": True,
                "fallback": (env_fallback, ["LITEMAAS_REDIS_URL"]),
            },
            "stream": {"type": "str", "required": True},
            "group": {"type": "str", "required": True},
            "entry_id": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    if redis is None:
        module.fail_json(msg=missing_required_lib("redis"))
    params = module.params
    if not _ENTRY_ID.fullmatch(params["entry_id"]):
        module.fail_json(msg="entry_id must be a stream entry id (<ms>-<seq>)")
    client = redis.Redis.from_url(params["url"], socket_connect_timeout=5.0, socket_timeout=10.0)
    try:
        pending = client.xpending_range(
            params["stream"],
            params["group"],
            min=params["entry_id"],
            max=params["entry_id"],
            count=1,
        )
        if pending and not module.check_mode:
            client.xack(params["stream"], params["group"], params["entry_id"])
    except redis.RedisError as exc:
        module.fail_json(msg=f"acknowledging the entry failed: {type(exc).__name__}")
    finally:
        client.close()
    module.exit_json(changed=bool(pending), acknowledged=bool(pending))


if __name__ == "__main__":
    main()
