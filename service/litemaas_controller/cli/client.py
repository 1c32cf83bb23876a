"""A small HTTP client for the CLI (stdlib only): signs orders, reads problems, follows SSE."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from litemaas_controller.errors import AuthError, BadInputError, ControllerError
from litemaas_controller.intake.auth import signed_headers


class ApiError(ControllerError):
    """The service answered with a problem document."""

    kind = "api"

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(str(problem.get("detail") or problem), details=problem)
        self.status = status


@dataclass(frozen=True)
class Client:
    url: str
    token: str | None = None
    secret: str | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        # urllib also opens file: and ftp: URLs; the service is only ever http(s)
        if not self.url.startswith(("http://", "https://")):
            raise BadInputError(f"--url must be an http:// or https:// URL, got {self.url!r}")

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> urllib.request.Request:
        all_headers = dict(headers or {})
        if self.token and "X-Litemaas-Signature" not in all_headers:
            all_headers["Authorization"] = f"Bearer {self.token}"
        if body is not None:
            all_headers["Content-Type"] = "application/json"
        url = self.url.rstrip("/") + path
        return urllib.request.Request(url, body, all_headers, method=method)  # noqa: S310

    def _open(self, request: urllib.request.Request, timeout: float | None) -> Any:
        try:
            return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            try:
                problem = json.loads(text)
            except json.JSONDecodeError:
                problem = {"detail": text or exc.reason}
            raise ApiError(exc.code, problem) from exc
        except urllib.error.URLError as exc:
            raise ControllerError(f"cannot reach {self.url}: {exc.reason}") from exc

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        with self._open(self._request(method, path, body, headers), self.timeout) as response:
            return response.status, json.loads(response.read() or b"null")

    def submit(self, order: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """POST the order: HMAC-signed when a webhook secret is known, else with the token."""
        body = json.dumps(order).encode()
        if self.secret:
            headers = signed_headers(self.secret, body, time.time())
        elif self.token:
            headers = {}
        else:
            raise AuthError("set LITEMAAS_WEBHOOK_SECRET (to sign) or LITEMAAS_API_TOKEN")
        status, record = self.call("POST", "/api/v1/orders", body, headers)
        return status, record

    def get(self, path: str) -> Any:
        return self.call("GET", path)[1]

    def items(self, path: str, chunk: int | None = None) -> Iterator[Any]:
        """Every item of a paged list, page after page (``chunk`` items a request), to its end."""
        sep = "&" if "?" in path else "?"
        first = f"{path}{sep}limit={chunk}" if chunk else path
        page = self.get(first)
        yield from page["items"]
        while page.get("next"):
            sep = "&" if "?" in first else "?"
            page = self.get(f"{first}{sep}cursor={urllib.parse.quote(page['next'])}")
            yield from page["items"]

    def follow(self, path: str) -> Iterator[tuple[str, Any]]:
        """Server-sent events of ``path`` as (event, data) until the server ends the stream."""
        sep = "&" if "?" in path else "?"
        request = self._request("GET", f"{path}{sep}follow=1")
        with self._open(request, None) as response:
            kind, data = "message", []
            for raw in response:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                if line.startswith("event:"):
                    kind = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif not line and data:
                    yield kind, json.loads("\n".join(data))
                    kind, data = "message", []
