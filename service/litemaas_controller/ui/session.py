"""The status page's session: a cookie the controller signs, so any replica accepts it.

The value is ``v1.<expiry>.<signature>``: the expiry in unix seconds and HMAC-SHA256 over
``v1.<expiry>`` with a key every replica derives the same way from the API token (and only
from it: a new token ends every session).  Nothing else is in it; it is checked in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re

COOKIE = "litemaas_session"
_VERSION = "v1"
_SHAPE = re.compile(r"v1\.([0-9]{1,12})\.([0-9a-f]{64})")
_PURPOSE = b"litemaas-controller status page session v1"


class SessionSigner:
    """Issues and checks session cookies; ``None`` as the token: no login is possible."""

    def __init__(self, api_token: str | None, ttl: float) -> None:
        self._key = (
            hmac.new(api_token.encode(), _PURPOSE, hashlib.sha256).digest() if api_token else None
        )
        self._token = api_token
        self.ttl = ttl

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def token_matches(self, offered: str) -> bool:
        """Is ``offered`` the API token?  Constant time; never with no token set."""
        if self._token is None:
            return False
        return hmac.compare_digest(offered.encode(), self._token.encode())

    def issue(self, now: float) -> str:
        expiry = int(now + self.ttl)
        return f"{_VERSION}.{expiry}.{self._sign(expiry)}"

    def valid(self, value: str | None, now: float) -> bool:
        """Is ``value`` a cookie this controller signed that has not expired?"""
        found = _SHAPE.fullmatch(value or "")
        if found is None or self._key is None:
            return False
        expiry = int(found[1])
        return hmac.compare_digest(found[2], self._sign(expiry)) and now < expiry

    def _sign(self, expiry: int) -> str:
        assert self._key is not None  # issue and valid only sign with a key
        return hmac.new(self._key, f"{_VERSION}.{expiry}".encode(), hashlib.sha256).hexdigest()
