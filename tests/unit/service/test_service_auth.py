"""HMAC signatures, the replay window and the bearer token."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from pathlib import Path

import pytest

from litemaas_controller.config import Settings
from litemaas_controller.errors import AuthError
from litemaas_controller.intake.auth import (
    authenticate_order,
    bearer_ok,
    sign,
    signed_headers,
    verify_signature,
)

pytestmark = pytest.mark.unit

SECRET = "s3cret-s3cret-s3cret"
BODY = b'{"id":"o1"}'
NOW = 1_800_000_000.0


def settings(tmp_path: Path) -> Settings:
    (tmp_path / "deploy_litemaas.yml").touch()
    (tmp_path / "remove_litemaas.yml").touch()
    return Settings(webhook_secret=SECRET, api_token="token-token-token!", playbook_dir=tmp_path)


def test_signature_is_hmac_sha256_of_timestamp_dot_raw_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1800000000." + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, "1800000000", BODY) == f"sha256={expected}"


def test_a_fresh_signature_verifies() -> None:
    verify_signature(SECRET, signed_headers(SECRET, BODY, NOW), BODY, NOW + 299, 300)


@pytest.mark.parametrize("skew", [-301, 301])
def test_a_timestamp_outside_the_window_is_refused(skew: int) -> None:
    headers = signed_headers(SECRET, BODY, NOW + skew)
    with pytest.raises(AuthError, match="window"):
        verify_signature(SECRET, headers, BODY, NOW, 300)


def test_a_changed_body_or_secret_is_refused() -> None:
    headers = signed_headers(SECRET, BODY, NOW)
    with pytest.raises(AuthError, match="does not match"):
        verify_signature(SECRET, headers, BODY + b" ", NOW, 300)
    with pytest.raises(AuthError, match="does not match"):
        verify_signature(SECRET + "x", headers, BODY, NOW, 300)


def test_signed_orders_need_a_configured_secret() -> None:
    with pytest.raises(AuthError, match="not enabled"):
        verify_signature(None, signed_headers(SECRET, BODY, NOW), BODY, NOW, 300)


def test_bearer_token_comparison() -> None:
    assert bearer_ok("tok", "Bearer tok")
    assert bearer_ok("tok", "bearer tok")
    assert not bearer_ok("tok", "Bearer tok2")
    assert not bearer_ok("tok", "Basic tok")
    assert not bearer_ok(None, "Bearer tok")
    assert not bearer_ok("tok", None)


def test_a_bad_signature_is_not_rescued_by_a_good_token(tmp_path: Path) -> None:
    s = settings(tmp_path)
    headers = {
        "X-Litemaas-Signature": "sha256=00",
        "X-Litemaas-Timestamp": str(int(NOW)),
        "Authorization": "Bearer token-token-token!",
    }
    with pytest.raises(AuthError):
        authenticate_order(s, headers, BODY, NOW)
    assert authenticate_order(s, {"Authorization": "Bearer token-token-token!"}, BODY, NOW) == (
        "bearer"
    )
    assert authenticate_order(s, signed_headers(SECRET, BODY, NOW), BODY, NOW) == "hmac"
    with pytest.raises(AuthError, match="sign the order"):
        authenticate_order(replace(s), {}, BODY, NOW)
