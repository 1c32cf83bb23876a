"""Defensive redaction of what runs print."""

from __future__ import annotations

import pytest

from litemaas_controller.runner.redact import MASK, Redactor, proxy_credentials

pytestmark = pytest.mark.unit


def test_known_values_are_masked_everywhere() -> None:
    r = Redactor(["hunter2-hunter2"])
    assert r.text("pw is hunter2-hunter2!") == f"pw is {MASK}!"
    assert r.value({"a": ["x hunter2-hunter2"], "n": 3}) == {"a": [f"x {MASK}"], "n": 3}


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("POSTGRES_PASSWORD=abc123", "abc123"),
        ('"api_key": "sk-1234"', "sk-1234"),
        ("master_key: sk-zzz", "sk-zzz"),
        ("https://user:pa55@proxy:3128", "pa55"),
        ("Authorization: Bearer abcdefghijkl", "abcdefghijkl"),
    ],
)
def test_secret_looking_pairs_are_masked(text: str, hidden: str) -> None:
    assert hidden not in Redactor([]).text(text)


def test_harmless_text_is_kept() -> None:
    text = "TASK [Create the namespace] ok: [localhost] credentials_secret litellm-secret"
    assert Redactor([]).text(text) == text


def test_proxy_credentials_are_collected() -> None:
    found = proxy_credentials(["http://u:p4ss@h:1", "http://h:2"])
    assert "p4ss" in found and "u:p4ss" in found
