# Copyright: litemaas-controller developers
# MIT License
"""Filters of rhpds.litemaas for credentials that are generated once and read back from Secrets."""

import base64
import hashlib
import json
import secrets
import string
from urllib.parse import unquote, urlsplit

from ansible.errors import AnsibleFilterError

_ALPHABET = string.ascii_letters + string.digits


def random_password(length=32, prefix=""):
    """A new random value from the OS's CSPRNG: letters and digits only, safe in URLs and shells.

    The first argument is ignored: the filter applies to anything (``'' | random_password``).
    """
    try:
        length = int(length)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("random_password: length must be an integer") from exc
    if length < 8:
        raise AnsibleFilterError("random_password: length must be at least 8")
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(length))


def _random_password_filter(_ignored, length=32, prefix=""):
    return random_password(length, prefix)


def secret_value(data, key, given="", fresh=""):
    """``key`` of a Secret's base64 ``data`` if present, else ``given``, else ``fresh``."""
    data = data or {}
    encoded = data.get(key)
    if encoded:
        try:
            return base64.b64decode(encoded).decode("utf-8")
        except (ValueError, UnicodeDecodeError) as exc:
            raise AnsibleFilterError(f"secret_value: key {key} is not valid base64 UTF-8") from exc
    return given if given else fresh


def database_url_credentials(url):
    """``{'user': …, 'password': …}`` from a postgresql:// URL, or ``{}`` when it has none."""
    if not url:
        return {}
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql") or parts.password is None:
        return {}
    return {"user": unquote(parts.username or ""), "password": unquote(parts.password)}


def data_checksum(data):
    """A stable SHA-256 of a Secret's data: a pod template annotation that changes only with it."""
    canonical = json.dumps(data or {}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def b64encode_values(data):
    """A Secret's ``data`` from plain strings (values base64-encoded, keys as they are)."""
    return {k: base64.b64encode(str(v).encode("utf-8")).decode("ascii") for k, v in data.items()}


def secrets_to_write(existing, wanted, labels, names):
    """The Secrets among ``names`` whose data or labels differ from ``existing`` (API objects).

    Returns ``[{'name': …, 'data': {base64 values}}]`` in the order of ``names``. A Secret counts as
    unchanged when its data is exactly the wanted data and it carries every wanted label.
    """
    by_name = {s["metadata"]["name"]: s for s in existing or []}
    result = []
    for name in names:
        data = b64encode_values(wanted[name])
        current = by_name.get(name)
        if current is not None:
            current_labels = current["metadata"].get("labels") or {}
            same_labels = all(current_labels.get(k) == v for k, v in labels.items())
            if (current.get("data") or {}) == data and same_labels:
                continue
        result.append({"name": name, "data": data})
    return result


class FilterModule:
    def filters(self):
        return {
            "random_password": _random_password_filter,
            "secret_value": secret_value,
            "database_url_credentials": database_url_credentials,
            "data_checksum": data_checksum,
            "b64encode_values": b64encode_values,
            "secrets_to_write": secrets_to_write,
        }
