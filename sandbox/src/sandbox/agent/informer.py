"""List-then-watch caches and a delaying work queue: the kubelet-side half of a controller."""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from urllib3.exceptions import HTTPError

from .kube import Kube, KubeError, Obj

log = logging.getLogger("sandbox.agent")


def key_of(obj: Obj) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace', '')}/{meta['name']}"


class Informer:
    """Keeps every object under `path` in memory and calls `on_change(key)` when one changes."""

    def __init__(self, kube: Kube, path: str, on_change: Callable[[str], None]) -> None:
        self.kube, self.path, self.on_change = kube, path, on_change
        self.cache: dict[str, Obj] = {}
        self.synced = threading.Event()
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def get(self, key: str) -> Obj | None:
        with self._lock:
            return self.cache.get(key)

    def items(self) -> list[Obj]:
        with self._lock:
            return list(self.cache.values())

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                rv = self._relist()
                self.synced.set()
                for event in self.kube.watch(self.path, rv):
                    if self._stop.is_set():
                        return
                    if not self._apply(event):
                        break
            except (KubeError, HTTPError, OSError, ValueError) as exc:
                if self._stop.is_set():
                    return
                log.debug("watch %s: %s; relisting", self.path, exc)
                self._stop.wait(0.5)

    def _relist(self) -> str:
        listing = self.kube.list(self.path)
        # Items of a list carry no kind or apiVersion; watch events do. Make the cache uniform.
        kind = str(listing.get("kind", "")).removesuffix("List")
        for item in listing.get("items", []):
            item.setdefault("kind", kind)
            item.setdefault("apiVersion", listing.get("apiVersion"))
        fresh = {key_of(o): o for o in listing.get("items", [])}
        with self._lock:
            gone = set(self.cache) - set(fresh)
            self.cache = fresh
        for key in list(fresh) + list(gone):
            self.on_change(key)
        return str(listing["metadata"]["resourceVersion"])

    def _apply(self, event: dict[str, Any]) -> bool:
        kind, obj = event.get("type"), event.get("object", {})
        if kind == "ERROR":  # usually 410 Gone: the resourceVersion is too old
            return False
        if kind == "BOOKMARK":
            return True
        key = key_of(obj)
        with self._lock:
            if kind == "DELETED":
                self.cache.pop(key, None)
            else:
                self.cache[key] = obj
        self.on_change(key)
        return True

    def stop(self) -> None:
        self._stop.set()


class WorkQueue:
    """Keys to reconcile, each at most once in the queue, optionally after a delay."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, str]] = []
        self._due: dict[str, float] = {}
        self._closed = False

    def add(self, key: str, delay: float = 0.0) -> None:
        at = time.monotonic() + delay
        with self._cond:
            if key in self._due and self._due[key] <= at:
                return
            self._due[key] = at
            heapq.heappush(self._heap, (at, key))
            self._cond.notify()

    def get(self) -> str | None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
                    heapq.heappop(self._heap)  # superseded by an earlier add
                if self._heap and self._heap[0][0] <= now:
                    _, key = heapq.heappop(self._heap)
                    del self._due[key]
                    return key
                wait = self._heap[0][0] - now if self._heap else None
                self._cond.wait(wait)
            return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
