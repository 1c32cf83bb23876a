"""Event-Driven Ansible: what the collection's event sources run (extensions/eda/plugins/).

The plugin files ansible-rulebook loads hold only their documentation and ``main``; the work is
here, on the service's own code: the order checks, the message parsing, the Redis Streams group,
the extra vars the service would pass.  A face beside the CLI: nothing in the service imports it.
"""
