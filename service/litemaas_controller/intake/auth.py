"""Who may send an order: HMAC-SHA256 over the raw body with a replay window, or the bearer token.

The signature covers ``timestamp + "." + raw body bytes`` exactly as received (never re-encoded
JSON), compared in constant time.  A timestamp outside the window is refused, so a captured
request can be replayed only inside it, where it is a duplicate order and runs nothing again.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from litemaas_controller.config import Settings
from litemaas_controller.errors import AuthError

SIGNATURE_HEADER = "X-Litemaas-Signature"
TIMESTAMP_HEADER = "X-Litemaas-Timestamp"
_SCHEME = "sha256="


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Litemaas-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return _SCHEME + mac.hexdigest()


def signed_headers(secret: str, body: bytes, now: float) -> dict[str, str]:
    timestamp = str(int(now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: sign(secret, timestamp, body)}


def _check_timestamp(raw: str | None, now: float, window: float) -> str:
    if not raw:
        raise AuthError(f"a signed request needs {TIMESTAMP_HEADER} (unix seconds)")
    if not raw.isascii() or not raw.isdigit() or len(raw) > 12:
        raise AuthError(f"{TIMESTAMP_HEADER} must be an integer of unix seconds")
    sent = int(raw)
    if abs(now - sent) > window:
        raise AuthError(
            f"{TIMESTAMP_HEADER} is outside the {int(window)} s window: sign the request again "
            "with the current time (and check the sender's clock)"
        )
    return raw


def verify_signature(
    secret: str | None, headers: Mapping[str, str], body: bytes, now: float, window: float
) -> None:
    if not secret:
        raise AuthError(
            "signed orders are not enabled on this service (no LITEMAAS_WEBHOOK_SECRET); "
            "send the bearer token instead"
        )
    timestamp = _check_timestamp(headers.get(TIMESTAMP_HEADER), now, window)
    given = headers.get(SIGNATURE_HEADER, "")
    if not given.isascii() or not given.startswith(_SCHEME):
        raise AuthError(f"{SIGNATURE_HEADER} must look like sha256=<hex>")
    if not hmac.compare_digest(given.encode(), sign(secret, timestamp, body).encode()):
        raise AuthError(
            f"{SIGNATURE_HEADER} does not match: sign timestamp + '.' + the exact body bytes "
            "with HMAC-SHA256 and the shared secret"
        )


def bearer_ok(token: str | None, authorization: str | None) -> bool:
    if not token or not authorization:
        return False
    if not authorization.isascii():  # a token is ASCII; other bytes can never match
        return False
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def require_bearer(settings: Settings, headers: Mapping[str, str]) -> str:
    if not bearer_ok(settings.api_token, headers.get("Authorization")):
        raise AuthError("send Authorization: Bearer <LITEMAAS_API_TOKEN>")
    return "bearer"


def authenticate_order(
    settings: Settings, headers: Mapping[str, str], body: bytes, now: float
) -> str:
    """The principal that sent the order (``hmac`` or ``bearer``), or ``AuthError``.

    A request that carries a signature is judged by it alone: a bad signature is never rescued
    by another credential.
    """
    if SIGNATURE_HEADER in headers or TIMESTAMP_HEADER in headers:
        verify_signature(settings.webhook_secret, headers, body, now, settings.signature_window)
        return "hmac"
    if bearer_ok(settings.api_token, headers.get("Authorization")):
        return "bearer"
    raise AuthError(
        f"sign the order ({SIGNATURE_HEADER}, {TIMESTAMP_HEADER}) or send "
        "Authorization: Bearer <LITEMAAS_API_TOKEN>"
    )
