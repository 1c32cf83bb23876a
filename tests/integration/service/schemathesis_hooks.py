"""Hooks of the schemathesis run (test_schemathesis.py), loaded by schemathesis from its own venv.

The order intake takes the bearer token or an HMAC signature, and judges a request that carries
a signature by it alone. schemathesis cannot sign a body it has not serialized yet, so it would
send made-up signatures; dropping them here sends every order with the bearer token instead
(the signature path is tested in test_order_intake.py).
"""

from typing import Any

import schemathesis  # type: ignore[import-not-found]

SIGNATURE_HEADERS = {"x-litemaas-signature", "x-litemaas-timestamp"}


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: Any) -> None:
    """Take made-up signatures out of orders (in place: other headers stay as generated)."""
    if case.method == "POST" and case.path == "/api/v1/orders" and case.headers:
        for name in [k for k in case.headers if k.lower() in SIGNATURE_HEADERS]:
            del case.headers[name]
