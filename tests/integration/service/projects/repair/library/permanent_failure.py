#!/usr/bin/python
"""Fixture module: fails the way a collection module does when no retry can fix it."""

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(argument_spec={"msg": {"type": "str", "required": True}})
    module.fail_json(msg=module.params["msg"], failure_kind="permanent")


if __name__ == "__main__":
    main()
