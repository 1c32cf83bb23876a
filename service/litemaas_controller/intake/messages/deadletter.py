"""The dead-letter entry: why a message was given up, and the message as far as it is safe.

The original ``id``, ``type`` and ``instance`` are copied when they are well-formed; the ``body``
only when the message passed validation (a conflict, a failed run): a body refused by its schema
may hold a key where a Secret's name belongs.  Anything else is withheld (``withheld`` names the
fields), so a dead letter never repeats a secret a producer sent by mistake.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from litemaas_controller.errors import MalformedError
from litemaas_controller.intake.messages.parse import parse_body, secret_free
from litemaas_controller.intake.schema import ID_PATTERN, INSTANCE_PATTERN

_PATTERNS = {"id": ID_PATTERN, "instance": INSTANCE_PATTERN, "type": r"^[a-z_]{1,32}\.[a-z]{1,16}$"}


@dataclass(frozen=True)
class DeadLetter:
    entry_id: str  # the original entry's id on the message stream
    kind: str  # malformed, invalid, conflict, failed, cancelled
    reason: str
    deliveries: int
    valid: bool  # the message passed validation: its body may be copied


def _matches(name: str, value: str) -> bool:
    return re.fullmatch(_PATTERNS[name], value) is not None


def _copyable(name: str, value: str, valid: bool) -> bool:
    if name in _PATTERNS:
        return _matches(name, value)
    return name == "body" and valid and _safe_body(value)


def _safe_body(text: str) -> bool:
    try:
        return secret_free(parse_body(text))
    except MalformedError:
        return False  # unreadable: it cannot be checked, so it is not copied


def fields(letter: DeadLetter, original: Mapping[bytes, bytes], consumer: str) -> dict[str, str]:
    """The fields of the dead-letter entry."""
    out = {
        "entry_id": letter.entry_id,
        "kind": letter.kind,
        "reason": letter.reason,
        "deliveries": str(letter.deliveries),
        "consumer": consumer,
        "dead_at": f"{time.time():.3f}",
    }
    withheld = []
    for raw_name, raw_value in original.items():
        name = raw_name.decode(errors="replace")
        value = raw_value.decode(errors="replace")
        if _copyable(name, value, letter.valid):
            out[name] = value
        else:
            withheld.append(name if name.isprintable() and len(name) <= 64 else "(a field)")
    if withheld:
        out["withheld"] = ",".join(sorted(withheld))
    return out
