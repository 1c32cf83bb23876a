# Copyright: litemaas-controller developers
# MIT License
"""agnosticd_user_info: hand access information to AgnosticD / RHDP.

RHDP (Babylon) finds results by scanning job events for
``task_action == 'agnosticd_user_info'`` and reading ``res.msg`` and ``res.data``; tasks therefore
call this plugin by its short name and must not be ``no_log``. When AgnosticD's ``output_dir`` is
set, the plugin also appends to the files AgnosticD collects (``<ACTION>-user-info.yaml``,
``<ACTION>-user-data.yaml``, ``<ACTION>-user-body.yaml``); without ``output_dir`` (a plain
ansible-playbook run, the controller) it writes nothing locally.
Documented for ansible-doc in plugins/modules/agnosticd_user_info.py.
"""

import json
import os

import yaml
from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase


def _as_list(msg):
    return msg if isinstance(msg, list) else [msg]


def _plain(value):
    # Ansible 2.19 hands tagged string/dict subclasses to plugins; plain JSON types dump cleanly.
    return json.loads(json.dumps(value, default=str))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("msg", "body", "data", "user"))

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        result["_ansible_verbose_always"] = True
        result["changed"] = False

        msg = self._task.args.get("msg")
        body = self._task.args.get("body")
        data = self._task.args.get("data") or {}
        user = self._task.args.get("user")
        if msg is not None and body is not None:
            raise AnsibleActionFail("msg and body are mutually exclusive")
        if not isinstance(data, dict):
            raise AnsibleActionFail("data must be a dictionary of name/value pairs")
        msg = _plain(msg) if msg is not None else None
        data = _plain(data)

        if msg is not None:
            if user:
                result["msg"] = msg
            elif isinstance(msg, list):
                result["msg"] = ["user.info: " + str(m) for m in msg]
            else:
                result["msg"] = "user.info: " + str(msg)
        if body is not None and not user:
            result["msg"] = "user.body: " + str(body)
        if data:
            result["data"] = data
        if user:
            result["user"] = user

        output_dir = task_vars.get("output_dir")
        if output_dir:
            action = task_vars.get("ACTION") or "provision"
            self._write_files(str(output_dir), str(action), msg, body, data, user)
        return result

    @staticmethod
    def _write_files(output_dir, action, msg, body, data, user):
        os.makedirs(output_dir, exist_ok=True)
        if not user and msg is not None:
            with open(os.path.join(output_dir, f"{action}-user-info.yaml"), "a") as fh:
                fh.writelines("- " + json.dumps(str(m)) + "\n" for m in _as_list(msg))
        if not user and body is not None:
            with open(os.path.join(output_dir, f"{action}-user-body.yaml"), "a") as fh:
                fh.write("- " + json.dumps(str(body)) + "\n")
        if not (data or user):
            return
        path = os.path.join(output_dir, f"{action}-user-data.yaml")
        try:
            with open(path) as fh:
                stored = yaml.safe_load(fh) or {}
        except FileNotFoundError:
            stored = {}
        if user:
            entry = stored.setdefault("users", {}).setdefault(user, {})
            entry.update(data)
            for key, text in (("msg", msg), ("body", body)):
                if text:
                    joined = "\n".join(_as_list(text))
                    entry[key] = entry[key] + "\n" + joined if key in entry else joined
        else:
            stored.update(data)
        with open(path, "w") as fh:
            yaml.safe_dump(stored, fh, explicit_start=True)
