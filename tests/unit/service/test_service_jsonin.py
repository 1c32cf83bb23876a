"""Strict JSON from outside: every kind of unacceptable document is refused with a safe reason."""

from __future__ import annotations

import json

import pytest

from litemaas_controller.errors import MalformedError
from litemaas_controller.intake import jsonin

pytestmark = pytest.mark.unit

CANARY = "sk-canary-4e1a7c93"

#: (case, raw bytes, words of the reason); each one once gave 500 or was silently accepted
REFUSED: list[tuple[str, bytes, str]] = [
    ("a 5,000-digit integer", b'{"n": ' + b"9" * 5000 + b"}", "more than 19 digits"),
    ("a 20-digit integer", b'{"n": -12345678901234567890}', "more than 19 digits"),
    ("2,000 nested arrays", b"[" * 2000 + b"]" * 2000, "deeper than 32"),
    ("33 nested arrays", b"[" * 33 + b"]" * 33, "deeper than 32"),
    ("NaN", b'{"n": NaN}', "NaN"),
    ("Infinity", b'{"n": Infinity}', "NaN, Infinity"),
    ("-Infinity", b"[-Infinity]", "NaN, Infinity"),
    ("a float past a double", b"[1e999]", "finite"),
    ("a duplicate key", b'{"action": "provision", "action": "destroy"}', "same key twice"),
    ("a lone surrogate in a value", b'{"v": "\\ud800"}', "lone surrogate"),
    ("a lone surrogate in a key", b'{"\\udfff": 1}', "lone surrogate"),
    ("a lone surrogate in a list", b'["ok", ["\\ud83d"]]', "lone surrogate"),
    ("a byte-order mark", b'\xef\xbb\xbf{"n": 1}', "byte-order mark"),
    ("UTF-16", '{"n": 1}'.encode("utf-16"), "not UTF-8"),
    ("Latin-1 bytes", b'{"n": "caf\xe9"}', "not UTF-8"),
    ("an encoded surrogate", b'{"n": "\xed\xa0\x80"}', "not UTF-8"),
    ("not JSON", b'{"n": ', "not valid JSON"),
]


@pytest.mark.parametrize(("case", "raw", "words"), REFUSED, ids=[c for c, _, _ in REFUSED])
def test_unacceptable_json_is_refused_with_a_reason(case: str, raw: bytes, words: str) -> None:
    with pytest.raises(MalformedError) as refused:
        jsonin.loads(raw)
    assert words in refused.value.message, case


def test_the_reason_never_quotes_the_input() -> None:
    for raw in (b'{"%s": 1, "%s": 2}', b'["%s", NaN]', b'{"%s": "\\ud800"}', b'{"%s": '):
        with pytest.raises(MalformedError) as refused:
            jsonin.loads(raw.replace(b"%s", CANARY.encode()))
        assert CANARY not in refused.value.message


def test_acceptable_json_reads_as_the_standard_decoder_reads_it() -> None:
    doc = {
        "deep": json.loads("[" * 31 + "]" * 31),
        "n": [-(2**63), 2**63 - 1, 1.5e300, 0],
        "text": "meta-llama/Llama-3-8B-Instruct \u00e9 \U0001f600 [{not a bracket}]",
    }
    raw = json.dumps(doc).encode()
    assert b"\\ud83d\\ude00" in raw  # an escaped surrogate pair is one character, not two
    assert jsonin.loads(raw) == json.loads(raw) == doc
    assert jsonin.loads(raw.decode()) == doc  # text as well as bytes
