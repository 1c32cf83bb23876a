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


@pytest.mark.parametrize(
    "text",
    [
        "virtual key sk-Xa9_k2LmQ7pR4tVw8yZ1bC issued",
        "'key': 'sk-abcdefgh12'",
        "ok: [localhost] => (item=sk-1234567890abcdef)",
    ],
)
def test_sk_shaped_tokens_are_masked_anywhere(text: str) -> None:
    masked = Redactor([]).text(text)
    assert "sk-" not in masked and MASK in masked


@pytest.mark.parametrize(
    ("text", "hidden", "kept"),
    [
        ('{"password": "two words, and a comma", "user": "bob"}', "two words", '"user": "bob"'),
        ("{'db_password': 'it''s, quoted'}", "s, quoted", "{'db_password': '"),
        ("ui_password: correct horse, battery staple", "battery", "ui_password: "),
        ("PGPASSWORD=a b,c next=1", "b,c", "PGPASSWORD="),
        ('token: "esc\\"aped, value" rest', "aped", " rest"),
    ],
)
def test_values_with_spaces_or_commas_are_masked_whole(text: str, hidden: str, kept: str) -> None:
    masked = Redactor([]).text(text)
    assert hidden not in masked and kept in masked


def test_a_secret_named_reference_map_is_kept_for_its_inner_pairs() -> None:
    text = '"api_key_secret": {"name": "upstream", "key": "token"}'
    assert Redactor([]).text(text) == text


def test_harmless_text_is_kept() -> None:
    text = "TASK [Create the namespace] ok: [localhost] credentials_secret litellm-secret"
    assert Redactor([]).text(text) == text


def test_proxy_credentials_are_collected() -> None:
    found = proxy_credentials(["http://u:p4ss@h:1", "http://h:2"])
    assert "p4ss" in found and "u:p4ss" in found
