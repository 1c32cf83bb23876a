"""Defensive redaction of everything a run reports before it reaches the ledger.

Secrets travel by reference, so a run should never print one; this is the second line: known
secret values (the service's own, proxy credentials), ``sk-…`` API keys and ``name=value`` pairs
whose name looks secret are masked in every string that is kept.  A quoted value is masked up to
its closing quote and a plain one up to the end of the line or the next ``name:`` pair, so a
value with spaces or commas is masked whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

MASK = "********"

_PAIR = re.compile(
    r"""(?ix)
    (?<![\w.-])  # only where a name starts: a long word is scanned once, not once per letter
    (?P<name>[\w.-]*(?:password|passwd|secret|token|api[_-]?key|master[_-]?key)[\w.-]*)
    (?P<sep>["']?\s*[:=]\s*)
    (?:
        (?P<quote>["'])(?:\\.|(?P=quote){2}|(?!(?P=quote)).)*(?P=quote)
      | (?![\[{\s])(?:(?!,\s*["']?[\w.-]+["']?\s*[:=]).)+  # a map or list is no value
    )
    """
)
#: LiteLLM's keys (master and virtual): ``sk-`` and a token, wherever they appear
_SK_TOKEN = re.compile(r"(?<![\w-])sk-[A-Za-z0-9_-]{6,}")
_URL_CREDENTIALS = re.compile(
    r"(?i)(?<![a-z0-9+.-])(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<cred>[^/@\s:]+:[^/@\s]+)@"
)
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")


def proxy_credentials(urls: Iterable[str]) -> list[str]:
    """The user:password parts of proxy URLs, to be masked wherever they show up."""
    found = []
    for url in urls:
        parts = urlsplit(url)
        if parts.password:
            found.append(parts.password)
        if parts.username and parts.password:
            found.append(f"{parts.username}:{parts.password}")
    return found


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # longest first, so a secret that contains another is masked whole
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def text(self, value: str) -> str:
        for secret in self._secrets:
            value = value.replace(secret, MASK)
        value = _URL_CREDENTIALS.sub(rf"\g<scheme>{MASK}@", value)
        value = _BEARER.sub(rf"\g<1>{MASK}", value)
        value = _SK_TOKEN.sub(MASK, value)
        return _PAIR.sub(_mask_pair, value)

    def value(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value


def _mask_pair(match: re.Match[str]) -> str:
    quote = match["quote"] or ""
    return f"{match['name']}{match['sep']}{quote}{MASK}{quote}"
