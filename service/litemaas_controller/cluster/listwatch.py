"""List, then watch from the list's resourceVersion: one kind, in one namespace or all, in a thread.

client-go's reflector, on the ``kubernetes`` client's own machinery (``kubernetes.watch.Watch``,
``ApiException``):

- the first list, and a relist, hand the whole set to ``on_list``; every watch event after it goes
  to ``on_event``; bookmarks (``allowWatchBookmarks``) only move the resourceVersion on;
- a watch the server ends (its ``timeoutSeconds``) resumes from the last resourceVersion; so does
  a dropped stream, and one silent for longer than the server's timeout plus ``SILENCE`` (the
  read timeout notices it);
- 410 Gone (the resourceVersion was compacted away) relists: never a resume from a guess;
- 429 and 5xx back off exponentially with jitter, at least as long as ``Retry-After`` says;
- every ``resync`` seconds the set is listed again, which catches what a missed event would hide.

The client is synchronous: ``run`` blocks, so it runs in a thread of its own; ``stop`` ends it
from any thread (it closes the stream's socket).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kubernetes.client.exceptions import ApiException
from kubernetes.watch import Watch
from urllib3.exceptions import HTTPError

from litemaas_controller.cluster.client import REQUEST_TIMEOUT

log = logging.getLogger(__name__)

Obj = Mapping[str, Any]
#: a list call of the API (``label_selector`` and the watch arguments are added)
ListCall = Callable[..., Any]

MAX_WATCH = 300.0  # longest server-side watch before it is renewed
SILENCE = 30.0  # beyond the server's timeout: a stream that says nothing for longer is dead
BACKOFF_BASE = 0.5
BACKOFF_CAP = 10.0  # one kube-apiserver restarting is back in seconds; 429 says how long itself


class Hooks(Protocol):
    """What a stream reports besides its objects (metrics, logs)."""

    def restarted(self, stream: str, why: str) -> None: ...

    def relisted(self, stream: str, why: str) -> None: ...


@dataclass(frozen=True)
class Target:
    name: str  # shown in logs and metrics: the kind, and the namespace when there is one
    call: ListCall
    selector: str


def backoff(failures: int, retry_after: float = 0.0) -> float:
    """Exponential with full jitter, never below what the server asked for."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** min(failures, 16))
    return max(retry_after, random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter, not crypto


def retry_after(exc: ApiException) -> float:
    raw = exc.headers.get("Retry-After") if exc.headers else None
    return float(raw) if raw and raw.isdigit() else 0.0


class ListWatch:
    def __init__(
        self,
        target: Target,
        on_list: Callable[[Sequence[Obj]], None],
        on_event: Callable[[str, Obj], None],
        hooks: Hooks,
        resync: float,
    ) -> None:
        self.target = target
        self._on_list = on_list
        self._on_event = on_event
        self._hooks = hooks
        self._resync = resync
        self._stopped = threading.Event()
        self._watch: Watch | None = None

    def stop(self) -> None:
        """End ``run`` soon; may be called again (a stream only just opened is closed then)."""
        self._stopped.set()
        watch = self._watch
        if watch is not None:
            watch.stop()  # type: ignore[no-untyped-call]

    def run(self) -> None:
        """List and watch until stopped; never raises for what the cluster does."""
        version: str | None = None
        listed_at = 0.0
        failures = 0
        while not self._stopped.is_set():
            try:
                if version is None or time.monotonic() - listed_at >= self._resync:
                    if version is not None:
                        self._hooks.relisted(self.target.name, "resync")
                    version, listed_at = self._list(), time.monotonic()
                version = self._watch_from(version, listed_at + self._resync)
                failures = 0
            except ApiException as exc:
                if exc.status == 410:
                    self._hooks.relisted(self.target.name, "gone")
                    version = None
                    continue
                failures += 1
                self._failed(f"{exc.status} {exc.reason}", backoff(failures, retry_after(exc)))
            except (HTTPError, OSError, ValueError, KeyError) as exc:
                # a dropped or silent stream, an unreachable server, or an answer that is not a
                # list or an event: resume from `version`
                failures += 1
                self._failed(type(exc).__name__, backoff(failures))

    def _failed(self, why: str, delay: float) -> None:
        if self._stopped.is_set():
            return
        self._hooks.restarted(self.target.name, why)
        log.warning("watch of %s: %s; again in %.1fs", self.target.name, why, delay)
        self._stopped.wait(delay)

    def _list(self) -> str:
        response = self.target.call(
            label_selector=self.target.selector,
            _preload_content=False,
            _request_timeout=REQUEST_TIMEOUT,
        )
        body = json.loads(response.data)
        self._on_list(body.get("items") or [])
        return str(body["metadata"]["resourceVersion"])

    def _watch_from(self, version: str, resync_at: float) -> str:
        timeout = max(1, int(min(MAX_WATCH, resync_at - time.monotonic()) * random.uniform(0.9, 1)))  # noqa: S311
        self._watch = watch = Watch()  # type: ignore[no-untyped-call]
        if self._stopped.is_set():  # ``stop`` came before there was a stream to close
            return version
        try:
            for event in watch.stream(  # type: ignore[no-untyped-call]
                self.target.call,
                label_selector=self.target.selector,
                resource_version=version,
                allow_watch_bookmarks=True,
                timeout_seconds=timeout,
                _request_timeout=(REQUEST_TIMEOUT, timeout + SILENCE),
            ):
                obj = event["raw_object"]
                version = str(obj["metadata"]["resourceVersion"])
                if event["type"] != "BOOKMARK":
                    self._on_event(event["type"], obj)
                if self._stopped.is_set():
                    break
        finally:
            self._watch = None
        return version
