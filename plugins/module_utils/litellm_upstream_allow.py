# Copyright: litemaas-controller developers
# MIT License
"""Where model endpoints may point: the ``upstream_allow`` entries of ``litellm_model``.

The module sends the upstream's API key to ``api_base`` (discovery, the proof request) and LiteLLM
sends it there for every completion, so the allow-list bounds where a model change can make that
key go. Entries:

- ``vllm.models.svc``: that host name exactly (case and a trailing dot ignored);
- ``*.models.svc`` or ``.models.svc``: any name under that domain, at any depth (not the domain
  itself: list it too to admit it);
- ``10.0.0.0/8``, ``fd00::/8``: an IP address in that network; ``10.1.2.3``, ``::1``: that address.

Names are never resolved: a network admits only an ``api_base`` written with an IP address, and a
host that no entry names is refused. No entries admits any host. The controller applies the same
rules at intake (``LITEMAAS_UPSTREAM_ALLOW``, ``litemaas_controller/config/upstream_allow.py``);
one table of unit cases runs against both.
"""

import ipaddress

from ansible.module_utils.six.moves.urllib.parse import urlsplit


def _address(text):
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        return None
    if found.version == 6 and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _normal(entry):
    return entry.strip().lower().rstrip(".")


def host_of(url):
    """The host an http(s) URL points at (lower case, no brackets, no trailing dot); None for a
    URL without one, or whose authority holds user info or a backslash, which URL parsers read
    differently."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is not a number)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or "@" in parts.netloc or "\\" in parts.netloc:
        return None
    return (parts.hostname or "").rstrip(".") or None


def matches(host, entry):
    text = _normal(entry)
    address = _address(host)
    if "/" in text:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return False
        return address is not None and address.version == network.version and address in network
    wanted = _address(text.strip("[]"))
    if wanted is not None:
        return address == wanted
    if text.startswith(("*.", ".")):
        return address is None and host.endswith("." + text.lstrip("*").lstrip("."))
    return address is None and bool(text) and host == text


def allowed(url, entries):
    """May a model's ``api_base`` point at ``url``'s host? Always, when there are no entries."""
    listed = [e for e in entries or [] if e and e.strip()]
    if not listed:
        return True
    host = host_of(url)
    return host is not None and any(matches(host, e) for e in listed)
