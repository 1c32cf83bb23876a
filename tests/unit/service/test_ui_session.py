"""The status page's session cookie: signed with a key derived from the API token, expiring."""

from __future__ import annotations

import pytest

from litemaas_controller.ui.session import SessionSigner

pytestmark = pytest.mark.unit

TOKEN = "tok-unit-0123456789abcdef"


def test_a_cookie_is_valid_until_it_expires_and_on_every_replica_with_the_same_token() -> None:
    cookie = SessionSigner(TOKEN, 60).issue(1000.0)
    replica = SessionSigner(TOKEN, 60)
    assert replica.valid(cookie, 1000.0) and replica.valid(cookie, 1059.0)
    assert not replica.valid(cookie, 1060.0)


@pytest.mark.parametrize(
    "forge",
    [
        lambda c: c.replace("v1.", "v2.", 1),
        lambda c: c[:-1] + ("0" if c[-1] != "0" else "1"),
        lambda c: c.replace(".1060.", ".9999.", 1),
        lambda c: c + "0",
        lambda c: c.upper(),
        lambda c: " " + c,
        lambda c: "",
    ],
)
def test_a_tampered_cookie_is_refused(forge: object) -> None:
    signer = SessionSigner(TOKEN, 60)
    cookie = signer.issue(1000.0)
    assert cookie.startswith("v1.1060.")
    assert not signer.valid(forge(cookie), 1000.0)  # type: ignore[operator]


def test_another_token_makes_another_key_and_no_token_no_sessions() -> None:
    cookie = SessionSigner(TOKEN, 60).issue(1000.0)
    assert not SessionSigner(TOKEN + "x", 60).valid(cookie, 1000.0)
    nobody = SessionSigner(None, 60)
    assert not nobody.enabled and not nobody.valid(cookie, 1000.0)
    assert not nobody.token_matches("")


def test_only_the_api_token_itself_matches_and_the_cookie_does_not_hold_it() -> None:
    signer = SessionSigner(TOKEN, 60)
    assert signer.token_matches(TOKEN)
    assert not signer.token_matches(TOKEN[:-1]) and not signer.token_matches(TOKEN + " ")
    assert TOKEN not in signer.issue(0.0)
