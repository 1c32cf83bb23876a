"""Where model endpoints may point: the entries of ``LITEMAAS_UPSTREAM_ALLOW``.

A model's upstream API key is sent to its ``api_base`` (discovery, the proof request, then
LiteLLM's own traffic), so the allow-list bounds where a message can make that key go. Entries:

- ``vllm.models.svc``: that host name exactly (case and a trailing dot ignored);
- ``*.models.svc`` or ``.models.svc``: any name under that domain, at any depth (not the domain
  itself: list it too to admit it);
- ``10.0.0.0/8``, ``fd00::/8``: an IP address in that network; ``10.1.2.3``, ``::1``: that address.

Names are never resolved: a network admits only an ``api_base`` written with an IP address, and a
host that no entry names is refused (so ``http://2130706433/`` does not slip past as 127.0.0.1).
No entries (the default) admits any host. The collection's module applies the same rules
(``plugins/module_utils/litellm_upstream_allow.py``); one table of unit cases runs against both.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAME = re.compile(r"^[a-z0-9_]([-a-z0-9_]{0,62})(\.[a-z0-9_][-a-z0-9_]{0,62})*$")


def _address(text: str) -> IPAddress | None:
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _normal(entry: str) -> str:
    return entry.strip().lower().rstrip(".")


def check_entry(entry: str) -> None:
    """``ValueError`` saying what an entry may be, when it is none of the forms above."""
    text = _normal(entry)
    if "/" in text:
        ipaddress.ip_network(text, strict=False)  # raises ValueError itself
        return
    if _address(text.strip("[]")) is not None:
        return
    if not _NAME.match(text[2:] if text.startswith("*.") else text.lstrip(".")):
        raise ValueError(
            f"{entry!r} is not a host name, a domain (*.example.com or .example.com), "
            "an IP address or a CIDR network"
        )


def host_of(url: str) -> str | None:
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


def matches(host: str, entry: str) -> bool:
    text = _normal(entry)
    address = _address(host)
    if "/" in text:
        network = ipaddress.ip_network(text, strict=False)
        return address is not None and address.version == network.version and address in network
    wanted = _address(text.strip("[]"))
    if wanted is not None:
        return address == wanted
    if text.startswith(("*.", ".")):
        return address is None and host.endswith("." + text.lstrip("*").lstrip("."))
    return address is None and host == text


def allowed(url: str, entries: Iterable[str]) -> bool:
    """May a model's ``api_base`` point at ``url``'s host? Always, when there are no entries."""
    listed = [e for e in entries if e.strip()]
    if not listed:
        return True
    host = host_of(url)
    return host is not None and any(matches(host, e) for e in listed)
