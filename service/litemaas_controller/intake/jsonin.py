"""Strict JSON for everything that comes from outside (order bodies, message bodies).

Python's ``json`` accepts more than the controller can keep: integers of any size (past 4,300
digits ``int`` itself raises ``ValueError``), ``NaN`` and ``Infinity``, duplicate keys (the last one
wins), lone surrogates, and nesting deep enough to make it, or any later walk of the document,
raise ``RecursionError``.  ``loads`` refuses each of these with a ``MalformedError`` whose message
names the rule and never quotes the input, so it is safe to show to the sender.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from litemaas_controller.errors import MalformedError

#: deepest nesting of arrays and objects accepted (the document itself is level 1)
MAX_DEPTH = 32
#: most digits of an integer (a signed 64-bit integer has at most 19)
MAX_INT_DIGITS = 19

_BOM = "\ufeff"
#: a string literal (skipped whole) or one bracket; what the depth scan looks at
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


def loads(data: bytes | str, what: str = "the body") -> Any:
    """``data`` decoded as strict JSON; ``MalformedError`` saying which rule it breaks."""
    text = _text(data, what)
    _check_depth(text, what)
    try:
        doc = json.loads(
            text,
            object_pairs_hook=_object,
            parse_int=_int,
            parse_float=_float,
            parse_constant=_constant,
        )
    except json.JSONDecodeError as exc:
        # the position only: the decoder's message never quotes the text
        raise MalformedError(
            f"{what} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    except _Refused as exc:
        raise MalformedError(f"{what} is not acceptable JSON: {exc}") from None
    if any(_has_surrogate(s) for s in _strings(doc)):
        raise MalformedError(f"{what} is not acceptable JSON: a string holds a lone surrogate")
    return doc


class _Refused(ValueError):
    """Raised inside the decoder's hooks; ``loads`` turns it into ``MalformedError``."""


def _text(data: bytes | str, what: str) -> str:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")  # strict: never another encoding, never a guess
        except UnicodeDecodeError:
            raise MalformedError(f"{what} is not UTF-8 text") from None
    if data.startswith(_BOM):
        raise MalformedError(f"{what} starts with a byte-order mark; send UTF-8 without one")
    return data


def _check_depth(text: str, what: str) -> None:
    """Refuse nesting past ``MAX_DEPTH`` before decoding: nothing recurses on the way."""
    depth = 0
    for token in _TOKENS.finditer(text):
        bracket = token.group()
        if bracket in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise MalformedError(
                    f"{what} nests arrays and objects deeper than {MAX_DEPTH} levels"
                )
        elif bracket in "]}":
            depth -= 1


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        raise _Refused("an object has the same key twice")
    return doc


def _int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"an integer has more than {MAX_INT_DIGITS} digits")
    return int(digits)


def _float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise _Refused("a number is too large to be a finite double")
    return value


def _constant(name: str) -> Any:
    raise _Refused("NaN, Infinity and -Infinity are not JSON")


def _strings(doc: Any) -> Iterator[str]:
    """Every key and string value (recursion is bounded: the depth was checked)."""
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for key, value in doc.items():
            yield key
            yield from _strings(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from _strings(value)


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
